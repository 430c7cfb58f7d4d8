import { once } from 'node:events'
import { createServer } from 'node:http'
import { connect, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { describe, expect, it } from 'vitest'
import type { Turns } from '../../src/realtime/turns.js'
import { paceUpgrades } from '../../src/realtime/upgrades.js'

describe('paceUpgrades', () => {
  const request = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n`

  async function serve(turns?: Pick<Turns, 'next'>, onUpgrade = () => {}) {
    const server = createServer()
    const seen: string[] = []
    server.on('upgrade', (req: { url: string }, socket: Duplex) => {
      onUpgrade()
      seen.push(req.url)
      socket.end('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n')
    })
    paceUpgrades(server, turns as Turns | undefined)
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as { port: number }
    const open = async (): Promise<Socket> => {
      const s = connect(port, '127.0.0.1')
      await once(s, 'connect')
      return s
    }
    return { server, seen, open }
  }

  it('hands upgrades read in one poll to the listeners one per turn of the loop', async () => {
    let ticks = 0
    let done = false
    const tick = (): void => {
      ticks++
      if (!done) setImmediate(tick)
    }
    const atTick: number[] = []
    const { server, seen, open } = await serve(undefined, () => atTick.push(ticks))
    let accepted = 0
    const allAccepted = new Promise<void>((resolve) => server.on('connection', () => ++accepted === 20 && resolve()))
    const sockets = await Promise.all(Array.from({ length: 20 }, open))
    await allAccepted
    const answers = sockets.map(async (s) => {
      let text = ''
      s.on('data', (d: Buffer) => (text += d.toString()))
      await once(s, 'end')
      return text
    })
    setImmediate(tick)
    sockets.forEach((s, i) => s.write(request(`/${i}`)))
    // Hold the loop while the kernel delivers them: the server reads all twenty in its next poll.
    const until = performance.now() + 50
    while (performance.now() < until);
    const texts = await Promise.all(answers)
    done = true
    server.close()
    expect(texts.every((t) => t.startsWith('HTTP/1.1 101'))).toBe(true)
    expect([...seen].sort()).toEqual(Array.from({ length: 20 }, (_, i) => `/${i}`).sort())
    // Each upgrade was handled in a turn of its own.
    expect(new Set(atTick).size).toBe(atTick.length)
  })

  it('destroys a socket reset while it waits, and never hands it on', async () => {
    let release!: () => void
    let queued!: () => void
    const waiting = new Promise<void>((r) => (queued = r))
    const gate = new Promise<void>((r) => (release = r))
    const { server, seen, open } = await serve({
      next: () => {
        queued()
        return gate
      },
    })
    const closed = new Promise<void>((resolve) => server.once('upgrade', (_req, socket: Duplex) => socket.once('close', () => resolve())))
    const gone = await open()
    gone.write(request('/gone'))
    await waiting
    gone.resetAndDestroy()
    await closed
    release()
    await new Promise((r) => setImmediate(r))
    server.close()
    expect(seen).toEqual([])
  })
})
