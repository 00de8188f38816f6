import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'

function isLoadtestPackage(dir: string): boolean {
  const file = join(dir, 'package.json')
  if (!existsSync(file)) return false
  try {
    return (
      (JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name === '@spillway/loadtest'
    )
  } catch {
    return false
  }
}

/**
 * The `loadtest/` directory. Found from the working directory rather than from
 * this file's URL because the same source runs as ESM under tsx and as CommonJS
 * under jest (`pnpm --filter` runs in `loadtest/`, jest in the repository root).
 */
export function loadtestRoot(): string {
  let dir = process.cwd()
  for (;;) {
    if (isLoadtestPackage(dir)) return dir
    if (isLoadtestPackage(join(dir, 'loadtest'))) return join(dir, 'loadtest')
    const parent = dirname(dir)
    if (parent === dir)
      throw new Error(`cannot find the @spillway/loadtest package from ${process.cwd()}`)
    dir = parent
  }
}

/** The file the target child processes run. */
export function targetEntry(): string {
  return join(loadtestRoot(), 'src', 'target', 'server.ts')
}

/** `file:` URL of tsx's loader, for `node --import`: one process per target, no tsx wrapper process. */
export function tsxLoaderUrl(): string {
  const require = createRequire(join(loadtestRoot(), 'package.json'))
  return pathToFileURL(require.resolve('tsx')).href
}

/** Where target servers load `@spillway/*` from. */
export type SpillwaySource = 'src' | 'dist'

/**
 * The tsconfig tsx resolves `@spillway/*` with. `src`: the repository's, whose
 * `paths` point at `packages/*\/src` (no build needed; measures the working tree,
 * but tsx's transpiled sources carry small helpers per function). `dist`: the base
 * config, without `paths`, so the packages resolve through their `exports` to the
 * built `dist/` files that users get (needs `pnpm run build` first).
 */
export function tsconfigPath(from: SpillwaySource = 'src'): string {
  return join(loadtestRoot(), '..', from === 'src' ? 'tsconfig.json' : 'tsconfig.base.json')
}

/** Where results go by default (ignored by git). */
export function resultsDir(): string {
  return join(loadtestRoot(), 'results')
}
