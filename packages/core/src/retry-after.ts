/**
 * `Retry-After` from live state.
 *
 * How it works: a rejected caller should come back when the work ahead of it
 * has drained. That is the backlog (waiters plus this request) divided by the
 * recent completion rate:
 *
 *   base    = (queued + 1) / completionsPerSecond
 *   spread  = max(1, base × jitter)          (0 when jitter is 0)
 *   seconds = clamp(ceil(base + random() × spread), minSeconds, maxSeconds)
 *
 * The spread is at least one second so that, even when the base is well under
 * a second, rejected clients split between two whole-second answers instead
 * of returning in lockstep. With no completion in a whole window, a server
 * with work in flight is stalled (answer `maxSeconds`); otherwise (idle, or
 * too young to have a rate) answer `minSeconds`. Whole seconds ≥ 1:
 * RFC 9110 §10.2.3.
 */
export interface RetryAfterInput {
  readonly queued: number
  readonly completionsPerSecond: number
  /** No completion over a whole window while work is in flight. */
  readonly stalled: boolean
  readonly minSeconds: number
  readonly maxSeconds: number
  readonly jitter: number
  readonly random: number
}

export function computeRetryAfterSeconds(input: RetryAfterInput): number {
  const { minSeconds, maxSeconds } = input
  if (input.completionsPerSecond <= 0) return input.stalled ? maxSeconds : minSeconds
  const base = (input.queued + 1) / input.completionsPerSecond
  // A vanishing rate overflows to Infinity: as good as stalled.
  if (!Number.isFinite(base)) return maxSeconds
  // `jitter: 0` asks for none; otherwise at least a second, to split whole-second answers.
  const spread = input.jitter === 0 ? 0 : Math.max(1, base * input.jitter)
  // An injected random outside [0, 1) must not produce NaN or a negative wait.
  const draw = input.random >= 0 && input.random < 1 ? input.random : 0
  const seconds = Math.ceil(base + draw * spread)
  return Math.min(maxSeconds, Math.max(minSeconds, seconds))
}
