/**
 * A short closed-loop run over real sockets on 127.0.0.1: both variants
 * against a fresh spillway-protected server process each. Asserts only what
 * holds by construction, never a timing: the server drains, and the client's
 * retries stay within its budget (≤ 10% of calls, plus each client's reserve of
 * 10 retries in its first window, which covers the whole run).
 */
import { runClosedLoopScenario } from '../src/scenarios/closed-loop.js'

describe('closed-loop scenario', () => {
  it('keeps @spillway/client retries within its budget against a server at 3× capacity', async () => {
    const users = 24
    const usersPerClient = 12
    const result = await runClosedLoopScenario({
      users,
      usersPerClient,
      thinkMs: 50,
      durationMs: 1500,
    })
    const [naive, client] = result.runs
    expect(naive?.variant).toBe('naive')
    expect(client?.variant).toBe('spillway')
    for (const run of result.runs) {
      expect(run.logical).toBeGreaterThan(0)
      expect(run.drained).toEqual({ inFlight: 0, queued: 0 })
      expect(run.outcomes.error).toBe(0)
    }
    if (naive === undefined || client === undefined) return
    const clients = Math.ceil(users / usersPerClient)
    // Calls failed locally sent nothing; counting every timeout as unsent only overstates retries.
    const sent = client.logical - client.outcomes.throttled - client.outcomes.timeout
    const retries = client.serverReceived - sent
    expect(retries).toBeLessThanOrEqual(0.1 * client.logical + 10 * clients)
    // The client's own count of the retries it sent is what reached the server beyond first attempts.
    expect(client.clientRetries.sent).toBeLessThanOrEqual(0.1 * client.logical + 10 * clients)
    expect(Object.keys(client.clientRetries.notRetried).sort()).toEqual([
      'attemptsExhausted',
      'bodyNotReplayable',
      'budget',
      'deadline',
      'notIdempotent',
      'retryAfterTooLong',
      'throttle',
    ])
    expect(naive.amplification).toBeGreaterThanOrEqual(1)
  }, 90_000)
})
