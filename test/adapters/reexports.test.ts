/** `npm install @spillway/express` (or koa, node) is the whole install line: the core comes along. */
import * as core from '@spillway/core'
import * as express from '@spillway/express'
import * as koa from '@spillway/koa'
import * as node from '@spillway/node'

describe.each([
  ['@spillway/express', express],
  ['@spillway/koa', koa],
  ['@spillway/node', node],
] as [string, Record<string, unknown>][])('%s', (_name, adapter) => {
  it('re-exports the controller factory, RejectedError and the pressure monitor', () => {
    expect(adapter.createAdmissionController).toBe(core.createAdmissionController)
    expect(adapter.RejectedError).toBe(core.RejectedError)
    expect(adapter.createPressureMonitor).toBe(node.createPressureMonitor)
  })
})

// Compile-time: the types an app names come from the adapter alone (checked by tsc).
const options: express.AdmissionControllerOptions = { limit: 4, queue: { size: 8 } }
const controller: koa.AdmissionController = express.createAdmissionController(options)
const onEvent: node.ControllerListener = (event: express.ControllerEvent) => {
  if (event.type === 'reject') {
    const rejection: koa.Rejection = event.rejection
    const reason: express.RejectionReason = rejection.reason
    void reason
  }
}
controller.on(onEvent)()
controller.close()
