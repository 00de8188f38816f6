/**
 * Micro-benchmark: the cost of one admission decision, beside p-limit, in one
 * process and one run (ratios are what to read; the machine is shared).
 *
 *   npx tsx packages/core/bench/admit.bench.ts [--rounds 7] [--ops 200000]
 *
 * Each case runs `ops` operations per round, rounds interleaved so that noise
 * hits every case alike; the median round is reported in ns per operation.
 */
import pLimit from 'p-limit'
import { createAdmissionController, type Permit } from '../src/index.js'

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  const value = i === -1 ? Number.NaN : Number(process.argv[i + 1])
  return Number.isFinite(value) && value > 0 ? Math.floor(value) : fallback
}

const rounds = arg('rounds', 7)
const ops = arg('ops', 200_000)

type Case = { name: string; run: (n: number) => void | Promise<void> }

// Free path: a slot is always available.
const free = createAdmissionController({ limit: 64 })
// Saturated: the only slot is held, queueing is off, so every call is a rejection.
const saturated = createAdmissionController({ limit: 1, queue: { size: 0 } })
const held = saturated.tryAcquire() as Permit
// Saturated with a full queue: rejections also compute Retry-After from a backlog.
const fullQueue = createAdmissionController({ limit: 1, queue: { size: 16 } })
fullQueue.tryAcquire()
for (let i = 0; i < 16; i++) void fullQueue.acquire()

const limit = pLimit(64)
const noop = (): undefined => undefined

let sink = 0
const cases: Case[] = [
  {
    name: 'spillway tryAcquire + release (sync)',
    run(n) {
      for (let i = 0; i < n; i++) (free.tryAcquire() as Permit).release()
    },
  },
  {
    name: 'spillway admit + release (sync decision)',
    run(n) {
      for (let i = 0; i < n; i++) {
        const d = free.admit()
        if (!(d instanceof Promise) && d.admitted) d.permit.release()
      }
    },
  },
  {
    name: 'spillway await acquire + release',
    async run(n) {
      for (let i = 0; i < n; i++) {
        const d = await free.acquire()
        if (d.admitted) d.permit.release()
      }
    },
  },
  {
    name: 'p-limit await limit(fn) (free slot)',
    async run(n) {
      for (let i = 0; i < n; i++) await limit(noop)
    },
  },
  {
    name: 'spillway rejection, saturated, no queue',
    run(n) {
      for (let i = 0; i < n; i++) {
        const d = saturated.admit()
        if (!(d instanceof Promise) && !d.admitted) sink += d.rejection.retryAfterSeconds
      }
    },
  },
  {
    name: 'spillway rejection, saturated, full queue',
    run(n) {
      for (let i = 0; i < n; i++) {
        const d = fullQueue.admit({ priority: 'sheddable' })
        if (!(d instanceof Promise) && !d.admitted) sink += d.rejection.retryAfterSeconds
      }
    },
  },
]

async function measure(c: Case, n: number): Promise<number> {
  const start = process.hrtime.bigint()
  await c.run(n)
  return Number(process.hrtime.bigint() - start) / n
}

async function main(): Promise<void> {
  for (const c of cases) await measure(c, Math.min(ops, 20_000)) // warm-up: let the JIT settle
  const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]))
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) samples.get(c.name)?.push(await measure(c, ops))
  }
  const median = (xs: number[]): number => {
    const sorted = [...xs].sort((a, b) => a - b)
    return sorted[Math.floor(sorted.length / 2)] as number
  }
  const baseline = median(samples.get('p-limit await limit(fn) (free slot)') as number[])
  console.log(`node ${process.version}, ${rounds} rounds × ${ops} ops, median ns/op`)
  console.log('| case | ns/op | vs p-limit |')
  console.log('| --- | ---: | ---: |')
  for (const c of cases) {
    const ns = median(samples.get(c.name) as number[])
    console.log(`| ${c.name} | ${ns.toFixed(0)} | ${(ns / baseline).toFixed(2)}× |`)
  }
  held.release()
  saturated.close()
  fullQueue.close()
  if (sink < 0) console.log(sink)
}

void main()
