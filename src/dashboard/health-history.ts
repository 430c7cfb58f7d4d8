/**
 * Each health check's latency over time, for the dashboard's charts. The
 * monitor keeps only the latest samples, without times and without the runs
 * that got no answer; this keeps (time, latency or null) per completed run,
 * sampled every second from the monitor's snapshots, so a failing run shows
 * as a gap where it happened. Bounded: `size` points per check.
 */
import type { CheckSnapshot } from '../health/types.js'

/** Points kept per check: 10 minutes at the default 5 s interval. */
export const HISTORY_POINTS = 120

export interface LatencySeries {
  /** Epoch seconds of each run (uPlot's x axis). */
  t: number[]
  /** ms; null when the run got no answer. */
  ms: Array<number | null>
  /** Whether each run passed. */
  ok: boolean[]
}

interface Track extends LatencySeries {
  checkCount: number
}

export class HealthHistory {
  private readonly tracks = new Map<string, Track>()

  constructor(private readonly size = HISTORY_POINTS) {}

  /** Adds the runs completed since the last sample (at most one per check: the latest). */
  sample(checks: readonly CheckSnapshot[]): void {
    const seen = new Set<string>()
    for (const c of checks) {
      seen.add(c.name)
      let track = this.tracks.get(c.name)
      if (!track) this.tracks.set(c.name, (track = { checkCount: 0, t: [], ms: [], ok: [] }))
      if (c.checkCount === track.checkCount || c.lastCheck === null) continue
      track.checkCount = c.checkCount
      track.t.push(Date.parse(c.lastCheck) / 1000)
      track.ms.push(c.latency)
      track.ok.push(c.isHealthy)
      if (track.t.length > this.size) {
        track.t.shift()
        track.ms.shift()
        track.ok.shift()
      }
    }
    for (const name of this.tracks.keys()) if (!seen.has(name)) this.tracks.delete(name)
  }

  series(name: string): LatencySeries {
    const track = this.tracks.get(name)
    return track ? { t: track.t, ms: track.ms, ok: track.ok } : { t: [], ms: [], ok: [] }
  }
}
