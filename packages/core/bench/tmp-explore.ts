import { createLimit } from '../src/limit/index.js'
import { settle, simulate } from '../test/limit/simulation.js'

const spec = JSON.parse(process.argv[2] ?? '{}')
const sim = JSON.parse(process.argv[3] ?? '{}')
const algorithm = createLimit(spec)
const trace = simulate({
  algorithm,
  phases: [
    { durationMs: 10000, capacity: 40 },
    { durationMs: 10000, capacity: 20 },
    { durationMs: 10000, capacity: 40 },
  ],
  ...sim,
})
for (let p = 0; p < 3; p++)
  console.log(p, JSON.stringify(settle(trace, p)), trace.throughputPerSecond[p]?.toFixed(0))
const step = Math.floor(trace.points.length / 30)
console.log(
  trace.points
    .filter((_, i) => i % step === 0)
    .map((p) => `${(p.timeMs / 1000).toFixed(1)}:${p.limit}`)
    .join(' '),
)
