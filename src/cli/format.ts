/**
 * Text output for people: aligned tables, `key  value` blocks, and the small
 * formatters they share. `--json` bypasses all of it.
 */
import { readableSize } from '../jobs/view.js'

export { readableSize }

/** `file` for 1, `files` otherwise ("1 files" was issue 16). */
export const filesWord = (n: number): string => (n === 1 ? 'file' : 'files')

/**
 * Text from the server made safe for a terminal: control characters (escape
 * sequences could move the cursor, retitle the window or hide text) are shown
 * as `\xNN` instead of being obeyed.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}

/** Columns padded to their widest cell; the last column is not padded. Cells are made printable. */
export function table(headers: readonly string[], raw: ReadonlyArray<readonly string[]>): string {
  const rows = raw.map((r) => r.map(printable))
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(headers), ...rows.map(line)].join('\n')
}

/** `key  value` lines, keys aligned; entries whose value is undefined are left out. */
export function fields(entries: ReadonlyArray<readonly [string, string | undefined]>): string {
  const shown = entries.filter((e): e is readonly [string, string] => e[1] !== undefined)
  const width = Math.max(0, ...shown.map(([k]) => k.length))
  return shown.map(([k, v]) => `${k.padEnd(width)}  ${printable(v)}`).join('\n')
}

/** An ISO time as `2025-01-31 12:00:01Z`, or `-`. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '-'
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')
}

/** Natural order: `A-2` before `A-10`. */
export const natural = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true })

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value))
}
