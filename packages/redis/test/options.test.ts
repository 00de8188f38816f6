/** Option checking: every field, unknown keys, cross-field rules; no Redis needed. */
import { createRedisStore, type RedisStoreOptions } from '../src/index.js'

// A client by shape only: option checks never call it.
const nodeRedis = { evalSha: async () => [1, 1], eval: async () => [1, 1] }
const ioredis = { evalsha: async () => [1, 1], eval: async () => [1, 1] }

function errorOf(options: unknown): {
  name: string
  message: string
  code?: string
  option?: string
} {
  try {
    createRedisStore(options as RedisStoreOptions)
  } catch (error) {
    return error as { name: string; message: string; code?: string; option?: string }
  }
  throw new Error('expected createRedisStore to throw')
}

describe('createRedisStore options', () => {
  it('accepts a node-redis or an ioredis client by shape, and nothing else', () => {
    expect(() => createRedisStore({ client: nodeRedis })).not.toThrow()
    expect(() => createRedisStore({ client: ioredis })).not.toThrow()
    expect(errorOf({ client: { get: () => {} } })).toMatchObject({
      name: 'TypeError',
      code: 'ERR_SPILLWAY_INVALID_OPTION',
      option: 'client',
      message:
        'Expected `client` to be a connected node-redis or ioredis client (with `evalSha` or `evalsha`), got an object.',
    })
  })

  it('requires a client', () => {
    expect(errorOf({})).toMatchObject({ name: 'TypeError', option: 'client' })
    expect(errorOf(undefined)).toMatchObject({ name: 'TypeError', option: 'client' })
  })

  it('rejects a non-object and unknown keys, with a suggestion', () => {
    expect(errorOf('redis://localhost')).toMatchObject({ name: 'TypeError', option: 'options' })
    expect(errorOf({ client: nodeRedis, leaseMS: 100 })).toMatchObject({
      name: 'TypeError',
      option: 'leaseMS',
      message: expect.stringContaining('Did you mean `leaseMs`?'),
    })
  })

  it.each([
    ['prefix', '', 'RangeError', 'Expected `prefix` to be a non-empty string, got `""` (string).'],
    [
      'prefix',
      'a{b}:',
      'RangeError',
      'Expected `prefix` to be a string without `{` or `}`, got `"a{b}:"` (string).',
    ],
    ['leaseMs', 50, 'RangeError', 'Expected `leaseMs` to be an integer ≥ 100, got `50` (number).'],
    [
      'leaseMs',
      '1000',
      'TypeError',
      'Expected `leaseMs` to be an integer ≥ 100, got `"1000"` (string).',
    ],
    [
      'onError',
      'fail',
      'RangeError',
      'Expected `onError` to be one of `"open"`, `"closed"`, `"local"`, got `"fail"` (string).',
    ],
    [
      'callTimeoutMs',
      0,
      'RangeError',
      'Expected `callTimeoutMs` to be a finite number > 0, got `0` (number).',
    ],
    [
      'failureThreshold',
      0,
      'RangeError',
      'Expected `failureThreshold` to be an integer ≥ 1, got `0` (number).',
    ],
    [
      'retryIntervalMs',
      Number.NaN,
      'RangeError',
      'Expected `retryIntervalMs` to be a finite number > 0, got `NaN` (number).',
    ],
    [
      'expectedInstances',
      1.5,
      'RangeError',
      'Expected `expectedInstances` to be an integer ≥ 1, got `1.5` (number).',
    ],
  ])('rejects %s = %p', (option, value, name, message) => {
    expect(errorOf({ client: nodeRedis, [option]: value })).toMatchObject({
      name,
      message,
      option,
      code: 'ERR_SPILLWAY_INVALID_OPTION',
    })
  })

  it("requires expectedInstances with onError 'local'", () => {
    expect(errorOf({ client: nodeRedis, onError: 'local' })).toMatchObject({
      name: 'TypeError',
      option: 'expectedInstances',
      message:
        'Expected `expectedInstances` to be an integer ≥ 1 when `onError` is `"local"`, got `undefined`.',
    })
    expect(() =>
      createRedisStore({ client: nodeRedis, onError: 'local', expectedInstances: 3 }),
    ).not.toThrow()
  })

  it('requires callTimeoutMs below leaseMs', () => {
    expect(errorOf({ client: nodeRedis, leaseMs: 1000, callTimeoutMs: 1000 })).toMatchObject({
      name: 'RangeError',
      option: 'callTimeoutMs',
      message: 'Expected `callTimeoutMs` to be a number < `leaseMs` (1000), got `1000` (number).',
    })
  })

  it('treats undefined fields as absent', () => {
    expect(() =>
      createRedisStore({
        client: nodeRedis,
        prefix: undefined,
        onError: undefined,
      } as unknown as RedisStoreOptions),
    ).not.toThrow()
  })
})
