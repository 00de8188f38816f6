/**
 * `shed()` has overloads (its own controller, or a shared one). TypeScript 7
 * reports only the last overload that failed, so with the options overload
 * first, a typo in `shed({ limt: 5 })` read "'limt' does not exist in type
 * 'AdmissionController'". Every wrong option in the fixture must be named
 * by both compilers, with the type it is checked against.
 */
import { execFile } from 'node:child_process'
import path from 'node:path'

const ROOT = path.resolve(__dirname, '../..')
const PROJECT = path.join(__dirname, 'fixtures', 'tsconfig.json')

/** `bin` is the compiler's entry script inside node_modules. */
function compile(bin: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(ROOT, 'node_modules', bin), '-p', PROJECT, '--pretty', 'false'],
      { timeout: 60_000 },
      (_error, stdout, stderr) => resolve(stdout + stderr),
    )
  })
}

const EXPECTED: [line: number, option: string, type: string][] = [
  [8, 'limt', 'ShedOptions'],
  [9, 'priorty', 'ShedOptions'],
  [10, 'dryRn', 'NodeShedOptions'],
  [11, 'skp', 'ExpressRouteOptions'],
  [12, 'isFailur', 'NodeRouteOptions'],
]

// tsc 7 is the native compiler; `@typescript/native-preview` ships it as `tsgo`, so
// it never shadows the workspace's `tsc` (5.9) the way a `typescript@7` alias would.
describe.each([
  ['tsc 5.9', 'typescript/bin/tsc'],
  ['tsc 7 (native preview)', '@typescript/native-preview/bin/tsgo'],
])('%s', (_name, tsc) => {
  it('names the wrong option of every shed() call, against the options type', async () => {
    const output = await compile(tsc)
    for (const [line, option, type] of EXPECTED) {
      const errors = output.split(/\n(?=\S)/).filter((e) => e.includes(`wrong-options.ts(${line},`))
      expect(errors).toHaveLength(1)
      expect(errors[0]).toContain(`'${option}' does not exist in type '${type}'`)
      // tsc 7 reports one overload: it must be the one the options were meant for.
      if (tsc.includes('native-preview'))
        expect(errors[0]).not.toContain("type 'AdmissionController'")
    }
  }, 120_000)
})
