// A load client of bench/sse-fanout.js, started with an IPC channel: opens
// event streams (one socket each) when told, then, once armed with an id,
// timestamps the arrival of the frame with that id on every stream and sends
// the times back. Times are epoch ms (performance.timeOrigin + now()), so
// they compare with the parent's on the same machine. The only parsing is a
// byte search for "\nid: N\n" in what arrives.
import { Agent, request } from 'node:http'

const agent = new Agent({ keepAlive: true, maxSockets: Infinity })
const now = () => performance.timeOrigin + performance.now()
/** Bytes of the previous chunk kept, so a needle split between two chunks is still found. */
const TAIL = 32

/** name -> { streams, needle, pending, timer, id } */
const targets = new Map()
let bytes = 0

function send(message) {
  process.send(message)
}

function open(target, url) {
  return new Promise((resolve, reject) => {
    const stream = { res: undefined, tail: Buffer.alloc(0), at: NaN, open: true }
    let head = ''
    const req = request(url, { agent, headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume()
        reject(new Error(`GET ${url}: ${res.statusCode}`))
        return
      }
      stream.res = res
      res.on('data', (chunk) => {
        bytes += chunk.length
        if (head !== undefined) {
          // Until its first frame with an id (the snapshot), the stream is not ready.
          head += chunk.toString('latin1')
          const m = /(?:^|\n)id: (\d+)\n/.exec(head)
          if (m) {
            head = undefined
            resolve({ stream, id: Number(m[1]) })
          }
        } else if (target.needle && Number.isNaN(stream.at)) {
          const t = now()
          const { needle } = target
          if (
            chunk.indexOf(needle) !== -1 ||
            Buffer.concat([stream.tail, chunk.subarray(0, needle.length - 1)]).indexOf(needle) !== -1
          ) {
            stream.at = t
            if (--target.pending === 0) report(target)
          }
        }
        stream.tail = Buffer.from(chunk.subarray(Math.max(0, chunk.length - TAIL)))
      })
      res.on('close', () => {
        stream.open = false
        if (head !== undefined) reject(new Error(`GET ${url}: closed before its first event`))
      })
    })
    req.on('error', reject)
    req.end()
  })
}

async function connect({ name, url, count, concurrency }) {
  const target = targets.get(name) ?? { streams: [], needle: undefined, pending: 0, timer: undefined }
  targets.set(name, target)
  const ids = []
  const errors = []
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        next++
        try {
          const { stream, id } = await open(target, url)
          target.streams.push(stream)
          ids.push(id)
        } catch (err) {
          errors.push(err.message)
        }
      }
    }),
  )
  send({
    type: 'connected',
    name,
    opened: ids.length,
    streams: target.streams.length,
    failed: errors.length,
    error: errors[0],
    minId: ids.length ? Math.min(...ids) : null,
    maxId: ids.length ? Math.max(...ids) : null,
  })
}

/** Sends the arrival times of the armed id (null: not arrived, or the stream is gone) and disarms. */
function report(target) {
  clearTimeout(target.timer)
  const times = target.streams.map((s) => (Number.isNaN(s.at) ? null : s.at))
  const { id } = target
  target.needle = undefined
  send({ type: 'times', name: target.name, id, times, lost: target.streams.filter((s) => !s.open).length })
}

function arm({ name, id, timeoutMs }) {
  const target = targets.get(name)
  target.name = name
  target.id = id
  for (const s of target.streams) s.at = NaN
  target.pending = target.streams.length
  target.needle = Buffer.from(`\nid: ${id}\n`, 'latin1')
  target.timer = setTimeout(() => report(target), timeoutMs)
  send({ type: 'armed', name, id })
}

process.on('message', (message) => {
  switch (message.type) {
    case 'connect':
      connect(message).catch((err) => send({ type: 'connected', name: message.name, opened: 0, failed: message.count, error: err.message }))
      break
    case 'arm':
      arm(message)
      break
    case 'stats':
      send({ type: 'stats', bytes, clockSkewMs: now() - Date.now() })
      break
    case 'close':
      for (const t of targets.values()) for (const s of t.streams) s.res?.destroy()
      agent.destroy()
      process.disconnect()
      break
  }
})
send({ type: 'ready' })
