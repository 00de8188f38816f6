/**
 * What every publishable package's manifest must say, checked on the sources
 * (no build, no pack), so a package added later is held to it at once.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'

const ROOT = path.resolve(__dirname, '..', '..')

interface Manifest {
  name: string
  private?: boolean
  license?: string
  files?: string[]
  exports?: Record<string, unknown>
  typesVersions?: Record<string, Record<string, string[]>>
}

/** The packages under `packages/` that are published (not `private`). */
const published = readdirSync(path.join(ROOT, 'packages'))
  .filter((dir) => existsSync(path.join(ROOT, 'packages', dir, 'package.json')))
  .map((dir) => {
    const file = path.join(ROOT, 'packages', dir, 'package.json')
    return { dir, manifest: JSON.parse(readFileSync(file, 'utf8')) as Manifest }
  })
  .filter(({ manifest }) => manifest.private !== true)

describe('the package manifests', () => {
  it('finds the published packages', () => {
    expect(published.map(({ dir }) => dir)).toEqual(
      expect.arrayContaining(['core', 'node', 'express', 'koa', 'client']),
    )
  })

  it.each(published.map(({ dir, manifest }) => [dir, manifest] as const))(
    'ships the repository LICENSE (MIT) in @spillway/%s',
    (dir, manifest) => {
      expect(manifest.license).toBe('MIT')
      expect(manifest.files).toContain('LICENSE')
      const license = path.join(ROOT, 'packages', dir, 'LICENSE')
      expect(existsSync(license)).toBe(true)
      expect(readFileSync(license, 'utf8')).toBe(readFileSync(path.join(ROOT, 'LICENSE'), 'utf8'))
    },
  )

  it.each(published.map(({ dir, manifest }) => [dir, manifest] as const))(
    'maps each entry point of @spillway/%s to its source file, with types per condition',
    (dir, manifest) => {
      const exportsMap = manifest.exports ?? {}
      expect(Object.keys(exportsMap)).toContain('.')
      for (const [subpath, target] of Object.entries(exportsMap)) {
        if (subpath === './package.json') continue
        const name = subpath === '.' ? 'index' : subpath.slice(2)
        // tsup builds `src/<name>.ts` into `dist/<name>.*` (see tsup.config.ts).
        expect(existsSync(path.join(ROOT, 'packages', dir, 'src', `${name}.ts`))).toBe(true)
        expect(target).toEqual({
          import: { types: `./dist/${name}.d.ts`, default: `./dist/${name}.js` },
          require: { types: `./dist/${name}.d.cts`, default: `./dist/${name}.cjs` },
        })
        // `types` first in each condition: TypeScript takes the first match.
        for (const condition of Object.values(target as Record<string, object>)) {
          expect(Object.keys(condition)[0]).toBe('types')
        }
        // moduleResolution `node10` ignores `exports`; typesVersions lets it find the subpath's types.
        if (subpath !== '.') {
          expect(manifest.typesVersions?.['*']?.[name]).toEqual([`./dist/${name}.d.cts`])
        }
      }
    },
  )
})
