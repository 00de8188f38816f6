/**
 * The late-turn check on a simulated clock: timers are fake, and the test
 * moves `performance.now()` itself, so a beat can come late (a blocked loop)
 * as well as on time. Each case loads a fresh copy of the module: its state
 * (the heartbeat) is per process.
 */
type LateTurn = typeof import('../src/late-turn.js')

let now = 0
let lateTurn: LateTurn

beforeEach(async () => {
  jest.useFakeTimers({ doNotFake: ['performance', 'nextTick', 'queueMicrotask'] })
  now = 1000
  jest.spyOn(performance, 'now').mockImplementation(() => now)
  jest.resetModules()
  lateTurn = await import('../src/late-turn.js')
})

afterEach(() => {
  jest.restoreAllMocks()
  jest.useRealTimers()
})

/** The loop runs freely for `ms`: every beat comes on time. */
function run(ms: number): void {
  for (let left = ms; left > 0; left -= 1) {
    now += 1
    jest.advanceTimersByTime(1)
  }
}

/** The loop is blocked for `ms`, then runs the beat that fell due meanwhile, late. */
function stall(ms: number): void {
  now += ms
  jest.advanceTimersToNextTimer()
}

describe('turnIsLate', () => {
  it('is not late for the first admission of an idle process, nor while beats come on time', () => {
    expect(lateTurn.turnIsLate()).toBe(false)
    run(200)
    expect(lateTurn.turnIsLate()).toBe(false)
  })

  it('is late while the pending beat is more than 50 ms overdue, and for five on-time beats after it', () => {
    expect(lateTurn.turnIsLate()).toBe(false)
    run(30)
    // Blocked: the beat due 10 ms from now has not run 70 ms later.
    now += 10 + lateTurn.LATE_TURN_MS + 10
    expect(lateTurn.turnIsLate()).toBe(true)
    // The loop wakes: the beat runs, late.
    jest.advanceTimersToNextTimer()
    for (let beat = 1; beat < lateTurn.CATCH_UP_BEATS; beat++) {
      run(lateTurn.BEAT_MS)
      expect(lateTurn.turnIsLate()).toBe(true)
    }
    run(lateTurn.BEAT_MS)
    expect(lateTurn.turnIsLate()).toBe(false)
  })

  it('is not late on a server that went idle after a stall, however long after', () => {
    expect(lateTurn.turnIsLate()).toBe(false)
    // No admission since; a stall just before the heartbeat's idle cut-off.
    run(lateTurn.IDLE_AFTER_MS - 40)
    stall(lateTurn.LATE_TURN_MS + 70)
    // Idle long after: no beat is pending, and requests are read as they come.
    run(10 * lateTurn.IDLE_AFTER_MS)
    expect(jest.getTimerCount()).toBe(0)
    expect(lateTurn.turnIsLate()).toBe(false)
  })

  it('keeps an admission right after a stall late, even one past the idle cut-off', () => {
    expect(lateTurn.turnIsLate()).toBe(false)
    run(lateTurn.IDLE_AFTER_MS - 40)
    stall(lateTurn.LATE_TURN_MS + 70)
    run(lateTurn.BEAT_MS)
    // The requests that piled up during the stall are still being read.
    expect(lateTurn.turnIsLate()).toBe(true)
  })
})

describe('afterNextPoll', () => {
  it('calls back two setImmediate hops later, the whole batch through one pending immediate', () => {
    const seen: string[] = []
    lateTurn.afterNextPoll(() => seen.push('a'))
    lateTurn.afterNextPoll(() => seen.push('b'))
    expect(jest.getTimerCount()).toBe(1)
    jest.runOnlyPendingTimers()
    expect(seen).toEqual([])
    jest.runOnlyPendingTimers()
    expect(seen).toEqual(['a', 'b'])
  })
})
