/**
 * The one small client interface the store talks to, and the two shapes it
 * accepts: a node-redis client (`redis` v5+, `createClient()` or `createCluster()`)
 * and an ioredis client (`new Redis()` or `new Redis.Cluster()`). Told apart by
 * shape, so neither package is imported: both are optional peers.
 */

/** What the store needs from node-redis: `evalSha` and `eval` (`redis` v5+). */
export interface NodeRedisLike {
  evalSha(
    sha1: string,
    options: { keys: string[]; arguments: string[] },
  ): Promise<unknown> | PromiseLike<unknown>
  eval(
    script: string,
    options: { keys: string[]; arguments: string[] },
  ): Promise<unknown> | PromiseLike<unknown>
}

/** What the store needs from ioredis: `evalsha` and `eval` (ioredis v5). */
export interface IoRedisLike {
  evalsha(sha1: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>
}

/** A connected Redis client: node-redis or ioredis (single node or Cluster). */
export type RedisClientLike = NodeRedisLike | IoRedisLike

/** The store's view of a client: run a script by digest, or by body (which also caches it). */
export interface ScriptClient {
  /** Which library the client came from, for messages. */
  readonly kind: 'node-redis' | 'ioredis'
  evalSha(sha1: string, keys: string[], args: string[]): Promise<unknown>
  eval(script: string, keys: string[], args: string[]): Promise<unknown>
}

function hasMethod(value: object, name: string): boolean {
  return typeof (value as Record<string, unknown>)[name] === 'function'
}

/** The client's shape, or `undefined` when it is neither (the option check names it). */
export function clientKind(client: unknown): ScriptClient['kind'] | undefined {
  if (typeof client !== 'object' || client === null) return undefined
  // node-redis has only camel-cased command methods; ioredis has the lower-case ones.
  if (hasMethod(client, 'evalsha') && hasMethod(client, 'eval')) return 'ioredis'
  if (hasMethod(client, 'evalSha') && hasMethod(client, 'eval')) return 'node-redis'
  return undefined
}

/** Wraps a client whose {@link clientKind} is known. */
export function toScriptClient(client: RedisClientLike): ScriptClient {
  if (clientKind(client) === 'ioredis') {
    const io = client as IoRedisLike
    return {
      kind: 'ioredis',
      evalSha: (sha1, keys, args) => io.evalsha(sha1, keys.length, ...keys, ...args),
      eval: (script, keys, args) => io.eval(script, keys.length, ...keys, ...args),
    }
  }
  const node = client as NodeRedisLike
  return {
    kind: 'node-redis',
    evalSha: (sha1, keys, args) => Promise.resolve(node.evalSha(sha1, { keys, arguments: args })),
    eval: (script, keys, args) => Promise.resolve(node.eval(script, { keys, arguments: args })),
  }
}
