/** The CLI's job progress display: the pure line formatter, and when the view writes (TTY redraw vs plain lines). */
import { describe, expect, it } from 'vitest'
import type { JobView } from '../../src/jobs/view.js'
import {
  etaSeconds,
  formatEta,
  formatProgress,
  formatRate,
  progressBar,
  ProgressView,
  RateMeter,
  snapshotOf,
  type ProgressSnapshot,
  type Terminal,
} from '../../src/cli/progress.js'
import { MAX_EVENT_CHARS, SseParser, SseTooLarge } from '../../src/cli/sse.js'
import { printable } from '../../src/cli/format.js'
import { table } from '../../src/cli/format.js'

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

function job(status: string, doneBytes: number, totalBytes = 10 * MIB, mbps: number | null = null): JobView {
  return {
    id: '6bb4629b-0000-4000-8000-000000000000',
    status,
    totalFiles: 10,
    progress: {
      files: { completed: Math.floor((doneBytes / totalBytes) * 10), failed: 0, total: 10, percentage: 0 },
      size: { completedBytes: doneBytes, totalBytes, completedReadable: '', totalReadable: '', percentage: 0 },
      percentage: 0,
    },
    throughput: mbps === null ? null : { mbps, readable: `${mbps} MB/s`, timestamp: '' },
    createdAt: null,
    startedAt: null,
    completedAt: null,
    error: null,
  } as unknown as JobView
}

function fakeTerminal(isTTY: boolean, columns = 120): Terminal & { text: string } {
  const t = { isTTY, columns, text: '', write: (s: string) => void (t.text += s) }
  return t
}

describe('formatProgress', () => {
  it.each([
    {
      desc: 'running on a TTY: bar, percentage, files, bytes, rate, ETA',
      s: snap(),
      bar: true,
      want: 'running    [##########--------------]   40.0%  12/30 files  400.0 MB / 1000.0 MB  100.0 MB/s  ETA 6s',
    },
    {
      desc: 'plain: the same without the bar',
      s: snap(),
      bar: false,
      want: 'running     40.0%  12/30 files  400.0 MB / 1000.0 MB  100.0 MB/s  ETA 6s',
    },
    {
      desc: 'failed files are counted in the files figure and named',
      s: snap({ filesDone: 5, filesFailed: 2, filesTotal: 5, bytesDone: 1000 * MIB, status: 'completed' }),
      bar: false,
      want: 'completed  100.0%  5/5 files (2 failed)  1000.0 MB / 1000.0 MB',
    },
    {
      desc: 'pending: no rate and no ETA',
      s: snap({ status: 'pending', filesDone: 0, bytesDone: 0, bps: null }),
      bar: true,
      want: 'pending    [------------------------]    0.0%  0/30 files  0 B / 1000.0 MB',
    },
    {
      desc: 'running without a known rate: ETA unknown',
      s: snap({ bps: null }),
      bar: false,
      want: 'running     40.0%  12/30 files  400.0 MB / 1000.0 MB  -  ETA --',
    },
    {
      desc: 'a job of empty files goes by files',
      s: snap({ bytesDone: 0, bytesTotal: 0, filesDone: 1, filesTotal: 4 }),
      bar: false,
      want: 'running     25.0%  1/4 files  0 B / 0 B  100.0 MB/s  ETA 0s',
    },
  ])('$desc', ({ s, bar, want }) => {
    expect(formatProgress(s, { bar })).toBe(want)
  })

  it('never shows 100% before everything is read', () => {
    expect(formatProgress(snap({ bytesDone: 999_999, bytesTotal: 1_000_000 }))).toContain(' 99.9%')
  })
})

describe('the small formatters', () => {
  it.each([
    { desc: 'seconds', s: 42.2, want: '43s' },
    { desc: 'minutes and seconds', s: 185, want: '3m05s' },
    { desc: 'hours and minutes', s: 3720, want: '1h02m' },
    { desc: 'unknown', s: null, want: '--' },
    { desc: 'infinite', s: Infinity, want: '--' },
  ])('formatEta: $desc', ({ s, want }) => {
    expect(formatEta(s)).toBe(want)
  })

  it('formatRate uses binary units, like the server', () => {
    expect(formatRate(125.5 * MIB)).toBe('125.5 MB/s')
    expect(formatRate(512 * 1024)).toBe('512.0 KB/s')
    expect(formatRate(null)).toBe('-')
  })

  it('progressBar clamps to its width', () => {
    expect(progressBar(0.5, 10)).toBe('[#####-----]')
    expect(progressBar(2, 4)).toBe('[####]')
    expect(progressBar(-1, 4)).toBe('[----]')
  })

  it('etaSeconds is remaining bytes over the rate, only while running', () => {
    expect(etaSeconds(snap())).toBe(6)
    expect(etaSeconds(snap({ status: 'completed' }))).toBeNull()
    expect(etaSeconds(snap({ bps: 0 }))).toBeNull()
  })

  it("snapshotOf prefers the server's throughput, else the local estimate", () => {
    expect(snapshotOf(job('running', MIB, 10 * MIB, 2), 5).bps).toBe(2 * MIB)
    expect(snapshotOf(job('running', MIB), 5).bps).toBe(5)
  })

  it('RateMeter measures bytes per second over its samples', () => {
    const m = new RateMeter()
    m.add(0, 0)
    expect(m.bps()).toBeNull()
    m.add(MIB, 1_000)
    expect(m.bps()).toBe(MIB)
    m.add(4 * MIB, 2_000)
    expect(m.bps()).toBe(2 * MIB)
  })

  it('table aligns columns and leaves the last one unpadded', () => {
    expect(table(['A', 'LONGER'], [['xyz', '1'], ['q', '22']])).toBe('A    LONGER\nxyz  1\nq    22')
  })
})

describe('ProgressView', () => {
  it('on a TTY redraws one line with \\r and ends it with a newline', () => {
    let now = 0
    const term = fakeTerminal(true)
    const view = new ProgressView(term, () => now)
    view.update(job('running', MIB))
    now = 100
    view.update(job('running', 2 * MIB))
    view.finish()
    expect(term.text.startsWith('\r')).toBe(true)
    expect(term.text.split('\r')).toHaveLength(3)
    expect(term.text.endsWith('\n')).toBe(true)
    expect(term.text.match(/\n/g)).toHaveLength(1)
    expect(term.text).toContain('[##')
  })

  it('on a TTY never draws past the terminal width', () => {
    const term = fakeTerminal(true, 40)
    new ProgressView(term, () => 0).update(job('running', MIB))
    const line = term.text.replace('\r', '').replace('\x1b[K', '')
    expect(line.length).toBeLessThanOrEqual(39)
  })

  it('writes a note above the bar and draws the bar again', () => {
    const term = fakeTerminal(true)
    const view = new ProgressView(term, () => 0)
    view.update(job('running', MIB))
    term.text = ''
    view.note('failed: a.mov')
    expect(term.text.startsWith('\r\x1b[Kfailed: a.mov\nrunning')).toBe(true)
  })

  it('elsewhere prints plain lines at most once a second, plus every change of state and the last update', () => {
    let now = 0
    const term = fakeTerminal(false)
    const view = new ProgressView(term, () => now)
    view.update(job('pending', 0))
    view.update(job('running', MIB)) // a change of state: printed at once
    for (now = 100; now < 900; now += 100) view.update(job('running', MIB + now)) // within the second: held
    now = 1_200
    view.update(job('running', 5 * MIB)) // a second later: printed
    now = 1_300
    view.update(job('running', 6 * MIB)) // held, then printed by finish()
    view.finish()
    const lines = term.text.trimEnd().split('\n')
    expect(term.text).not.toContain('\r')
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(['pending', 'running', 'running', 'running'])
    expect(lines[3]).toContain('6.0 MB / 10.0 MB')
  })
})

describe('SseParser', () => {
  it('splits events across chunks, joins data lines, skips comments, keeps ids', () => {
    const p = new SseParser()
    expect(p.feed('event: connected\ndata: {"project":"demo"}\n')).toEqual([])
    expect(p.feed('\n: comment\nid: 7\nevent: status_update\ndata: {"a":\r\ndata: 1}\r\n\r')).toEqual([
      { event: 'connected', id: undefined, data: '{"project":"demo"}' },
    ])
    expect(p.feed('\n')).toEqual([{ event: 'status_update', id: '7', data: '{"a":\n1}' }])
  })

  it('refuses a line, or an event, larger than the cap instead of buffering it forever', () => {
    const endless = new SseParser()
    const chunk = 'x'.repeat(1024 * 1024)
    expect(() => {
      endless.feed('data: ')
      for (let i = 0; i <= MAX_EVENT_CHARS / chunk.length; i++) endless.feed(chunk)
    }).toThrow(SseTooLarge)
    const many = new SseParser()
    const line = `data: ${'y'.repeat(1024 * 1024)}\n`
    expect(() => {
      for (let i = 0; i <= MAX_EVENT_CHARS / (1024 * 1024); i++) many.feed(line)
    }).toThrow(SseTooLarge)
  })
})

describe('printable', () => {
  it('shows control characters from the server instead of sending them to the terminal', () => {
    expect(printable('a\x1b]0;pwned\x07b\nc')).toBe('a\\x1b]0;pwned\\x07b\\x0ac')
    expect(printable('Farm00103.mov')).toBe('Farm00103.mov')
  })
})
