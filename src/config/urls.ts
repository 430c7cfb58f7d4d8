/** The URL checks config sections share. */

/** The parsed URL, or why it is not an absolute http(s) one. */
export function httpUrl(text: string): URL | string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return 'must be an absolute http(s) URL'
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must use http or https, got ${url.protocol}`
  return url
}
