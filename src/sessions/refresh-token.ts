// Refresh tokens: opaque `ghr1.<sid>.<secret>` strings with 256 bits of randomness. The sid is
// carried in the token so the session and its shard (the sid names its bucket,
// src/storage/placement.ts) are known without a lookup; only the SHA-256 of the whole token is stored. During the reuse window a
// rotated token's successor is kept sealed with AES-GCM under a key derived from the rotated
// token itself: the database alone cannot reveal it, only a client presenting the parent can.

import { deriveSealingKey, openSealedText, sealText } from '../lib/symmetric'
import { decodeBase64Url, encodeBase64Url } from '../lib/base64url'
import { isSessionId } from '../storage/placement'

const PREFIX = 'ghr1'
const SECRET_BYTES = 32
const SEAL_SALT = 'gatehouse/refresh-successor/v1'
const TOKEN = /^ghr1\.([A-Za-z0-9_-]{22,25})\.([A-Za-z0-9_-]{43})$/
const encoder = new TextEncoder()

function randomId(bytes: number): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(bytes)))
}

/** A new refresh token for a session. */
export function newRefreshToken(sid: string): string {
  return `${PREFIX}.${sid}.${randomId(SECRET_BYTES)}`
}

/** Returns the session id of a well-formed refresh token, or null. */
export function refreshTokenSessionId(token: string): string | null {
  const m = TOKEN.exec(token)
  if (m === null || !isSessionId(m[1] as string) || decodeBase64Url(m[2] as string) === null) {
    return null
  }
  return m[1] as string
}

/** SHA-256 of the token, base64url: the only form that is stored. */
export async function hashRefreshToken(token: string): Promise<string> {
  return encodeBase64Url(
    new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(token))),
  )
}

/** Seals the successor under the parent token: only a client presenting the parent opens it. */
export async function sealSuccessor(successor: string, parent: string): Promise<string> {
  return sealText(await deriveSealingKey(parent, SEAL_SALT), successor)
}

/** Opens a sealed successor with the parent token; null when it does not open. */
export async function unsealSuccessor(sealed: string, parent: string): Promise<string | null> {
  return openSealedText(await deriveSealingKey(parent, SEAL_SALT), sealed)
}
