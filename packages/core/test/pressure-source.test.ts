/**
 * A pressure source as the controller uses it: checked at construction,
 * shared by several controllers, closed by the last one to close.
 */
import { createAdmissionController, INVALID_OPTION, type PressureSource } from '@spillway/core'

function source(level = 0.5): PressureSource & { close: jest.Mock } {
  return { level, close: jest.fn() }
}

describe('a pressure source shared by two controllers', () => {
  it('stays open until the last controller closes, and is closed once', () => {
    const shared = source()
    const a = createAdmissionController({ limit: 4, pressure: shared })
    const b = createAdmissionController({ limit: 4, pressure: shared })
    a.close()
    expect(shared.close).not.toHaveBeenCalled()
    expect(b.stats().pressure).toBe(0.5)
    a.close()
    expect(shared.close).not.toHaveBeenCalled()
    b.close()
    expect(shared.close).toHaveBeenCalledTimes(1)
    b.close()
    expect(shared.close).toHaveBeenCalledTimes(1)
  })

  it('does not count a controller whose options failed validation as a user', () => {
    const shared = source()
    expect(() => createAdmissionController({ limit: -1, pressure: shared })).toThrow(RangeError)
    const a = createAdmissionController({ limit: 4, pressure: shared })
    a.close()
    expect(shared.close).toHaveBeenCalledTimes(1)
  })

  it('is closed by its only controller, as before', () => {
    const own = source()
    createAdmissionController({ pressure: own }).close()
    expect(own.close).toHaveBeenCalledTimes(1)
  })
})

describe('checking a pressure source at construction', () => {
  it('rejects a source whose level getter throws with the house error, keeping the cause', () => {
    const failure = new Error('sensor not started')
    const broken = {
      get level(): number {
        throw failure
      },
    }
    let error: (Error & { code?: string; option?: string; cause?: unknown }) | undefined
    try {
      createAdmissionController({ pressure: broken })
    } catch (thrown) {
      error = thrown as Error
    }
    expect(error).toBeInstanceOf(TypeError)
    expect(error?.code).toBe(INVALID_OPTION)
    expect(error?.option).toBe('pressure')
    expect(error?.message).toBe(
      'Expected `pressure` to be an object with a numeric `level` (a PressureSource), got an object whose `level` threw: Error: sensor not started.',
    )
    expect(error?.cause).toBe(failure)
  })
})
