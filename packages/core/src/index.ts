export { INVALID_OPTION, type InvalidOptionError, RejectedError } from './errors.js'
export type * from './types.js'
export {
  checkBoolean,
  checkFunction,
  checkNumber,
  checkOneOf,
  checkString,
  describeValue,
  isPlainObject,
  type NumberRule,
  resolveObject,
} from './validate.js'
