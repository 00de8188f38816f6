export {
  type AdmissionController,
  type AdmitOptions,
  type ControllerEvent,
  type ControllerListener,
  type ControllerStats,
  createAdmissionController,
} from './controller.js'
export { INVALID_OPTION, type InvalidOptionError, RejectedError } from './errors.js'
export type * from './key-store.js'
export * from './limit/index.js'
export { createMemoryKeyStore, type MemoryKeyStoreHandle } from './memory-key-store.js'
export {
  type AdmissionControllerOptions,
  DEFAULTS,
  type FairnessOptions,
  type PerKeyOptions,
  type QueueOptions,
  type QueueOrder,
  type RetryAfterOptions,
} from './options.js'
export type * from './types.js'
