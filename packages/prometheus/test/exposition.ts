/**
 * A small reader of the Prometheus text format, enough for tests to look a
 * series up by name and labels: `value(text, 'spillway_limit', { controller: 'api' })`.
 */

export interface Series {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Exposition {
  readonly series: readonly Series[]
  /** `# TYPE` lines, by metric name; a name typed twice is kept twice. */
  readonly types: ReadonlyArray<readonly [string, string]>
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

export function parseExposition(text: string): Exposition {
  const series: Series[] = []
  const types: Array<[string, string]> = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ')
      types.push([name as string, type as string])
      continue
    }
    if (line.startsWith('#')) continue
    const match = LINE.exec(line)
    if (match === null) throw new Error(`unparsable exposition line: ${line}`)
    const labels: Record<string, string> = {}
    for (const [, key, raw] of (match[2] ?? '').matchAll(LABEL)) {
      labels[key as string] = (raw as string).replace(/\\(.)/g, (_, c: string) =>
        c === 'n' ? '\n' : c,
      )
    }
    series.push({ name: match[1] as string, labels, value: Number(match[3]) })
  }
  return { series, types }
}

/** Series of `name` whose labels include every pair of `labels`. */
export function find(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): Series[] {
  return exposition.series.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )
}

/** The one value of `name` with exactly these labels' values; throws when absent or ambiguous. */
export function seriesValue(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number {
  const found = find(exposition, name, labels).filter(
    (s) => Object.keys(s.labels).length === Object.keys(labels).length,
  )
  if (found.length !== 1) {
    throw new Error(`expected one ${name}${JSON.stringify(labels)}, found ${found.length}`)
  }
  return (found[0] as Series).value
}
