/**
 * Inline SVG line charts, written as strings: the report is one HTML file with
 * no script from a CDN and no chart library. A `null` value is a gap in the line.
 */

/** One line. */
export interface ChartSeries {
  name: string
  color: string
  values: ReadonlyArray<number | null>
  dashed?: boolean
}

export interface ChartOptions {
  title: string
  /** Unit of the y axis, e.g. `ms` or `req/s`. */
  unit: string
  /** x of each value (seconds). */
  x: readonly number[]
  series: readonly ChartSeries[]
  /** Upper bound of the y axis (shared across panels of one row). Derived when absent. */
  yMax?: number
  /** Logarithmic y axis (latencies spanning 1 ms to seconds). */
  log?: boolean
  width?: number
  height?: number
}

/** Escapes text for HTML and SVG. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
}

const finite = (v: number | null | undefined): v is number =>
  typeof v === 'number' && Number.isFinite(v)

/** The largest finite value of the series (0 when none). */
export function seriesMax(series: readonly ChartSeries[]): number {
  let max = 0
  for (const s of series) for (const v of s.values) if (finite(v) && v > max) max = v
  return max
}

/** A "nice" axis maximum: 1, 2 or 5 × 10ⁿ at or above `value`. */
export function niceCeil(value: number): number {
  if (!(value > 0)) return 1
  const exponent = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 5, 10]) if (step * exponent >= value) return step * exponent
  return 10 * exponent
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1)
}

/** Renders one chart as an `<svg>` string. */
export function lineChart(options: ChartOptions): string {
  const width = options.width ?? 460
  const height = options.height ?? 220
  const pad = { left: 52, right: 12, top: 28, bottom: 40 }
  const plotW = width - pad.left - pad.right
  const plotH = height - pad.top - pad.bottom
  const xs = options.x
  const xMax = Math.max(1e-9, ...xs.filter(finite))
  const log = options.log === true
  const yMax = niceCeil(options.yMax ?? seriesMax(options.series))
  const yMin = log ? 1 : 0
  const logMax = Math.log10(Math.max(yMax, 10))
  const sx = (x: number): number => pad.left + (x / xMax) * plotW
  const sy = (y: number): number => {
    const frac = log
      ? Math.log10(Math.max(yMin, Math.min(y, 10 ** logMax))) / logMax
      : Math.min(y, yMax) / yMax
    return pad.top + plotH - frac * plotH
  }
  const ticks = log
    ? Array.from({ length: Math.floor(logMax) + 1 }, (_, i) => 10 ** i)
    : [0, yMax / 4, yMax / 2, (3 * yMax) / 4, yMax]
  const parts: string[] = []
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(options.title)}">`,
    `<text x="${pad.left}" y="16" class="title">${escapeXml(options.title)}</text>`,
  )
  for (const t of ticks) {
    const y = sy(t).toFixed(1)
    parts.push(
      `<line x1="${pad.left}" x2="${width - pad.right}" y1="${y}" y2="${y}" class="grid"/>`,
      `<text x="${pad.left - 4}" y="${y}" class="tick" text-anchor="end" dominant-baseline="middle">${fmt(t)}</text>`,
    )
  }
  const xStep = niceCeil(xMax / 6)
  for (let x = 0; x <= xMax + 1e-9; x += xStep) {
    parts.push(
      `<text x="${sx(x).toFixed(1)}" y="${height - pad.bottom + 14}" class="tick" text-anchor="middle">${fmt(x)}</text>`,
    )
  }
  parts.push(
    `<text x="${width - pad.right}" y="${height - pad.bottom + 28}" class="tick" text-anchor="end">s</text>`,
    `<text x="12" y="${pad.top - 8}" class="tick">${escapeXml(options.unit)}${log ? ' (log)' : ''}</text>`,
    `<rect x="${pad.left}" y="${pad.top}" width="${plotW}" height="${plotH}" class="frame"/>`,
  )
  let legendX = pad.left
  for (const s of options.series) {
    let d = ''
    let pen = false
    for (let i = 0; i < s.values.length && i < xs.length; i++) {
      const v = s.values[i]
      const x = xs[i]
      if (!finite(v) || !finite(x) || (log && v <= 0)) {
        pen = false
        continue
      }
      d += `${pen ? 'L' : 'M'}${sx(x).toFixed(1)} ${sy(v).toFixed(1)}`
      pen = true
    }
    if (d !== '') {
      parts.push(
        `<path class="series" data-series="${escapeXml(s.name)}" d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/>`,
      )
    }
    parts.push(
      `<rect x="${legendX}" y="${height - 12}" width="10" height="3" fill="${s.color}"/>`,
      `<text x="${legendX + 13}" y="${height - 8}" class="legend">${escapeXml(s.name)}</text>`,
    )
    legendX += 18 + s.name.length * 6
  }
  parts.push('</svg>')
  return parts.join('')
}
