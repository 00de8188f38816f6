/** Sentences comparing runs, against the targets; figures, never verdicts without them. */
import type { RunResult } from '../harness/run.js'
import { mb, ms, pct, rate } from '../report/format.js'

const ok = (pass: boolean): string => (pass ? 'met' : 'MISSED')

/**
 * Findings for a protected run against the unprotected one under the same load.
 * `unloadedP99Ms`, when measured, checks "p99 within 2× unloaded p99 + queue timeout".
 */
export function overloadFindings(
  protectedRun: RunResult,
  unprotected: RunResult | undefined,
  queueTimeoutMs: number,
  unloadedP99Ms?: number | null,
): string[] {
  const p = protectedRun.summary
  const out: string[] = []
  const name = protectedRun.label
  if (p.goodputOfCapacity !== null) {
    out.push(
      `${name}: goodput ${rate(p.goodputPerSecond)} = ${pct(p.goodputOfCapacity)} of the nominal capacity ` +
        `${rate(protectedRun.capacityPerSecond)} (target ≥ 95%: ${ok(p.goodputOfCapacity >= 0.95)}).`,
    )
  }
  if (unloadedP99Ms !== undefined && unloadedP99Ms !== null && p.latencyOk.p99 !== null) {
    const bound = 2 * unloadedP99Ms + queueTimeoutMs
    out.push(
      `${name}: p99 of served requests ${ms(p.latencyOk.p99)}; bound 2 × unloaded p99 (${ms(unloadedP99Ms)}) + queue timeout ` +
        `(${queueTimeoutMs} ms) = ${ms(bound)} (${ok(p.latencyOk.p99 <= bound)}).`,
    )
  }
  const immediate = p.latencyRejectedImmediate
  if (immediate !== null && immediate.p99 !== null) {
    out.push(
      `${name}: rejections decided on arrival answered with p99 ${ms(immediate.p99)} (target < 5 ms: ${ok(immediate.p99 < 5)}); ` +
        `all rejections, including those that first waited in the queue: p99 ${ms(p.latencyRejected.p99)}.`,
    )
  } else if (p.latencyRejected.p99 !== null) {
    out.push(
      `${name}: rejections answered with p99 ${ms(p.latencyRejected.p99)} (target < 5 ms: ${ok(p.latencyRejected.p99 < 5)}).`,
    )
  }
  if (p.rssGrowthBytes !== null) {
    out.push(
      `${name}: server RSS grew ${mb(p.rssGrowthBytes)} from the idle process (target < 50 MB: ${ok(p.rssGrowthBytes < 50 * 2 ** 20)}), ` +
        `of which ${mb(Math.max(0, p.rssSecondHalfGrowthBytes ?? 0))} in the second half of the run (bounded memory plateaus).`,
    )
  }
  if (unprotected !== undefined && unprotected.error === undefined) {
    const u = unprotected.summary
    if (p.latencyOk.p99 !== null && u.latencyOk.p99 !== null) {
      out.push(
        `p99 of 2xx: ${ms(p.latencyOk.p99)} protected vs ${ms(u.latencyOk.p99)} unprotected ` +
          `(ratio ${(p.latencyOk.p99 / u.latencyOk.p99).toFixed(3)}).`,
      )
    }
    out.push(
      `Goodput: ${rate(p.goodputPerSecond)} protected vs ${rate(u.goodputPerSecond)} unprotected; ` +
        `client timeouts ${p.timeouts} vs ${u.timeouts}; wasted work ${p.wasted ?? '-'} vs ${u.wasted ?? '-'} handler runs; ` +
        `RSS growth ${mb(p.rssGrowthBytes)} vs ${mb(u.rssGrowthBytes)}.`,
    )
  }
  return out
}
