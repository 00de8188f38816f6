/**
 * The Hono adapter's cases (`hono-cases.mjs`) on every Web runtime found here:
 * Node always; Bun and Deno when their binaries are on PATH or named by
 * `SPILLWAY_BUN` / `SPILLWAY_DENO` (`npm i bun deno` ships them). Runs the
 * built packages (`npm test` builds first).
 */
import { execFile, execFileSync } from 'node:child_process'
import path from 'node:path'

const CASES = path.join(__dirname, 'hono-cases.mjs')

function find(env: string, name: string): string | undefined {
  const given = process.env[env]
  if (given !== undefined && given !== '') return given
  try {
    return (
      execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined
    )
  } catch {
    return undefined
  }
}

const runtimes: Array<[string, string | undefined, string[]]> = [
  ['node', process.execPath, [CASES]],
  ['bun', find('SPILLWAY_BUN', 'bun'), [CASES]],
  ['deno', find('SPILLWAY_DENO', 'deno'), ['run', '-A', CASES]],
]

describe.each(runtimes)('the Hono adapter on %s', (name, binary, args) => {
  const maybe = binary === undefined ? it.skip : it
  maybe(
    `passes every case (${binary ?? `${name} not found`})`,
    async () => {
      const output = await new Promise<string>((resolve) => {
        execFile(
          binary as string,
          args,
          { cwd: path.join(__dirname, '..', '..'), timeout: 60_000 },
          (_e, stdout) => resolve(stdout),
        )
      })
      const results = output
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { name: string; ok: boolean; error?: string })
      expect(results.length).toBe(6)
      expect(results.filter((r) => !r.ok)).toEqual([])
    },
    90_000,
  )
})
