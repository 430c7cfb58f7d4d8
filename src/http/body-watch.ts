/**
 * The idle timeout of a request body (nginx's `client_body_timeout`): when a
 * client stops sending its body for `ms`, whoever owns the response is told,
 * once. Node's socket timeout is the timer: the HTTP parser refreshes it on
 * every chunk it reads (and a write refreshes it too), so there is no timer
 * or listener per chunk, and no `data` listener that would change how the
 * body is consumed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

/**
 * Calls `onIdle` if the body of `req` goes silent for `ms` before it has all
 * arrived. Watching stops when the body has been read to its end, or the
 * response is done.
 */
export function watchBody(req: IncomingMessage, res: ServerResponse, ms: number, onIdle: () => void): void {
  const socket = req.socket
  const stop = () => {
    res.off('timeout', onTimeout)
    req.off('end', done)
    res.off('finish', stop)
    res.off('close', stop)
  }
  // Body read to its end: the socket's timer goes back to Node, which sets its
  // keep-alive timeout after the response (never cleared here after that).
  const done = () => {
    stop()
    socket.setTimeout(0)
  }
  // Node emits 'timeout' on the response of the socket (and destroys the
  // socket when nobody listens): listening here keeps the decision ours.
  const onTimeout = () => {
    done()
    // All of it arrived; the route is just slow to read it (a busy upstream).
    if (req.complete) return
    onIdle()
  }
  socket.setTimeout(ms)
  res.on('timeout', onTimeout)
  req.once('end', done)
  // Once the answer is out the socket's timer is Node's keep-alive timeout: a
  // body it reads to the end after that (to discard it) must not clear it.
  res.once('finish', stop)
  res.once('close', stop)
}
