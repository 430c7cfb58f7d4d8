/**
 * An expensive read, reused while it is fresh enough: a result is kept for
 * `factor` times as long as it took to get (at least `minMs`), so the read
 * never takes more than 1/factor of the time however large the data grows
 * (listing every room of a big pool scans all of them in Redis).
 */
export function paced<T>(read: () => Promise<T>, minMs: number, factor = 20): () => Promise<T> {
  let last: { value: T; at: number; tookMs: number } | undefined
  return async () => {
    const now = Date.now()
    if (last && now - last.at < Math.max(minMs, last.tookMs * factor)) return last.value
    const value = await read()
    last = { value, at: now, tookMs: Date.now() - now }
    return value
  }
}
