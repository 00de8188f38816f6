/**
 * The Lua scripts: one per operation, each one round trip and atomic on the
 * server. A key's leases are a sorted set: member = lease id, score = expiry
 * in ms on Redis's own clock (`TIME`), so instances' clocks never matter.
 *
 * How it works
 *   acquire  drop expired members (ZREMRANGEBYSCORE -inf now), count the rest
 *            (ZCARD); under the limit, add this lease at now + leaseMs (ZADD) and
 *            keep the key alive as long as its longest lease (PEXPIRE).
 *            Answers { 1, held } or { 0, held }.
 *   renew    move this process's live leases to now + leaseMs (ZADD XX: a lease
 *            that expired meanwhile is not brought back). Answers how many it moved.
 *   release  remove leases (ZREM). Answers how many it removed.
 *   probe    `return 1`: is Redis back (sent only while the store is down).
 */
import { createHash } from 'node:crypto'

/** A script and its SHA1 digest (for EVALSHA; the digest is computed here, no SCRIPT LOAD). */
export interface Script {
  readonly name: 'acquire' | 'renew' | 'release' | 'probe'
  readonly body: string
  readonly sha1: string
}

function script(name: Script['name'], body: string): Script {
  return { name, body, sha1: createHash('sha1').update(body).digest('hex') }
}

// Effects replication is the default since Redis 5 (and the only mode since 7);
// older servers need it switched on before a non-deterministic TIME.
const NOW = `if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

/** KEYS[1] leases of one key; ARGV[1] limit, ARGV[2] leaseMs, ARGV[3] lease id. */
export const ACQUIRE = script(
  'acquire',
  `${NOW}redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZCARD', KEYS[1])
if held >= tonumber(ARGV[1]) then return { 0, held } end
local leaseMs = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + leaseMs, ARGV[3])
if redis.call('PTTL', KEYS[1]) < leaseMs then redis.call('PEXPIRE', KEYS[1], leaseMs) end
return { 1, held + 1 }
`,
)

/** KEYS[1] leases of one key; ARGV[1] leaseMs, ARGV[2..] lease ids. */
export const RENEW = script(
  'renew',
  `${NOW}local leaseMs = tonumber(ARGV[1])
local moved = 0
for i = 2, #ARGV do
  moved = moved + redis.call('ZADD', KEYS[1], 'XX', 'CH', now + leaseMs, ARGV[i])
end
if moved > 0 and redis.call('PTTL', KEYS[1]) < leaseMs then redis.call('PEXPIRE', KEYS[1], leaseMs) end
return moved
`,
)

/** KEYS[1] leases of one key; ARGV lease ids. */
export const RELEASE = script('release', `return redis.call('ZREM', KEYS[1], unpack(ARGV))`)

/** No key: answered by any node. */
export const PROBE = script('probe', 'return 1')
