/**
 * "Did you mean …?" for a mistyped name: the CLI's options and commands and
 * the config's keys share this one implementation.
 */

/** Edit distance counting an insertion, a deletion, a substitution or a swap of two neighbours as one (`prot` → `port` is 1). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1)
      d[i]![j] = best
    }
  }
  return d[a.length]![b.length]!
}

/** How many edits still look like a typo rather than another word: 1 for short names, up to 3 for long ones. */
const closeEnough = (name: string) => (name.length <= 3 ? 1 : name.length <= 6 ? 2 : 3)

/**
 * The candidate `name` was most likely meant to be, or undefined when none is
 * close: within a few edits (case ignored), or a candidate that starts with
 * `name` (`conf` → `config`). Ties go to the earlier candidate.
 */
export function nearest(name: string, candidates: Iterable<string>): string | undefined {
  const typed = name.toLowerCase()
  let best: { candidate: string; distance: number } | undefined
  for (const candidate of candidates) {
    if (candidate === name) continue
    const lower = candidate.toLowerCase()
    const distance = typed.length >= 3 && lower.startsWith(typed) ? 1 : editDistance(typed, lower)
    if (distance <= closeEnough(typed) && (best === undefined || distance < best.distance)) best = { candidate, distance }
  }
  return best?.candidate
}

/** ` (did you mean "port"?)`, or nothing when no candidate is close; `quote` formats the suggestion. */
export function didYouMean(name: string, candidates: Iterable<string>, quote: (s: string) => string = (s) => JSON.stringify(s)): string {
  const match = nearest(name, candidates)
  return match === undefined ? '' : ` (did you mean ${quote(match)}?)`
}
