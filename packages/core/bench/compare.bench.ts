/**
 * Before/after micro-benchmark: the same cases on two copies of the core, in
 * one process, rounds interleaved, beside p-limit (ratios are what to read).
 *
 *   git worktree add --detach /tmp/spillway-before <commit>
 *   BEFORE=/tmp/spillway-before/packages/core/src/index.ts \
 *     npx tsx packages/core/bench/compare.bench.ts [--rounds 7] [--ops 200000]
 */
import pLimit from 'p-limit'
import * as after from '../src/index.js'

type Core = Pick<typeof after, 'createAdmissionController'>
type Permit = after.Permit

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  const value = i === -1 ? Number.NaN : Number(process.argv[i + 1])
  return Number.isFinite(value) && value > 0 ? Math.floor(value) : fallback
}

const rounds = arg('rounds', 7)
const ops = arg('ops', 200_000)

type Case = { name: string; run: (n: number) => void | Promise<void> }

function casesFor(label: string, core: Core): Case[] {
  const free = core.createAdmissionController({ limit: 64 })
  const saturated = core.createAdmissionController({ limit: 1, queue: { size: 0 } })
  saturated.tryAcquire()
  const fullQueue = core.createAdmissionController({ limit: 1, queue: { size: 16 } })
  fullQueue.tryAcquire()
  for (let i = 0; i < 16; i++) void fullQueue.acquire({ key: `k${i % 4}` })
  let sink = 0
  return [
    {
      name: `${label} tryAcquire + release`,
      run(n) {
        for (let i = 0; i < n; i++) (free.tryAcquire() as Permit).release()
      },
    },
    {
      name: `${label} admit + release`,
      run(n) {
        for (let i = 0; i < n; i++) {
          const d = free.admit()
          if (!(d instanceof Promise) && d.admitted) d.permit.release()
        }
      },
    },
    {
      name: `${label} admit + release, keyed`,
      run(n) {
        for (let i = 0; i < n; i++) {
          const d = free.admit({ key: 'tenant' })
          if (!(d instanceof Promise) && d.admitted) d.permit.release()
        }
      },
    },
    {
      name: `${label} rejection, no queue`,
      run(n) {
        for (let i = 0; i < n; i++) {
          const d = saturated.admit()
          if (!(d instanceof Promise) && !d.admitted) sink += d.rejection.retryAfterSeconds
        }
        if (sink < 0) console.log(sink)
      },
    },
    {
      name: `${label} rejection, full queue, keyed`,
      run(n) {
        for (let i = 0; i < n; i++) {
          const d = fullQueue.admit({ priority: 'sheddable', key: 'k0' })
          if (!(d instanceof Promise) && !d.admitted) sink += d.rejection.retryAfterSeconds
        }
      },
    },
  ]
}

async function measure(c: Case, n: number): Promise<number> {
  const start = process.hrtime.bigint()
  await c.run(n)
  return Number(process.hrtime.bigint() - start) / n
}

async function main(): Promise<void> {
  const beforePath = process.env.BEFORE
  if (beforePath === undefined)
    throw new Error('Set BEFORE to the index.ts of the core to compare with.')
  const before = (await import(beforePath)) as Core
  const limit = pLimit(64)
  const noop = (): undefined => undefined
  const pl: Case = {
    name: 'p-limit await limit(fn) (free slot)',
    async run(n) {
      for (let i = 0; i < n; i++) await limit(noop)
    },
  }
  const a = casesFor('after ', after)
  const b = casesFor('before', before)
  // Pairs side by side, each round alternating which copy goes first.
  const cases: Case[] = [pl]
  for (let i = 0; i < a.length; i++) cases.push(b[i] as Case, a[i] as Case)
  for (const c of cases) await measure(c, Math.min(ops, 20_000))
  const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]))
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? cases : [...cases].reverse()
    for (const c of order) samples.get(c.name)?.push(await measure(c, ops))
  }
  const median = (xs: number[]): number => {
    const sorted = [...xs].sort((x, y) => x - y)
    return sorted[Math.floor(sorted.length / 2)] as number
  }
  const baseline = median(samples.get(pl.name) as number[])
  console.log(`node ${process.version}, ${rounds} rounds × ${ops} ops, median ns/op`)
  console.log('| case | ns/op | vs p-limit |')
  console.log('| --- | ---: | ---: |')
  for (const c of cases) {
    const ns = median(samples.get(c.name) as number[])
    console.log(`| ${c.name} | ${ns.toFixed(0)} | ${(ns / baseline).toFixed(2)}× |`)
  }
}

void main()
