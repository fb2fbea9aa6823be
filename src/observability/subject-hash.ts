// Subjects appear in logs only as a short hash: enough to correlate one user's requests, not to
// read who they are. Hashes are cached per isolate (bounded) so a busy user costs one digest.

const CACHE_MAX = 1000
const cache = new Map<string, string>()
const encoder = new TextEncoder()

/** First 16 hex characters of SHA-256("<issuer>\n<subject>"). */
export async function subjectHash(issuer: string, subject: string): Promise<string> {
  const key = `${issuer}\n${subject}`
  const hit = cache.get(key)
  if (hit !== undefined) return hit
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(key)))
  let hex = ''
  for (const b of digest.subarray(0, 8)) hex += b.toString(16).padStart(2, '0')
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string)
  cache.set(key, hex)
  return hex
}
