/**
 * Regressions of issue 16: the TTY progress line was cut at 80 columns, losing
 * throughput and ETA, and said "1 files". It now fits the terminal by shortening
 * the lower-priority parts first.
 */
import { describe, expect, it } from 'vitest'
import { fitProgress, formatProgress, ProgressView, type ProgressSnapshot, type Terminal } from '../../src/cli/progress.js'

const MIB = 1024 * 1024

const snap = (over: Partial<ProgressSnapshot> = {}): ProgressSnapshot => ({
  status: 'running',
  filesDone: 12,
  filesFailed: 0,
  filesTotal: 30,
  bytesDone: 400 * MIB,
  bytesTotal: 1000 * MIB,
  bps: 100 * MIB,
  ...over,
})

describe('fitProgress', () => {
  it.each([
    {
      desc: 'wide terminal: everything, with the full bar',
      width: 120,
      want: 'running    [##########--------------]   40.0%  12/30 files  400.0 MB / 1000.0 MB  100.0 MB/s  ETA 6s',
    },
    {
      desc: 'a little narrower: the bar shrinks',
      width: 95,
      want: 'running    [########-----------]   40.0%  12/30 files  400.0 MB / 1000.0 MB  100.0 MB/s  ETA 6s',
    },
    {
      desc: '80 columns: the bar goes, throughput and ETA stay',
      width: 79,
      want: 'running     40.0%  12/30 files  400.0 MB / 1000.0 MB  100.0 MB/s  ETA 6s',
    },
    {
      desc: '60 columns: bar and bytes go first, throughput and ETA stay',
      width: 60,
      want: 'running     40.0%  12/30 files  100.0 MB/s  ETA 6s',
    },
  ])('$desc', ({ width, want }) => {
    const line = fitProgress(snap(), width)
    expect(line).toBe(want)
    expect(line.length).toBeLessThanOrEqual(width)
  })

  it('keeps throughput and ETA at any width from 60, even with large counts and failures', () => {
    const s = snap({ filesDone: 99_999, filesTotal: 99_999, filesFailed: 999, bytesDone: 999 * 1024 * MIB, bytesTotal: 1000 * 1024 * MIB, bps: 1023.9 * MIB })
    for (let width = 60; width <= 200; width++) {
      const line = fitProgress({ ...s, bytesDone: s.bytesDone - 1 }, width)
      expect(line.length, `width ${width}`).toBeLessThanOrEqual(width)
      expect(line, `width ${width}`).toMatch(/MB\/s {2}ETA \S+$/)
    }
  })

  it('never passes the width below 60 either', () => {
    for (let width = 10; width < 60; width++) expect(fitProgress(snap(), width).length).toBeLessThanOrEqual(width)
  })
})

describe('one file is "1 file"', () => {
  it.each([
    { desc: 'one file in all', s: snap({ filesDone: 1, filesTotal: 1 }), has: '1/1 file ', lacks: 'files' },
    { desc: 'none of one', s: snap({ filesDone: 0, filesTotal: 1 }), has: '0/1 file ', lacks: 'files' },
    { desc: 'several', s: snap({ filesDone: 1, filesTotal: 2 }), has: '1/2 files', lacks: 'file ' },
  ])('$desc', ({ s, has, lacks }) => {
    const line = formatProgress(s)
    expect(line).toContain(has)
    expect(line).not.toContain(lacks)
  })
})

describe('ProgressView on a TTY', () => {
  function term(columns: number | undefined): Terminal & { text: string } {
    const t = { isTTY: true, columns, text: '', write: (s: string) => void (t.text += s) }
    return t
  }
  const job = {
    id: 'j',
    status: 'running',
    progress: { files: { completed: 12, failed: 0, total: 30 }, size: { completedBytes: 400 * MIB, totalBytes: 1000 * MIB } },
    throughput: { mbps: 100 },
  } as never

  it('fits an 80-column terminal without losing throughput and ETA', () => {
    const t = term(80)
    new ProgressView(t, () => 0).update(job)
    const line = t.text.replace('\r', '').replace('\x1b[K', '')
    expect(line.length).toBeLessThanOrEqual(79)
    expect(line).toMatch(/100\.0 MB\/s {2}ETA 6s$/)
  })

  it('follows a resized terminal', () => {
    const t = term(200)
    const view = new ProgressView(t, () => 0)
    view.update(job)
    t.columns = 62
    t.text = ''
    view.update(job)
    expect(t.text.replace('\r', '').replace('\x1b[K', '').length).toBeLessThanOrEqual(61)
  })
})

describe('the end-of-watch summary says "1 file" too', () => {
  it('1 of 1 file', async () => {
    const { summary } = await import('../../src/cli/jobs.js')
    const job = {
      id: 'j1',
      status: 'completed',
      progress: { files: { completed: 1, failed: 0, total: 1 }, size: { completedReadable: '1.0 KB' } },
      startedAt: null,
      completedAt: null,
      error: null,
    } as never
    expect(summary(job)).toBe('job j1 completed: 1 of 1 file, 1.0 KB')
  })
})
