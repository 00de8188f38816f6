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

function compile(tsc: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(ROOT, 'node_modules', tsc, 'bin', 'tsc'), '-p', PROJECT, '--pretty', 'false'],
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

describe.each([
  ['tsc 5.9', 'typescript'],
  ['tsc 7', 'typescript7'],
])('%s', (_name, tsc) => {
  it('names the wrong option of every shed() call, against the options type', async () => {
    const output = await compile(tsc)
    for (const [line, option, type] of EXPECTED) {
      const errors = output.split(/\n(?=\S)/).filter((e) => e.includes(`wrong-options.ts(${line},`))
      expect(errors).toHaveLength(1)
      expect(errors[0]).toContain(`'${option}' does not exist in type '${type}'`)
      // tsc 7 reports one overload: it must be the one the options were meant for.
      if (tsc === 'typescript7') expect(errors[0]).not.toContain("type 'AdmissionController'")
    }
  }, 120_000)
})
