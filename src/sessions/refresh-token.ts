// Refresh tokens: opaque `ghr1.<sid>.<secret>` strings with 256 bits of randomness. The sid is
// carried in the token so the session (and, when sessions are sharded, its database) is known
// without a lookup; only the SHA-256 of the whole token is stored. During the reuse window a
// rotated token's successor is kept sealed with AES-GCM under a key derived from the rotated
// token itself: the database alone cannot reveal it, only a client presenting the parent can.

import { decodeBase64Url, encodeBase64Url } from '../verify/base64url'

const PREFIX = 'ghr1'
const SECRET_BYTES = 32
const SESSION_ID_BYTES = 16
const GCM_IV_BYTES = 12
const SEAL_SALT = 'gatehouse/refresh-successor/v1'
const TOKEN = /^ghr1\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/
const encoder = new TextEncoder()

function randomId(bytes: number): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(bytes)))
}

/** A new session id: 128 random bits, base64url. */
export function newSessionId(): string {
  return randomId(SESSION_ID_BYTES)
}

/** A new refresh token for a session. */
export function newRefreshToken(sid: string): string {
  return `${PREFIX}.${sid}.${randomId(SECRET_BYTES)}`
}

/** Returns the session id of a well-formed refresh token, or null. */
export function refreshTokenSessionId(token: string): string | null {
  const m = TOKEN.exec(token)
  return m === null || decodeBase64Url(m[2] as string) === null ? null : (m[1] as string)
}

/** SHA-256 of the token, base64url: the only form that is stored. */
export async function hashRefreshToken(token: string): Promise<string> {
  return encodeBase64Url(
    new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(token))),
  )
}

async function sealKey(parent: string): Promise<CryptoKey> {
  const ikm = await crypto.subtle.importKey('raw', encoder.encode(parent), 'HKDF', false, [
    'deriveKey',
  ])
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: encoder.encode(SEAL_SALT), info: new Uint8Array(0) },
    ikm,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  )
}

/** Seals the successor under the parent token: base64url(iv ‖ ciphertext). */
export async function sealSuccessor(successor: string, parent: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(GCM_IV_BYTES))
  const ct = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv },
    await sealKey(parent),
    encoder.encode(successor),
  )
  const out = new Uint8Array(GCM_IV_BYTES + ct.byteLength)
  out.set(iv)
  out.set(new Uint8Array(ct), GCM_IV_BYTES)
  return encodeBase64Url(out)
}

/** Opens a sealed successor with the parent token; null when it does not open. */
export async function unsealSuccessor(sealed: string, parent: string): Promise<string | null> {
  const bytes = decodeBase64Url(sealed)
  if (bytes === null || bytes.length <= GCM_IV_BYTES) return null
  try {
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: bytes.subarray(0, GCM_IV_BYTES) },
      await sealKey(parent),
      bytes.subarray(GCM_IV_BYTES),
    )
    return new TextDecoder().decode(plain)
  } catch {
    return null
  }
}
