import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

const repoRoot = join(__dirname, '..', '..', '..')
const guide = readFileSync(join(__dirname, '..', 'PRESSURE.md'), 'utf8')

/** The guide's TypeScript examples, in order. */
function examples(markdown: string): string[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] as string)
}

/** Runs TypeScript in a fresh Node process at the repository root (so `@spillway/*` resolve to the sources). */
function run(source: string, limitMs: number): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', source],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let stdout = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    const guard = setTimeout(() => child.kill('SIGKILL'), limitMs)
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(guard)
      resolve({ code, stdout })
    })
  })
}

describe('PRESSURE.md', () => {
  it('has one usage example, and it runs: the controller closes the monitor and the process exits', async () => {
    const [usage, ...others] = examples(guide)
    expect(others).toEqual([])
    const probe = `\nconsole.log(JSON.stringify({ closed: pressure.readings().closed, level: pressure.level, stats: controller.stats().closed }))\n`
    const { code, stdout } = await run(`${usage}${probe}`, 15_000)
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toEqual({ closed: true, level: 0, stats: true })
  })
})
