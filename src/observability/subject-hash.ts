// Subjects appear in logs only as a short keyed hash: enough to correlate one user's requests,
// not to read who they are. An unkeyed hash of a guessable id (usr_…, an email) is reversed by
// a dictionary, so the hash is an HMAC under a key derived from a deployment secret; anyone
// without the secret cannot test guesses. Hashes are cached per hasher (bounded).

import { hkdfHmacKey } from '../lib/symmetric'

const CACHE_MAX = 1000
const encoder = new TextEncoder()
/** HKDF info for the log-hash key; changing it changes every logged subject hash. */
const SUBJECT_HASH_INFO = 'gatehouse/subject-hash/v1'

export type SubjectHasher = (issuer: string, subject: string) => Promise<string>

/** A hasher keyed from `secret`: first 16 hex characters of HMAC-SHA256("<issuer>\n<subject>"). */
export function createSubjectHasher(secret: string): SubjectHasher {
  const key = hkdfHmacKey(secret, SUBJECT_HASH_INFO)
  const cache = new Map<string, string>()
  return async (issuer, subject) => {
    const input = `${issuer}\n${subject}`
    const hit = cache.get(input)
    if (hit !== undefined) return hit
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', await key, encoder.encode(input)))
    let hex = ''
    for (const b of mac.subarray(0, 8)) hex += b.toString(16).padStart(2, '0')
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string)
    cache.set(input, hex)
    return hex
  }
}
