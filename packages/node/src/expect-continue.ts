import type { IncomingMessage, ServerResponse } from 'node:http'

// Node's own test for the header (lib/_http_server.js).
const CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i

/**
 * Sends `100 Continue` to a client that sent `Expect: 100-continue` and has
 * not had it yet, so it uploads its body now that the request is admitted.
 * Node sends it by itself, before anyone decides, unless the server has a
 * `checkContinue` listener: serving the `shed()` listener (or an app guarded
 * by `shed`) there is what lets a rejected client skip the upload. Node then
 * closes the connection after the rejection (`Connection: close`), since the
 * body it announced never comes.
 */
export function sendContinue(req: IncomingMessage, res: ServerResponse): void {
  const expect = req.headers.expect
  if (expect === undefined || res.headersSent) return
  // `_sent100` is Node's own flag (set by `writeContinue`, and before the
  // 'request' event when Node answered the expectation itself): a second
  // `100 Continue` would corrupt the response.
  if ((res as ServerResponse & { _sent100?: boolean })._sent100 === true) return
  if (CONTINUE.test(expect)) res.writeContinue()
}
