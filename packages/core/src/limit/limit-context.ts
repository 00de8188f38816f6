/** Where an algorithm's options sit and the randomness it may use; shared by every factory. */
export interface LimitContext {
  /** Dotted path of the options in error messages. @default `'limit'` */
  option?: string
  /** Uniform random in `[0, 1)`; only jittered algorithms read it. @default `Math.random` */
  random?: () => number
}
