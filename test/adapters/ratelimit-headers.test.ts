/** On `429 quota`, the IETF RateLimit fields (drafts 7 and 8, as express-rate-limit sends them), behind an option. */
import { type AdmissionController, createAdmissionController } from '@spillway/core'
import { expectDrained, get, latch, nextEvent } from '../contract/support.js'
import { type Target, targets } from '../contract/targets.js'

// The Node-kit adapters; Hono has no node layer and its own gate (not covered here yet).
const nodeKitTargets = targets.filter((target) => !target.name.startsWith('Hono'))

describe.each(nodeKitTargets)('$name', (target: Target) => {
  let controller: AdmissionController
  afterEach(() => controller.close())

  async function overQuota(options: Record<string, unknown>) {
    controller = createAdmissionController({ limit: 4, queue: { size: 0 }, perKey: { limit: 1 } })
    const hold = latch()
    const key = (input: unknown) => target.header(input, 'x-tenant')
    const running = await target.start(controller, [
      { path: '/hold', options: { key }, handler: { reply: 'ok', wait: () => hold.promise } },
      { path: '/work', options: { key, ...options }, handler: { reply: 'ok' } },
    ])
    try {
      const admitted = nextEvent(controller, 'admit')
      const first = get(running.port, '/hold', { 'x-tenant': 'acme' })
      await admitted
      const over = await get(running.port, '/work', { 'x-tenant': 'acme' })
      const other = await get(running.port, '/work', { 'x-tenant': 'other' })
      hold.open()
      await first
      await expectDrained(controller)
      return { over, other }
    } finally {
      hold.open()
      await running.close()
    }
  }

  it('sends RateLimit and RateLimit-Policy (draft 8) beside Retry-After on 429 quota', async () => {
    const { over, other } = await overQuota({ rateLimitHeaders: 'draft-8', rateLimitQuota: 1 })
    expect(over.status).toBe(429)
    const retryAfter = over.headers['retry-after']
    expect(retryAfter).toMatch(/^[1-9]\d*$/)
    expect(over.headers.ratelimit).toBe(`"concurrency";r=0;t=${retryAfter}`)
    expect(over.headers['ratelimit-policy']).toBe('"concurrency";q=1;qu="concurrent-requests"')
    // Only on a quota rejection: an admitted request carries none.
    expect(other.status).toBe(200)
    expect(other.headers.ratelimit).toBeUndefined()
  })

  it('sends the draft 7 fields when asked, and none at all by default', async () => {
    const draft7 = await overQuota({ rateLimitHeaders: 'draft-7', rateLimitQuota: () => 1 })
    const retryAfter = draft7.over.headers['retry-after']
    expect(draft7.over.headers.ratelimit).toBe(`limit=1, remaining=0, reset=${retryAfter}`)
    expect(draft7.over.headers['ratelimit-policy']).toBe('1')
    controller.close()
    const plain = await overQuota({})
    expect(plain.over.status).toBe(429)
    expect(plain.over.headers.ratelimit).toBeUndefined()
    expect(plain.over.headers['ratelimit-policy']).toBeUndefined()
  })
})
