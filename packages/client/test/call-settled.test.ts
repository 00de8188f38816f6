/**
 * Nothing outlives the call: once its body has settled (read to the end,
 * cancelled, or errored), a call's deadline timer, its AbortController and its
 * listener on the caller's signal are gone.
 */
import { getEventListeners, once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createClient } from '@spillway/client'
import { FakeTime, ok, refuse, scriptedFetch } from './fake-time.js'

const URL_A = 'http://127.0.0.1:9/a'

function abortListeners(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length
}

function setup(replies: Parameters<typeof scriptedFetch>) {
  const time = new FakeTime()
  const { fetch, calls } = scriptedFetch(...replies)
  const client = createClient({
    fetch,
    now: time.now,
    timers: time,
    random: () => 0.5,
    throttle: false,
    timeoutMs: 60_000,
  })
  return { time, calls, client }
}

/** A body that yields one chunk, then fails. */
function failingBody(): ReadableStream<Uint8Array> {
  let sent = false
  return new ReadableStream({
    pull(controller) {
      if (sent) controller.error(new Error('connection reset'))
      else {
        sent = true
        controller.enqueue(new TextEncoder().encode('part'))
      }
    },
  })
}

describe('a call settles with its body', () => {
  it('frees the deadline timer and the caller listener when the body is read to the end', async () => {
    const { client, time } = setup([ok('hello')])
    const caller = new AbortController()
    const response = await time.settle(client(URL_A, { signal: caller.signal }))
    expect(abortListeners(caller.signal)).toBe(1)
    expect(time.pending).toBe(1)
    expect(await response.text()).toBe('hello')
    expect(abortListeners(caller.signal)).toBe(0)
    expect(time.pending).toBe(0)
  })

  it('frees them when the body is cancelled', async () => {
    const { client, time } = setup([ok('hello')])
    const caller = new AbortController()
    const response = await time.settle(client(URL_A, { signal: caller.signal }))
    await response.body?.cancel()
    expect(abortListeners(caller.signal)).toBe(0)
    expect(time.pending).toBe(0)
  })

  it('frees them when reading the body fails', async () => {
    const { client, time } = setup([() => new Response(failingBody())])
    const caller = new AbortController()
    const response = await time.settle(client(URL_A, { signal: caller.signal }))
    await expect(response.text()).rejects.toThrow('connection reset')
    expect(abortListeners(caller.signal)).toBe(0)
    expect(time.pending).toBe(0)
  })

  it('frees them at once for a response without a body, and for a refusal returned as it is', async () => {
    const { client, time } = setup([new Response(null, { status: 204 }), refuse(503, '3600')])
    const caller = new AbortController()
    const empty = await time.settle(client(URL_A, { signal: caller.signal }))
    expect(empty.status).toBe(204)
    expect(abortListeners(caller.signal)).toBe(0)
    const refused = await time.settle(client(URL_A, { signal: caller.signal }))
    expect(refused.status).toBe(503)
    await refused.arrayBuffer()
    expect(abortListeners(caller.signal)).toBe(0)
    expect(time.pending).toBe(0)
  })

  it('frees a body nobody reads at the deadline', async () => {
    const { client, time } = setup([ok('never read')])
    const caller = new AbortController()
    await time.settle(client(URL_A, { signal: caller.signal }))
    time.advance(60_000)
    expect(abortListeners(caller.signal)).toBe(0)
    expect(time.pending).toBe(0)
  })

  it('keeps the status, headers, url and redirected of the response it hands back', async () => {
    const original = new Response('x', { status: 201, statusText: 'Made', headers: { a: 'b' } })
    Object.defineProperty(original, 'url', { value: `${URL_A}?final` })
    Object.defineProperty(original, 'redirected', { value: true })
    const { client, time } = setup([() => original])
    const response = await time.settle(client(URL_A, { signal: new AbortController().signal }))
    expect(response).toMatchObject({ status: 201, statusText: 'Made', redirected: true })
    expect(response.url).toBe(`${URL_A}?final`)
    expect(response.headers.get('a')).toBe('b')
  })
})

describe('3,000 calls sharing one long-lived signal, over a real server', () => {
  let server: Server
  let url: string
  // Set before the server closes: a loop that outlived its test (a timeout on a busy
  // machine) stops instead of failing calls against a closed port.
  let stopped = false

  beforeAll(async () => {
    server = createServer((_req, res) => res.end('ok'))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  })

  afterAll(async () => {
    stopped = true
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  it('leaves no listener and raises no MaxListenersExceededWarning', async () => {
    const warnings: Error[] = []
    const onWarning = (warning: Error): void => {
      warnings.push(warning)
    }
    process.on('warning', onWarning)
    try {
      const client = createClient({ timeoutMs: 60_000 })
      const caller = new AbortController()
      // One call first, so undici's own timers (its clock tick, keep-alive) already exist.
      await (await client(url)).text()
      const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
      let calls = 0
      const loop = async (): Promise<void> => {
        for (; calls < 3000 && !stopped; calls++) {
          const response = await client(url, { signal: caller.signal })
          await response.text()
        }
      }
      // The handler is attached at once, so a failure can never escape as an unhandled
      // rejection, even from a loop whose test has already timed out.
      const failure = await loop().then(
        () => undefined,
        (error: unknown) => error,
      )
      expect(failure).toBeUndefined()
      expect(calls).toBe(3000)
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve))
      expect(abortListeners(caller.signal)).toBe(0)
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([])
      const timersAfter = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
      // A timer kept per call would be thousands; undici may start or stop one of its own.
      expect(timersAfter).toBeLessThan(timersBefore + 5)
    } finally {
      process.off('warning', onWarning)
    }
  }, 180_000)
})
