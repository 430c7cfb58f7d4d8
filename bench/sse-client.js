// A load client of bench/sse-fanout.js (bench/load-client.js does the IPC and
// the rounds): opens event streams (one socket each) when told, then, once
// armed with an id, timestamps the arrival of the frame with that id on every
// stream. The only parsing is a byte search for "\nid: N\n" in what arrives.
import { Agent, request } from 'node:http'
import { arrived, now, received, serve, targets } from './load-client.js'

const agent = new Agent({ keepAlive: true, maxSockets: Infinity })
/** Bytes of the previous chunk kept, so a needle split between two chunks is still found. */
const TAIL = 32

/** One stream; resolves once its first frame with an id (the snapshot) is in, with firstId its id. */
function open(target, { url }) {
  return new Promise((resolve, reject) => {
    const stream = { res: undefined, tail: Buffer.alloc(0), at: NaN, open: true, firstId: undefined }
    let head = ''
    const req = request(url, { agent, headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume()
        reject(new Error(`GET ${url}: ${res.statusCode}`))
        return
      }
      stream.res = res
      res.on('data', (chunk) => {
        received(chunk.length)
        if (head !== undefined) {
          // Until its first frame with an id (the snapshot), the stream is not ready.
          head += chunk.toString('latin1')
          const m = /(?:^|\n)id: (\d+)\n/.exec(head)
          if (m) {
            head = undefined
            stream.firstId = Number(m[1])
            resolve(stream)
          }
        } else if (target.needle && Number.isNaN(stream.at)) {
          const t = now()
          const { needle } = target
          if (
            chunk.indexOf(needle) !== -1 ||
            Buffer.concat([stream.tail, chunk.subarray(0, needle.length - 1)]).indexOf(needle) !== -1
          ) {
            arrived(target, stream, t)
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

serve({
  open,
  needle: (id) => Buffer.from(`\nid: ${id}\n`, 'latin1'),
  close() {
    for (const t of targets.values()) for (const s of t.conns) s.res?.destroy()
    agent.destroy()
  },
})
