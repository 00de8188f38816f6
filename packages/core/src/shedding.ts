/**
 * Graded shedding: how likely a request of a given priority is to be admitted
 * at a given process pressure.
 *
 * How it works: with `n` priorities (index 0 is the highest), the pressure
 * range [0, 1) is split into `n - 1` equal bands, lowest priority first. In
 * its band a priority's admission probability falls linearly from 1 to 0;
 * below its band it is always admitted, above it never. The highest
 * priority has no band: it is admitted until pressure reaches 1 (full
 * saturation), then refused outright. With three priorities:
 *
 *   pressure     0 ──── 0.5 ──── 1
 *   sheddable    1 ╲___ 0 ────── 0
 *   normal       1 ──── 1 ╲_____ 0
 *   critical     1 ──── 1 ────── 0 (at 1 only)
 *
 * A probability of 0 is an outright refusal (`overloaded`); between 0 and 1
 * the request is sampled (`sampled` when the draw goes against it). The
 * controller does not apply it once none of its requests has been in flight
 * for a while: a refusal would relieve nothing and leave the process idle.
 */
export function admitProbability(
  priorityIndex: number,
  priorityCount: number,
  pressure: number,
): number {
  if (pressure <= 0) return 1
  if (pressure >= 1) return 0
  const bands = priorityCount - 1
  // The highest priority, or the only one, is shed only at full saturation.
  if (priorityIndex === 0 || bands === 0) return 1
  const band = bands - priorityIndex // 0 for the lowest priority
  const start = band / bands
  const end = (band + 1) / bands
  if (pressure <= start) return 1
  if (pressure >= end) return 0
  return (end - pressure) / (end - start)
}

/**
 * Caps the concurrency limit under process pressure: an overloaded event loop
 * means fewer admissions, whatever the latency-based limit says.
 */
export function pressureCappedLimit(limit: number, pressure: number): number {
  if (pressure <= 0) return limit
  return Math.max(1, Math.ceil(limit * (1 - Math.min(pressure, 1))))
}
