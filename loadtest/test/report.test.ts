import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { renderHeadlineSvg, renderHtml } from '../src/report/html.js'
import { createReport, type Report } from '../src/report/model.js'
import { renderTerminal } from '../src/report/write.js'
import { syntheticRun } from './synthetic.js'

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p))
if (CHROMIUM === undefined) {
  console.warn(
    'loadtest/test/report.test.ts: skipping the headless-browser rendering test: no Chromium at /usr/bin/chromium ' +
      "(install Debian's `chromium` package, as .ci/run does).",
  )
}
const withChromium = CHROMIUM === undefined ? it.skip : it

function report(options: { samples?: boolean } = {}): Report {
  const r = createReport('synthetic', 'Synthetic <report> & "charts"')
  r.groups.push({
    title: 'Unprotected vs protected',
    runs: [syntheticRun(false, options).result, syntheticRun(true, options).result],
  })
  r.findings.push('A finding with <markup> that must be escaped.')
  return r
}

/** Opens the HTML in headless Chromium and returns the DOM after the page's load event. */
function dumpDom(html: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-report-'))
  const file = join(dir, 'report.html')
  writeFileSync(file, html)
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${join(dir, 'profile')}`,
    '--dump-dom',
    pathToFileURL(file).href,
  ]
  return new Promise((resolve, reject) => {
    execFile(
      CHROMIUM as string,
      args,
      { timeout: 60_000, maxBuffer: 64 * 2 ** 20 },
      (error, stdout) => {
        rmSync(dir, { recursive: true, force: true })
        if (error) reject(error)
        else resolve(stdout)
      },
    )
  })
}

function attribute(dom: string, name: string): number {
  const match = new RegExp(`<body[^>]*\\s${name}="(\\d+)"`).exec(dom)
  if (match === null) throw new Error(`no ${name} on <body>: the page's check did not run`)
  return Number(match[1])
}

describe('the HTML report', () => {
  it('is self-contained: no script, style or image comes from elsewhere', () => {
    const html = renderHtml(report())
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i)
    expect(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, '')).not.toMatch(/https?:\/\//)
  })

  it('escapes titles and findings instead of injecting markup', () => {
    const html = renderHtml(report())
    expect(html).toContain('Synthetic &lt;report&gt; &amp; &quot;charts&quot;')
    expect(html).toContain('A finding with &lt;markup&gt;')
    expect(html).not.toContain('<markup>')
  })

  it('draws every series with finite coordinates only', () => {
    const html = renderHtml(report())
    const paths = [...html.matchAll(/<path class="series"[^>]* d="([^"]*)"/g)].map(
      (m) => m[1] as string,
    )
    // 4 chart rows × 2 runs, at least one line each.
    expect(paths.length).toBeGreaterThanOrEqual(8)
    for (const d of paths) {
      expect(d).toMatch(/^M/)
      expect(d).not.toMatch(/NaN|Infinity|undefined/)
    }
  })

  withChromium(
    'renders every chart with visible lines in headless Chromium',
    async () => {
      const dom = await dumpDom(renderHtml(report()))
      const charts = attribute(dom, 'data-charts')
      expect(charts).toBe(8)
      expect(attribute(dom, 'data-charts-rendered')).toBe(charts)
      const drawn = [...dom.matchAll(/data-drawn-paths="(\d+)"/g)].map((m) => Number(m[1]))
      expect(drawn).toHaveLength(charts)
      for (const n of drawn) expect(n).toBeGreaterThan(0)
    },
    90_000,
  )

  withChromium(
    'tells apart charts that have nothing drawn (the check can fail)',
    async () => {
      const dom = await dumpDom(renderHtml(report({ samples: false })))
      // Without server samples the state and RSS rows have no line at all.
      expect(attribute(dom, 'data-charts')).toBe(8)
      expect(attribute(dom, 'data-charts-rendered')).toBe(4)
    },
    90_000,
  )
})

describe('the headline SVG', () => {
  it('places the latency and throughput panels of each run on a grid in one document', () => {
    const svg = renderHeadlineSvg(report()) as string
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="920" height="440"')).toBe(
      true,
    )
    const panels = [...svg.matchAll(/<svg x="(\d+)" y="(\d+)"/g)].map((m) => `${m[1]},${m[2]}`)
    expect(panels).toEqual(['0,0', '460,0', '0,220', '460,220'])
    expect(svg.match(/<path class="series"/g)?.length ?? 0).toBeGreaterThanOrEqual(4)
  })

  it('is absent when no run succeeded', () => {
    const empty = createReport('synthetic', 'nothing ran')
    expect(renderHeadlineSvg(empty)).toBeUndefined()
  })
})

describe('the terminal report', () => {
  it('puts the runs side by side with the figures from their logs', () => {
    const text = renderTerminal(report())
    const header = text.split('\n').find((l) => l.includes('unprotected') && l.includes('spillway'))
    expect(header).toBeDefined()
    expect(text).toMatch(/client timeouts\s+│ \d[\d,]* \(\d+\.\d%\)/)
    expect(text).toContain('@spillway/express')
  })
})
