/**
 * When is a call over? When its response's body has settled: read to the end,
 * failed while being read (network error, abort, deadline), or cancelled
 * (`response.body.cancel()`, a reader's `cancel()`). Until then the call's
 * deadline still bounds the body, so its timer and its listener on the caller's
 * signal stay; at that moment they go. A body nobody reads nor cancels is freed
 * at the deadline, when the caller's signal aborts, or when the `Response` is
 * garbage-collected, whichever comes first.
 *
 * The body is passed through a pull-based stream that sees those three ends;
 * a response without a body (HEAD, 204, 304) settles at once.
 */

// Frees a response dropped unread; the callback never references the response itself.
const unread = new FinalizationRegistry<() => void>((settled) => settled())

/**
 * Returns `response`, or a copy of it whose body calls `settled` exactly once
 * when it ends, errors or is cancelled (before the reader sees the end).
 */
export function onBodySettled(response: Response, settled: () => void): Response {
  const body = response.body
  if (body === null) {
    settled()
    return response
  }
  let done = false
  const token = {}
  const finish = (): void => {
    if (done) return
    done = true
    unread.unregister(token)
    settled()
  }
  const reader = body.getReader()
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let chunk: Awaited<ReturnType<typeof reader.read>>
        try {
          chunk = await reader.read()
        } catch (error) {
          finish()
          controller.error(error)
          return
        }
        if (chunk.done) {
          finish()
          controller.close()
        } else controller.enqueue(chunk.value)
      },
      cancel(reason) {
        finish()
        // Not awaited: a tee'd source resolves only once every branch cancels.
        reader.cancel(reason).catch(() => {})
      },
    },
    // Reads only when the consumer does, so nothing is buffered ahead of it.
    { highWaterMark: 0 },
  )
  const copy = new Response(stream, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  })
  // The constructor cannot set these; a caller may read them.
  for (const key of ['url', 'redirected', 'type'] as const) {
    Object.defineProperty(copy, key, { value: response[key], enumerable: true })
  }
  unread.register(copy, finish, token)
  return copy
}
