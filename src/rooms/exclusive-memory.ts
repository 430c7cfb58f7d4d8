import type { ExclusiveStore, Mapping, StartResult, StopResult } from './types.js'

/** Seed 000's mappings in one process. Every method runs to completion before another starts, so each is atomic. */
export class MemoryExclusiveStore implements ExclusiveStore {
  private readonly mappings = new Map<string, Mapping>()
  /** pool → node → room: the nodes in use. */
  private readonly used = new Map<string, Map<string, string>>()

  async start(pool: string, room: string, nodes: readonly string[]): Promise<StartResult> {
    const current = this.mappings.get(room)
    if (current) return { status: current.state === 'stopped' ? 'stopped' : 'existing', node: current.node }
    const used = this.usedNodes(pool)
    for (const node of nodes) {
      const holder = used.get(node)
      if (holder !== undefined && this.mappings.get(holder)?.node === node) continue
      this.mappings.set(room, { room, node, state: 'started', duration: '', progress: '' })
      used.set(node, room)
      return { status: 'created', node }
    }
    return { status: 'full' }
  }

  async stop(room: string): Promise<StopResult> {
    const m = this.mappings.get(room)
    if (!m) return { status: 'missing' }
    if (m.state === 'stopped') return { status: 'already-stopped', mapping: { ...m } }
    m.state = 'stopped'
    return { status: 'stopped', mapping: { ...m } }
  }

  async get(room: string): Promise<Mapping | undefined> {
    const m = this.mappings.get(room)
    return m && { ...m }
  }

  async list(pool: string): Promise<Mapping[]> {
    const out: Mapping[] = []
    for (const [node, room] of this.usedNodes(pool)) {
      const m = this.mappings.get(room)
      if (m?.node === node) out.push({ ...m })
    }
    return out
  }

  async writeProgress(room: string, node: string, duration: string, progress: string): Promise<boolean> {
    const m = this.mappings.get(room)
    if (m?.node !== node) return false
    m.duration = duration
    m.progress = progress
    return true
  }

  async removeIf(pool: string, room: string, node: string, state: Mapping['state']): Promise<boolean> {
    const m = this.mappings.get(room)
    if (m?.node !== node || m.state !== state) return false
    this.mappings.delete(room)
    const used = this.usedNodes(pool)
    if (used.get(node) === room) used.delete(node)
    return true
  }

  /** Nothing writes these mappings but this store. */
  async adopt(): Promise<{ adopted: Mapping[]; conflicts: Mapping[] }> {
    return { adopted: [], conflicts: [] }
  }

  private usedNodes(pool: string): Map<string, string> {
    let used = this.used.get(pool)
    if (!used) this.used.set(pool, (used = new Map()))
    return used
  }
}
