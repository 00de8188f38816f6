/**
 * Builds the spillway controller and adapter middleware for a target. Loaded
 * lazily so that an unprotected or p-limit target never even imports spillway.
 */
import type { AdmissionController, LimitOptions } from '@spillway/core'
import { createAdmissionController } from '@spillway/core'
import { createPressureMonitor } from '@spillway/node'
import type { Protection } from './config.js'
import { PRIORITIES, type PriorityName } from './config.js'

/** Maps a request path to its priority class; anything else is `normal`. */
export function classify(path: string): PriorityName {
  const name = path.slice(1)
  return (PRIORITIES as readonly string[]).includes(name) ? (name as PriorityName) : 'normal'
}

/** The controller for a `spillway` protection. */
export function createController(
  protection: Extract<Protection, { kind: 'spillway' }>,
): AdmissionController {
  return createAdmissionController({
    // Adaptive configurations are forwarded as given; the controller validates them.
    limit: protection.limit as LimitOptions,
    queue: protection.queue,
    pressure: protection.pressure === true ? createPressureMonitor() : undefined,
    priorities: [...PRIORITIES],
    defaultPriority: 'normal',
  })
}
