import { type AdmissionController, createAdmissionController, type Permit } from '@spillway/core'
import { createPressureMonitor, type PressureMonitor } from '@spillway/node'

/** A monitor over one injected delay reading and a hand-driven clock; no other signal. */
function delayMonitor(world: { t: number; delayMs: number }, releaseMs = 0): PressureMonitor {
  return createPressureMonitor({
    sampleIntervalMs: 2 ** 31 - 1,
    holdMs: 1000,
    releaseMs,
    now: () => world.t,
    eventLoopUtilization: false,
    heap: false,
    rss: false,
    sensors: { eventLoopDelayMs: () => world.delayMs },
  })
}

describe('a pressure monitor driving the admission controller', () => {
  let controller: AdmissionController | undefined
  afterEach(() => controller?.close())

  it('sheds the lowest priority first while the event loop is late, and recovers after the hold', () => {
    const world = { t: 0, delayMs: 0 }
    const pressure = delayMonitor(world)
    let draw = 0.9
    controller = createAdmissionController({
      limit: 10,
      queue: { size: 0 },
      pressure,
      now: () => world.t,
      random: () => draw,
    })
    // Work already running: pressure refuses only while something is in flight.
    const held: Permit[] = [controller.tryAcquire() as Permit]
    const admit = (priority: string) => {
      const decision = controller?.tryAcquire({ priority })
      if (decision !== undefined) held.push(decision)
      return decision !== undefined
    }

    world.delayMs = 120 // level (120 − 50) / (150 − 50) = 0.7
    pressure.sampleNow()
    expect(controller.stats().pressure).toBeCloseTo(0.7)
    expect(admit('sheddable')).toBe(false)
    expect(admit('normal')).toBe(false) // admitted with probability 0.6; the draw 0.9 loses
    draw = 0.1
    expect(admit('normal')).toBe(true)
    expect(admit('critical')).toBe(true)

    // Calm again, but within the hold: still shedding.
    world.delayMs = 0
    world.t += 500
    pressure.sampleNow()
    expect(admit('sheddable')).toBe(false)

    world.t += 500
    pressure.sampleNow()
    expect(controller.stats().pressure).toBe(0)
    expect(admit('sheddable')).toBe(true)

    for (const permit of held) permit.release()
    expect(controller.stats()).toMatchObject({ inFlight: 0, queued: 0 })
  })

  it('readmits the highest priorities first while the level is released', () => {
    const world = { t: 0, delayMs: 150 }
    const pressure = delayMonitor(world, 2000)
    controller = createAdmissionController({ limit: 10, queue: { size: 0 }, pressure })
    // Work already running: pressure refuses only while something is in flight.
    const running = controller.tryAcquire() as Permit
    const outcome = () =>
      ['critical', 'normal', 'sheddable'].map((priority) => {
        const permit = controller?.tryAcquire({ priority })
        permit?.release()
        return permit !== undefined
      })

    pressure.sampleNow()
    expect(outcome()).toEqual([false, false, false])
    // Calm and past the hold: the level falls from 1 by 1000 / 2000, to 0.5, not straight to 0.
    world.delayMs = 0
    world.t += 1000
    pressure.sampleNow()
    expect(controller.stats().pressure).toBeCloseTo(0.5)
    expect(outcome()).toEqual([true, true, false])
    world.t += 1000
    pressure.sampleNow()
    expect(outcome()).toEqual([true, true, true])
    running.release()
    expect(controller.stats()).toMatchObject({ inFlight: 0, queued: 0 })
  })

  it('is closed by the controller when the controller closes, and then reads 0', () => {
    const world = { t: 0, delayMs: 150 }
    const pressure = delayMonitor(world)
    pressure.sampleNow()
    controller = createAdmissionController({ pressure })
    expect(controller.stats().pressure).toBe(1)
    controller.close()
    expect(pressure.readings().closed).toBe(true)
    expect(pressure.level).toBe(0)
  })
  it('keeps sampling for a second controller when the first one sharing it closes', () => {
    const world = { t: 0, delayMs: 150 }
    const pressure = delayMonitor(world)
    const first = createAdmissionController({ limit: 4, queue: { size: 0 }, pressure })
    const second = createAdmissionController({ limit: 4, queue: { size: 0 }, pressure })
    controller = second
    pressure.sampleNow()
    first.close()
    expect(pressure.readings().closed).toBe(false)
    world.t += 500
    pressure.sampleNow()
    expect(second.stats().pressure).toBe(1)
    const running = second.tryAcquire() as Permit
    expect(second.tryAcquire({ priority: 'sheddable' })).toBeUndefined()
    running.release()
    second.close()
    expect(pressure.readings().closed).toBe(true)
    expect(second.stats()).toMatchObject({ inFlight: 0, queued: 0 })
  })
})
