/**
 * The per-request cost of metrics: admits and releases `n` requests on one
 * controller, bare or with a collector attached, on the built packages (what
 * users run; `pnpm run build` first). Run it under callgrind at two values of
 * `n`: the difference of the instruction counts divided by the difference of
 * `n` is the cost per request, start-up and JIT warm-up cancelled.
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *     node --predictable packages/prometheus/bench/collector-cost.mjs prometheus 20000
 */

import { Registry } from 'prom-client'
import { createAdmissionController } from '../../core/dist/index.js'
import { collectMetrics as collectOtel } from '../../opentelemetry/dist/index.js'
import { collectMetrics } from '../dist/index.js'

const MODES = ['none', 'prometheus', 'opentelemetry-noop']
const mode = process.argv[2]
const n = Number(process.argv[3] ?? 20_000)
if (!MODES.includes(mode) || !Number.isInteger(n) || n <= 0) {
  throw new Error(`usage: collector-cost.mjs <${MODES.join('|')}> <requests>`)
}

const controller = createAdmissionController({ limit: 1000, queue: { size: 0 } })
if (mode === 'prometheus') collectMetrics(controller, { registry: new Registry(), name: 'bench' })
// No SDK registered: the API's global meter provider is the no-op one.
if (mode === 'opentelemetry-noop') collectOtel(controller, { name: 'bench' })
const priorities = ['critical', 'normal', 'sheddable']
let admitted = 0
for (let i = 0; i < n; i++) {
  const decision = controller.admit({ priority: priorities[i % 3] })
  if (decision instanceof Promise || !decision.admitted) throw new Error('expected an admission')
  decision.permit.release()
  admitted++
}
process.stdout.write(`${mode} ${admitted}\n`)
