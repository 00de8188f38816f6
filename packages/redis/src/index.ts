export type { IoRedisLike, NodeRedisLike, RedisClientLike } from './client.js'
export {
  REDIS_STORE_DEFAULTS,
  type RedisFailureMode,
  type RedisStoreOptions,
} from './options.js'
export {
  createRedisStore,
  REDIS_STORE_ERROR,
  REDIS_STORE_SOURCE,
  type RedisStore,
  type RedisStoreState,
  type RedisStoreStats,
} from './redis-store.js'
