/** URL checks the CLI shares (engine URLs in config and flags, Data Source URLs). */

/** `text` (trimmed) as a URL when it is an http(s) one, else undefined. */
export function httpUrl(text: string): URL | undefined {
  let u: URL;
  try {
    u = new URL(text.trim());
  } catch {
    return undefined;
  }
  return u.protocol === 'http:' || u.protocol === 'https:' ? u : undefined;
}
