/**
 * One build for every package, run from the package folder: ESM + CJS + declarations for both.
 *
 * Entries come from the package's `exports` map, so a subpath is declared once:
 * `"./internal"` builds `src/internal.ts` into `dist/internal.{js,cjs,d.ts,d.cts}`,
 * `"."` builds `src/index.ts`. Code shared by several entries goes into one chunk
 * per format (splitting on for CJS too), so within a format each module runs once
 * and its state (a `WeakMap` of marks, a class for `instanceof`) is shared.
 */
import { readFileSync } from 'node:fs'
import { defineConfig } from 'tsup'

function entries(): Record<string, string> {
  const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as {
    exports?: Record<string, unknown>
  }
  const result: Record<string, string> = {}
  for (const subpath of Object.keys(manifest.exports ?? { '.': {} })) {
    if (subpath === './package.json') continue
    const name = subpath === '.' ? 'index' : subpath.replace(/^\.\//, '')
    result[name] = `src/${name}.ts`
  }
  return result
}

export default defineConfig({
  entry: entries(),
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  splitting: true,
  target: 'node20',
})
