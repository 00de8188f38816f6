/**
 * examples/nestjs-basic uses Nest's decorators, which need
 * `experimentalDecorators`: the root typecheck leaves it out, and its own
 * tsconfig (decorators on, as a Nest app has them) checks it here.
 */
import { execFile } from 'node:child_process'
import path from 'node:path'

const ROOT = path.resolve(__dirname, '..', '..')

it('type-checks the NestJS example under its own tsconfig, with decorators enabled', async () => {
  const output = await new Promise<{ code: number; stdout: string }>((resolve) => {
    execFile(
      process.execPath,
      [
        path.join(ROOT, 'node_modules/typescript/bin/tsc'),
        '-p',
        'examples/nestjs-basic/tsconfig.json',
      ],
      { cwd: ROOT, timeout: 120_000 },
      (error, stdout) => resolve({ code: error === null ? 0 : 1, stdout }),
    )
  })
  expect(output.stdout).toBe('')
  expect(output.code).toBe(0)
}, 150_000)
