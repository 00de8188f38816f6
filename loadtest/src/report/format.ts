/** Number formatting shared by the terminal table and the HTML report. */

/** `12.3 ms`, `1.98 s`, or `-`. */
export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-'
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`
  if (value >= 100) return `${value.toFixed(0)} ms`
  if (value >= 10) return `${value.toFixed(1)} ms`
  return `${value.toFixed(2)} ms`
}

/** A rate, `/s`. */
export function rate(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-'
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)}/s`
}

/** A ratio as a percentage. */
export function pct(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-'
  return `${(value * 100).toFixed(digits)}%`
}

/** Bytes as MB. */
export function mb(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-'
  // `|| 0` turns the -0 that rounding a small negative gives into 0.
  return `${Number((value / (1024 * 1024)).toFixed(0)) || 0} MB`
}

/** An integer with thousands separators. */
export function count(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-'
  return Math.round(value).toLocaleString('en-US')
}
