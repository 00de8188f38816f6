// The Hono adapter's contract cases on a Web runtime (Bun, Deno, Node), through
// app.fetch and through the runtime's own HTTP server. Plain JavaScript on the
// built packages, so every runtime runs the same file. Prints one JSON line per
// case and exits non-zero when one fails.

import { Hono } from 'hono'
import { createAdmissionController } from '../../packages/core/dist/index.js'
import { shed } from '../../packages/hono/dist/index.js'

const results = []
const latch = () => {
  let open
  const promise = new Promise((resolve) => {
    open = resolve
  })
  return { promise, open }
}
const nextEvent = (c, type) =>
  new Promise((resolve) => {
    const off = c.on((e) => {
      if (e.type === type) {
        off()
        resolve(e)
      }
    })
  })
const drained = async (c) => {
  for (let i = 0; i < 200; i++) {
    const { inFlight, queued } = c.stats()
    if (inFlight === 0 && queued === 0) return
    await new Promise((r) => setTimeout(r, 5))
  }
  throw new Error(`not drained: ${JSON.stringify(c.stats())}`)
}
const check = (ok, what) => {
  if (!ok) throw new Error(what)
}
async function run(name, fn) {
  const c = createAdmissionController({ limit: 1, queue: { size: 1, timeoutMs: 30_000 } })
  try {
    await fn(c)
    await drained(c)
    results.push({ name, ok: true })
  } catch (error) {
    results.push({ name, ok: false, error: String(error?.stack ?? error) })
  } finally {
    c.close()
  }
}
const url = (p) => `http://localhost${p}`

/** Serves `app` on the runtime's own server on 127.0.0.1; returns origin and stop. */
async function serve(app) {
  if (globalThis.Bun) {
    const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: app.fetch })
    return { origin: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) }
  }
  if (globalThis.Deno) {
    const ac = new AbortController()
    const server = Deno.serve(
      { port: 0, hostname: '127.0.0.1', signal: ac.signal, onListen() {} },
      app.fetch,
    )
    return { origin: `http://127.0.0.1:${server.addr.port}`, stop: () => ac.abort() }
  }
  const { serve: nodeServe } = await import('@hono/node-server')
  const server = await new Promise((resolve) => {
    const s = nodeServe({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    stop: () => {
      server.closeAllConnections()
      server.close()
    },
  }
}

await run('releases as a success once the body has been read', async (c) => {
  const app = new Hono().get('/ok', shed(c), (ctx) => ctx.text('ok'))
  const res = await app.fetch(new Request(url('/ok')))
  check(c.stats().inFlight === 1, 'slot not held while the body is unread')
  check((await res.text()) === 'ok', 'body')
  await drained(c)
  check(c.stats().counters.released.success === 1, 'not released as success')
})

await run('drops a queued request whose signal aborts; its handler never runs', async (c) => {
  const hold = latch()
  let ran = 0
  const app = new Hono()
    .get('/hold', shed(c), async (ctx) => {
      await hold.promise
      return ctx.text('held')
    })
    .get('/queued', shed(c), (ctx) => {
      ran++
      return ctx.text('q')
    })
  const admitted = nextEvent(c, 'admit')
  const first = app.fetch(new Request(url('/hold')))
  await admitted
  const client = new AbortController()
  const queued = nextEvent(c, 'queue')
  const second = app.fetch(new Request(url('/queued'), { signal: client.signal }))
  await queued
  const rejected = nextEvent(c, 'reject')
  client.abort()
  check((await rejected).rejection.reason === 'aborted', 'not aborted')
  await second
  hold.open()
  await (await first).text()
  check(ran === 0, 'handler ran')
})

await run('releases a streamed body when its reader cancels', async (c) => {
  const app = new Hono().get('/s', shed(c), (ctx) =>
    ctx.body(new ReadableStream({ pull: () => new Promise(() => {}) })),
  )
  const res = await app.fetch(new Request(url('/s')))
  check(c.stats().inFlight === 1, 'slot not held by the stream')
  await res.body.cancel()
  await drained(c)
  check(c.stats().counters.released.ignore === 1, 'not released as ignore')
})

await run('releases as a failure after app.onError', async (c) => {
  const app = new Hono()
    .get('/t', shed(c), () => {
      throw new Error('boom')
    })
    .onError((_e, ctx) => ctx.text('err', 500))
  const res = await app.fetch(new Request(url('/t')))
  check(res.status === 500 && (await res.text()) === 'err', 'status')
  await drained(c)
  check(c.stats().counters.released.failure === 1, 'not a failure')
})

await run('rejects with 503 problem+json and Retry-After over its own server', async (_c) => {
  const hold = latch()
  const strict = createAdmissionController({ limit: 1, queue: { size: 0 } })
  const app = new Hono()
    .get('/hold', shed(strict), async (ctx) => {
      await hold.promise
      return ctx.text('held')
    })
    .get('/shed', shed(strict), (ctx) => ctx.text('never'))
  const server = await serve(app)
  try {
    const admitted = nextEvent(strict, 'admit')
    const first = fetch(`${server.origin}/hold`)
    await admitted
    const res = await fetch(`${server.origin}/shed`)
    check(res.status === 503, `status ${res.status}`)
    check(/^[1-9]\d*$/.test(res.headers.get('retry-after') ?? ''), 'retry-after')
    check(res.headers.get('content-type') === 'application/problem+json', 'content-type')
    check((await res.json()).reason === 'queueFull', 'reason')
    hold.open()
    await (await first).text()
    await drained(strict)
  } finally {
    strict.close()
    server.stop()
  }
})

await run(
  'a client leaving mid-stream over its own server releases the slot (runtime signal)',
  async (c) => {
    const app = new Hono().get('/s', shed(c), (ctx) =>
      ctx.body(
        new ReadableStream({
          start(s) {
            s.enqueue(new TextEncoder().encode('first'))
          },
          pull: () => new Promise(() => {}),
        }),
      ),
    )
    const server = await serve(app)
    try {
      const client = new AbortController()
      const res = await fetch(`${server.origin}/s`, { signal: client.signal })
      const reader = res.body.getReader()
      await reader.read()
      check(c.stats().inFlight === 1, 'slot not held while streaming')
      const released = nextEvent(c, 'release')
      client.abort()
      const event = await Promise.race([
        released,
        new Promise((r) => setTimeout(() => r(null), 3000)),
      ])
      check(event !== null, 'not released within 3 s of the client leaving')
    } finally {
      server.stop()
    }
  },
)

const runtime = globalThis.Bun
  ? `bun ${Bun.version}`
  : globalThis.Deno
    ? `deno ${Deno.version.deno}`
    : `node ${process.version}`
for (const r of results) console.log(JSON.stringify({ runtime, ...r }))
const failed = results.filter((r) => !r.ok).length
if (failed > 0) {
  if (globalThis.Deno) Deno.exit(1)
  else process.exit(1)
}
if (globalThis.Deno) Deno.exit(0)
else process.exit(0)
