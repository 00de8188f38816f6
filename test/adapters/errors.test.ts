/** Misuse gets the house message, with `code` and `option`, never a raw TypeError from deep inside. */
import http from 'node:http'
import { createAdmissionController } from '@spillway/core'
import { shed as shedExpress } from '@spillway/express'
import { shed as shedKoa } from '@spillway/koa'
import { bindPermit, writeRejection } from '@spillway/node'

function thrown(fn: () => unknown): Error & { code?: string; option?: string } {
  try {
    fn()
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a throw')
}

describe('house errors for misuse', () => {
  const req = new http.IncomingMessage(null as never)
  const res = new http.ServerResponse(req)

  it('bindPermit(undefined, …) names the permit', () => {
    const error = thrown(() => bindPermit(undefined as never, req, res))
    expect(error).toBeInstanceOf(TypeError)
    expect(error).toMatchObject({ code: 'ERR_SPILLWAY_INVALID_OPTION', option: 'permit' })
    expect(error.message).toBe(
      'Expected `permit` to be a permit (an object with `release()`), got `undefined`.',
    )
  })

  it('writeRejection(res, undefined) names the rejection and writes nothing', () => {
    const error = thrown(() => writeRejection(res, undefined as never))
    expect(error).toBeInstanceOf(TypeError)
    expect(error).toMatchObject({ code: 'ERR_SPILLWAY_INVALID_OPTION', option: 'rejection' })
    expect(error.message).toMatch(/^Expected `rejection` to be a rejection .*, got `undefined`\.$/)
    expect(res.headersSent).toBe(false)
  })

  it.each([
    ['Express', shedExpress],
    ['Koa', shedKoa],
  ] as [string, (controller: unknown, handler: unknown) => unknown][])(
    '%s shed(controller, handler) points at the node:http signature',
    (_name, shed) => {
      const controller = createAdmissionController()
      const error = thrown(() => shed(controller, () => {}))
      expect(error).toBeInstanceOf(TypeError)
      expect(error).toMatchObject({ code: 'ERR_SPILLWAY_INVALID_OPTION', option: 'routeOptions' })
      expect(error.message).toMatch(
        /^Expected `routeOptions` to be an object, got a function\. `shed\(controller, handler\)` is the @spillway\/node signature/,
      )
      controller.close()
    },
  )
})
