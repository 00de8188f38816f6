/** The two client libraries the store supports, connected to a test server. */
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import type { RedisClientLike } from '../src/index.js'

/** Which library. */
export type ClientName = 'node-redis' | 'ioredis'

export const CLIENTS: readonly ClientName[] = ['node-redis', 'ioredis']

/** A connected client and how to close it. */
export interface TestClient {
  readonly client: RedisClientLike
  close(): Promise<void>
}

/** Connects a client of the given library to 127.0.0.1:`port`. */
export async function connectClient(name: ClientName, port: number): Promise<TestClient> {
  if (name === 'ioredis') {
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true })
    // The user owns the client's error listener (the store never adds one).
    client.on('error', () => {})
    await client.connect()
    return { client, close: async () => client.disconnect() }
  }
  const client = createClient({ socket: { host: '127.0.0.1', port } })
  client.on('error', () => {})
  await client.connect()
  return {
    client,
    close: async () => {
      client.destroy()
    },
  }
}
