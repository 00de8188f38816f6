export {
  type AdmissionController,
  type AdmitOptions,
  type ControllerEvent,
  type ControllerListener,
  type ControllerStats,
  createAdmissionController,
} from './controller.js'
export { INVALID_OPTION, type InvalidOptionError, invalidOption, RejectedError } from './errors.js'
export type * from './key-store.js'
export * from './limit/index.js'
export { createMemoryKeyStore, type MemoryKeyStoreHandle } from './memory-key-store.js'
export {
  type AdmissionControllerOptions,
  DEFAULTS,
  type PerKeyOptions,
  type QueueOptions,
  type QueueOrder,
  type RetryAfterOptions,
} from './options.js'
export { computeRetryAfterSeconds, type RetryAfterInput } from './retry-after.js'
export { admitProbability, pressureCappedLimit } from './shedding.js'
export type * from './types.js'
export {
  checkBoolean,
  checkFunction,
  checkNumber,
  checkOneOf,
  checkString,
  describeValue,
  fail as failOption,
  isPlainObject,
  type NumberRule,
  resolveObject,
} from './validate.js'
