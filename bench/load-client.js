// What the load clients (bench/sse-client.js, bench/ws-client.js) share: the
// IPC with bench/clients.js, connecting in parallel, and a fan-out round:
// once armed with an id, every connection on which the frame with that id
// arrives is stamped (arrived()); when all are, or on timeout, the times go
// back. Times are epoch ms (performance.timeOrigin + now()), so they compare
// with the parent's on the same machine.

export const now = () => performance.timeOrigin + performance.now()
export const send = (message) => process.send(message)

/** name -> { name, conns, id, needle, pending, timer }: the connections to one system; a conn is at least { at, open }. */
export const targets = new Map()
let bytes = 0
/** Counts bytes received, for the stats. */
export const received = (n) => (bytes += n)

/** The armed frame arrived on `conn` at `t`: the last connection sends the times. */
export function arrived(target, conn, t = now()) {
  conn.at = t
  if (--target.pending === 0) report(target)
}

/** Sends the arrival times of the armed id (null: not arrived, or the connection is gone) and disarms. */
function report(target) {
  clearTimeout(target.timer)
  const times = target.conns.map((c) => (Number.isNaN(c.at) ? null : c.at))
  const { id } = target
  target.needle = undefined
  target.id = undefined
  send({ type: 'times', name: target.name, id, times, lost: target.conns.filter((c) => !c.open).length })
}

function arm({ name, id, timeoutMs }, needle) {
  const target = targets.get(name)
  for (const c of target.conns) c.at = NaN
  target.pending = target.conns.length
  target.id = id
  target.needle = needle(id)
  target.timer = setTimeout(() => report(target), timeoutMs)
  send({ type: 'armed', name, id })
}

/** Opens `count` connections, `concurrency` at a time; `firstId` is what the snapshot of each said, when it has one. */
async function connect(message, open, index) {
  const { name, count, concurrency } = message
  let target = targets.get(name)
  if (!target) targets.set(name, (target = { name, conns: [], id: undefined, needle: undefined, pending: 0, timer: undefined }))
  const ids = []
  const errors = []
  let done = 0
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        next++
        try {
          const conn = await open(target, message, index)
          target.conns.push(conn)
          done++
          if (conn.firstId !== undefined) ids.push(conn.firstId)
        } catch (err) {
          errors.push(err.message)
        }
      }
    }),
  )
  send({
    type: 'connected',
    name,
    opened: done,
    conns: target.conns.length,
    failed: errors.length,
    error: errors[0],
    minId: ids.length ? Math.min(...ids) : null,
    maxId: ids.length ? Math.max(...ids) : null,
  })
}

/**
 * Answers the parent. `open(target, connectMessage, index)`: one connection
 * (index: this client's number), resolving once it can receive; `needle(id)`:
 * the bytes that mark the frame with that id; `close()`: drops every
 * connection; `more`: message type -> handler for other messages.
 */
export function serve({ open, needle, close, more = {} }) {
  let index = 0
  process.on('message', (message) => {
    switch (message.type) {
      case 'init':
        index = message.index
        send({ type: 'ready' })
        break
      case 'connect':
        connect(message, open, index).catch((err) => send({ type: 'connected', name: message.name, opened: 0, failed: message.count, error: err.message }))
        break
      case 'arm':
        arm(message, needle)
        break
      case 'stats':
        send({ type: 'stats', bytes, clockSkewMs: now() - Date.now() })
        break
      case 'close':
        close()
        process.disconnect()
        break
      default:
        more[message.type]?.(message)
    }
  })
}
