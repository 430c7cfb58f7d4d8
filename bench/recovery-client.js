// The load client of bench/recovery-storm.js (forked, IPC). Two roles:
// - devices: `positions` opens N identified connections, asks each its `all`
//   position (recover with no since) and closes them; `storm` reopens them all
//   at once, each sending recover since that position as soon as it is open,
//   and reports per device the time from the storm's start to its recover
//   answer, with the events replayed before it (each must be `missed`).
// - bystanders: `bystand` keeps `count` other connections sending `ping` at a
//   fixed rate, and reports each round trip's time tagged with when it began
//   (so the parent can split idle from storm).
import WebSocket from 'ws'

const send = (m) => process.send(m)
const open = (url) =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false })
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
    ws.once('unexpected-response', (_req, res) => {
      res.resume()
      reject(new Error(`GET ${url}: ${res.statusCode}`))
    })
  })

/** Opens `urls` with at most `concurrency` handshakes at a time. */
async function openAll(urls, concurrency, onOpen) {
  let next = 0
  const worker = async () => {
    while (next < urls.length) {
      const i = next++
      onOpen(i, await open(urls[i]))
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

const request = (ws, event, data) =>
  new Promise((resolve, reject) => {
    const id = `${event}-${Math.random().toString(36).slice(2)}`
    const onMessage = (raw) => {
      const m = JSON.parse(raw.toString('utf8'))
      if (m.request_id !== id) return
      ws.off('message', onMessage)
      if (m.type === 'response') resolve(m.data)
      else reject(new Error(`${event}: ${JSON.stringify(m.error)}`))
    }
    ws.on('message', onMessage)
    ws.send(JSON.stringify({ event, request_id: id, data }))
  })

let devices = []

async function positions({ url, count }) {
  const urls = Array.from({ length: count }, (_, i) => `${url}?device_id=storm-${i}`)
  const sockets = []
  await openAll(urls, 64, (i, ws) => (sockets[i] = ws))
  devices = await Promise.all(sockets.map(async (ws, i) => ({ url: urls[i], all: (await request(ws, 'recover', {})).streams.all })))
  for (const ws of sockets) ws.terminate()
  send({ type: 'positions', count: devices.length })
}

async function storm({ missed, timeoutMs }) {
  const started = performance.now()
  const times = []
  let wrong = 0
  let firstWrong
  const one = (d) =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(d.url, { perMessageDeflate: false })
      let replayed = 0
      ws.once('error', reject)
      ws.once('open', () => ws.send(JSON.stringify({ event: 'recover', request_id: 'r', data: { since: { all: d.all } } })))
      ws.on('message', (raw) => {
        // {"type":"e… : an event, counted without decoding it (this client shares a core with the bystanders').
        if (raw[9] === 0x65) {
          replayed++
          return
        }
        const text = raw.toString('utf8')
        const m = JSON.parse(text)
        if (m.request_id !== 'r') return
        times.push(performance.now() - started)
        if (m.type !== 'response' || m.data.streams.all.recovered !== true || replayed !== missed) {
          wrong++
          firstWrong ??= `${replayed} replayed: ${text.slice(0, 200)}`
        }
        ws.terminate()
        resolve()
      })
    })
  const timer = setTimeout(() => send({ type: 'storm', error: `not every device recovered in ${timeoutMs} ms (${times.length} of ${devices.length})` }), timeoutMs)
  try {
    await Promise.all(devices.map(one))
    clearTimeout(timer)
    send({ type: 'storm', times, wrong, firstWrong, seconds: (performance.now() - started) / 1000 })
  } catch (err) {
    clearTimeout(timer)
    send({ type: 'storm', error: err.message })
  }
}

let bystanders
async function bystand({ url, count, everyMs }) {
  const sockets = []
  await openAll(Array.from({ length: count }, (_, i) => `${url}?device_id=bystander-${i}`), 32, (i, ws) => (sockets[i] = ws))
  const samples = []
  const timers = sockets.map((ws, i) => {
    let n = 0
    const sent = new Map()
    ws.on('message', (raw) => {
      const m = /"request_id":"p(\d+)"/.exec(raw.toString('latin1'))
      const at = m && sent.get(m[1])
      if (at === undefined) return
      sent.delete(m[1])
      samples.push([at, performance.timeOrigin + performance.now() - at])
    })
    // Spread the connections over the period so the load is even.
    return setTimeout(() => {
      const tick = () => {
        const id = String(n++)
        sent.set(id, performance.timeOrigin + performance.now())
        ws.send(`{"event":"ping","request_id":"p${id}","data":{}}`)
      }
      tick()
      timers[i] = setInterval(tick, everyMs)
    }, (i * everyMs) / count)
  })
  bystanders = { sockets, timers, samples }
  send({ type: 'bystanding' })
}

function report() {
  const { sockets, timers, samples } = bystanders
  for (const t of timers) clearInterval(t)
  for (const ws of sockets) ws.terminate()
  send({ type: 'bystood', samples })
}

process.on('message', (m) => {
  const handlers = { positions, storm, bystand, report }
  Promise.resolve(handlers[m.type]?.(m)).catch((err) => send({ type: m.type, error: err.message }))
})
send({ type: 'ready' })
