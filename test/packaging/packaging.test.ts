/**
 * The packages as a user gets them: each built package is packed with pnpm
 * (which rewrites `workspace:^`), installed with npm into a fresh project
 * outside the workspace, loaded with `require` and `import` (and exercised
 * over a socket), type-checked under `node16` and `bundler` resolution, and
 * checked by `@arethetypeswrong/cli`. Assumes `packages/*\/dist` was built
 * (`npm test` builds first).
 */
import { execFile } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { readdir } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {
  ENTRY_POINTS,
  EXPECTED_EXPORTS,
  IMPORT_SCRIPT,
  INTERNAL_ONLY,
  OPTIONS_TYPES_SOURCE,
  PACKAGES,
  REQUIRE_SCRIPT,
  TSCONFIG_BUNDLER,
  TSCONFIG_NODE16,
  TYPES_SOURCE,
} from './consumer-files.js'

const ROOT = path.resolve(__dirname, '..', '..')
const BIN = path.join(ROOT, 'node_modules', '.bin')
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
const BUILD = 'npx pnpm@12.4.2 -r --filter "./packages/*" run build'
const DIST_FILES = ['index.js', 'index.cjs', 'index.d.ts', 'index.d.cts']

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command to completion (bounded by `timeoutMs`) and never throws: callers assert on `code`. */
function run(file: string, args: readonly string[], cwd: string, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, CI: '1' } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
        resolve({
          code,
          stdout,
          stderr: error !== null && code === 1 ? `${stderr}${error.message}` : stderr,
        })
      },
    )
  })
}

const typeChecks = new Map<string, Promise<string[]>>()

/** Type errors of one tsconfig's program; tsc runs once per config, whichever test asks first. */
function typeErrors(tsconfig: string): Promise<string[]> {
  let check = typeChecks.get(tsconfig)
  if (check === undefined) {
    check = runTypeCheck(tsconfig)
    typeChecks.set(tsconfig, check)
  }
  return check
}

const inOptionsFile = (line: string): boolean => line.startsWith('types-options.ts(')

/**
 * Type errors in what we ship or in the consumer's own files. `skipLibCheck`
 * is off so our `.d.ts` files are checked too, which also checks third-party
 * typings (e.g. `@types/koa` against the `content-disposition` it now gets);
 * their errors are not ours to fail on.
 */
async function runTypeCheck(tsconfig: string): Promise<string[]> {
  const result = await run(process.execPath, [TSC, '-p', tsconfig], consumer)
  const errors = result.stdout.split('\n').filter((line) => /\): error TS\d+:/.test(line))
  if (result.code !== 0 && errors.length === 0)
    throw new Error(explain(`tsc -p ${tsconfig}`, result))
  return errors.filter(
    (line) => !line.startsWith('node_modules/') || line.startsWith('node_modules/@spillway/'),
  )
}

function explain(what: string, result: Run): string {
  return `${what} exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`
}

async function newestMtimeMs(dir: string): Promise<number> {
  let newest = 0
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) {
      newest = Math.max(newest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs)
    }
  }
  return newest
}

/** Fails with the command to run when a package is not built, or was built before its sources changed. */
async function assertBuilt(): Promise<void> {
  for (const name of PACKAGES) {
    const dist = path.join(ROOT, 'packages', name, 'dist')
    for (const file of DIST_FILES) {
      if (!existsSync(path.join(dist, file))) {
        throw new Error(`packages/${name}/dist/${file} is missing: run \`${BUILD}\` first.`)
      }
    }
    // A stale build would test yesterday's code; the escape hatch is for a tree being edited.
    if (process.env.SPILLWAY_ALLOW_STALE_DIST === '1') continue
    const src = await newestMtimeMs(path.join(ROOT, 'packages', name, 'src'))
    if (src > statSync(path.join(dist, 'index.js')).mtimeMs) {
      throw new Error(
        `packages/${name}/dist is older than its src: run \`${BUILD}\` again ` +
          '(or set SPILLWAY_ALLOW_STALE_DIST=1 to test the build as it is).',
      )
    }
  }
}

/** Every file path an `exports` map points at, through its nested conditions. */
function exportTargets(map: unknown): string[] {
  if (typeof map === 'string') return [map]
  if (map === null || typeof map !== 'object') return []
  return Object.values(map).flatMap(exportTargets)
}

interface ScriptOutput {
  exports: Record<string, string[]>
  scrape: string
  rejectedErrorName: string
  smoke: Record<
    string,
    {
      first: { status: number }
      second: { status: number; retryAfter: string | null; contentType: string | null }
      stats: { inFlight: number; queued: number; counters: { admitted: number } }
    }
  >
}

let work: string
let consumer: string
const tarballs = new Map<string, string>()

beforeAll(async () => {
  await assertBuilt()
  work = mkdtempSync(path.join(os.tmpdir(), 'spillway-packaging-'))
  consumer = path.join(work, 'consumer')

  const packed = await Promise.all(
    PACKAGES.map((name) =>
      run(
        path.join(BIN, 'pnpm'),
        ['pack', '--pack-destination', work],
        path.join(ROOT, 'packages', name),
      ),
    ),
  )
  packed.forEach((result, i) => {
    if (result.code !== 0) throw new Error(explain(`pnpm pack (${PACKAGES[i]})`, result))
  })
  for (const file of await readdir(work)) {
    const name = /^spillway-([a-z]+)-.*\.tgz$/.exec(file)?.[1]
    if (name !== undefined) tarballs.set(name, path.join(work, file))
  }
  for (const name of PACKAGES) {
    if (!tarballs.has(name)) throw new Error(`pnpm pack made no tarball for @spillway/${name}`)
  }

  mkdirSync(consumer)
  const write = (file: string, text: string): void => writeFileSync(path.join(consumer, file), text)
  write('package.json', `${JSON.stringify({ name: 'consumer', private: true }, null, 2)}\n`)
  write('check.cjs', REQUIRE_SCRIPT)
  write('check.mjs', IMPORT_SCRIPT)
  write('types-esm.mts', TYPES_SOURCE)
  write('types-cjs.cts', TYPES_SOURCE)
  write('types-bundler.ts', TYPES_SOURCE)
  write('tsconfig.node16.json', JSON.stringify(TSCONFIG_NODE16, null, 2))
  write('tsconfig.bundler.json', JSON.stringify(TSCONFIG_BUNDLER, null, 2))
  write('types-options.ts', OPTIONS_TYPES_SOURCE)

  // Every tarball at once, so the adapters' `@spillway/core@^0.1.0` resolves to the packed core.
  const installed = await run(
    'npm',
    [
      'install',
      ...PACKAGES.map((name) => tarballs.get(name) as string),
      'express@^5',
      'koa@^3',
      'prom-client@^15',
      '@opentelemetry/api@^1.9',
      '@types/express@^5',
      '@types/koa@^3',
      '@types/node@^20',
      'fastify@^5',
      'hono@^4',
      '@hono/node-server@^1',
      '@nestjs/common@^11',
      '@nestjs/core@^11',
      '@nestjs/platform-express@^11',
      'reflect-metadata@^0.2',
      'rxjs@^7',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--loglevel=error',
    ],
    consumer,
    120_000,
  )
  if (installed.code !== 0) throw new Error(explain('npm install', installed))
}, 180_000)

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true })
})

describe('the packed packages, installed outside the workspace', () => {
  it.each(PACKAGES)(
    'ships @spillway/%s as dist and LICENSE only, with workspace: ranges rewritten',
    (name) => {
      const dir = path.join(consumer, 'node_modules', '@spillway', name)
      const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'))
      expect(JSON.stringify(manifest)).not.toContain('workspace:')
      expect(existsSync(path.join(dir, 'src'))).toBe(false)
      for (const file of DIST_FILES) expect(existsSync(path.join(dir, 'dist', file))).toBe(true)
      // Every file the exports map names (the subpaths' too) is in the tarball.
      for (const target of exportTargets(manifest.exports)) {
        expect([target, existsSync(path.join(dir, target))]).toEqual([target, true])
      }
      expect(readFileSync(path.join(dir, 'LICENSE'), 'utf8')).toBe(
        readFileSync(path.join(ROOT, 'LICENSE'), 'utf8'),
      )
      // The adapters must share the one installed core, not fetch another.
      expect(existsSync(path.join(dir, 'node_modules', '@spillway'))).toBe(false)
    },
  )

  it('loads every entry point through require and through import with the same named exports, and both serve and shed', async () => {
    const cjs = await run(process.execPath, ['check.cjs'], consumer)
    expect(cjs.code).toBe(0)
    const esm = await run(process.execPath, ['check.mjs'], consumer)
    expect(esm.code).toBe(0)
    const fromRequire = JSON.parse(cjs.stdout) as ScriptOutput
    const fromImport = JSON.parse(esm.stdout) as ScriptOutput

    expect(fromImport.exports).toEqual(fromRequire.exports)
    for (const entry of ENTRY_POINTS) {
      expect(fromRequire.exports[entry]).toEqual(
        expect.arrayContaining([...EXPECTED_EXPORTS[entry]]),
      )
    }
    // The root exports are what users call; the building blocks live in the subpaths only.
    for (const [name, internal] of Object.entries(INTERNAL_ONLY)) {
      for (const symbol of internal) expect(fromRequire.exports[name]).not.toContain(symbol)
    }
    for (const output of [fromRequire, fromImport]) {
      expect(output.rejectedErrorName).toBe('RejectedError')
      expect(output.scrape).toContain('# TYPE spillway_admitted_total counter')
      expect(output.scrape).toContain(
        'spillway_admitted_total{controller="api",priority="normal"} 1',
      )
      expect(Object.keys(output.smoke).sort()).toEqual([
        'express',
        'fastify',
        'hono',
        'koa',
        'nestjs',
        'node',
      ])
      for (const result of Object.values(output.smoke)) {
        expect(result.first.status).toBe(200)
        expect(result.second.status).toBe(503)
        expect(result.second.retryAfter).toMatch(/^[1-9]\d*$/)
        expect(result.second.contentType).toMatch(/^application\/problem\+json\b/)
        expect(result.stats).toMatchObject({ inFlight: 0, queued: 0, counters: { admitted: 1 } })
      }
    }
  }, 60_000)

  it.each([
    ['node16 (an .mts and a .cts file)', 'tsconfig.node16.json'],
    ['bundler', 'tsconfig.bundler.json'],
  ])(
    'type-checks a strict consumer under moduleResolution %s',
    async (_label, tsconfig) => {
      expect((await typeErrors(tsconfig)).filter((line) => !inOptionsFile(line))).toEqual([])
    },
    // Nest's and Fastify's typings make a full strict check take a while on a busy machine.
    180_000,
  )

  it('rejects a misspelt controller option at compile time', async () => {
    expect((await typeErrors('tsconfig.bundler.json')).filter(inOptionsFile)).toEqual([])
  }, 180_000)

  it.each(PACKAGES)(
    'has no problems reported by arethetypeswrong: @spillway/%s',
    async (name) => {
      const result = await run(
        path.join(BIN, 'attw'),
        [tarballs.get(name) as string, '--format', 'json', '--no-definitely-typed'],
        work,
      )
      const report = JSON.parse(result.stdout) as { analysis: { problems?: unknown[] } }
      expect(report.analysis.problems ?? []).toEqual([])
      expect(result.code).toBe(0)
    },
    60_000,
  )
})
