// Number, size and time formatting for the dashboard. Pure functions, no DOM.

/** Seconds → "45 s", "3 min 20 s", "2 h 05 min". */
export function duration(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return '–'
  const s = Math.round(seconds)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`
}

/** How long ago `at` (epoch ms) was, seen from `now`. */
export function ago(at, now) {
  if (typeof at !== 'number' || !Number.isFinite(at)) return 'never'
  const s = Math.max(0, (now - at) / 1000)
  if (s < 1) return 'just now'
  return `${duration(s)} ago`
}

export function count(n) {
  return typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString('en-US') : '–'
}

export function ms(n) {
  return typeof n === 'number' && Number.isFinite(n) ? `${Math.round(n)} ms` : '–'
}

export function percent(fraction) {
  return `${Math.round(fraction * 100)} %`
}

export function clock(at) {
  return new Date(at).toLocaleTimeString('en-GB', { hour12: false })
}

/** A job id, short enough for a table (the full id goes in the title). */
export function shortId(id) {
  return typeof id === 'string' && id.length > 8 ? id.slice(0, 8) : String(id)
}
