/**
 * The per-request cost of metrics: admits and releases `n` requests on one
 * controller, bare or with a collector attached. Run it under callgrind at two
 * values of `n`; the difference of the instruction counts divided by the
 * difference of `n` is the cost per request, start-up and JIT warm-up cancelled
 * (see README, "Cost").
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *     node --import tsx packages/prometheus/bench/collector-cost.ts prometheus 20000
 */
import { createAdmissionController } from '@spillway/core'
import { collectMetrics as collectOtel } from '@spillway/opentelemetry'
import { collectMetrics } from '@spillway/prometheus'
import { Registry } from 'prom-client'

const MODES = ['none', 'prometheus', 'opentelemetry-noop'] as const
const mode = process.argv[2] as (typeof MODES)[number]
const n = Number(process.argv[3] ?? 20_000)
if (!MODES.includes(mode) || !Number.isInteger(n) || n <= 0) {
  throw new Error(`usage: collector-cost.ts <${MODES.join('|')}> <requests>`)
}

const controller = createAdmissionController({ limit: 1000, queue: { size: 0 } })
if (mode === 'prometheus') collectMetrics(controller, { registry: new Registry(), name: 'bench' })
if (mode === 'opentelemetry-noop') {
  // No SDK registered: the API's global meter provider is the no-op one.
  collectOtel(controller, { name: 'bench' })
}
const priorities = ['critical', 'normal', 'sheddable']
let admitted = 0
for (let i = 0; i < n; i++) {
  const decision = controller.admit({ priority: priorities[i % 3] })
  if (decision instanceof Promise || !decision.admitted) throw new Error('expected an admission')
  decision.permit.release()
  admitted++
}
process.stdout.write(`${mode} ${admitted}\n`)
