// Server-provided DPoP nonces (RFC 9449 §8, §9), stateless: a nonce is a time window and an
// HMAC of it under a key derived from a deployment secret, so every isolate issues and accepts
// the same nonces without storage. A nonce is accepted during its own window and the next one:
// a client that just received one always has at least one full window to use it.

import { decodeBase64Url, encodeBase64Url } from '../lib/base64url'
import { hkdfHmacKey } from '../lib/symmetric'

/** How long one nonce window lasts (a nonce lives between one and two windows). */
export const NONCE_WINDOW_SECONDS = 300
const encoder = new TextEncoder()

export class DpopNonces {
  private key: Promise<CryptoKey> | null = null

  constructor(private readonly secret: string) {}

  private hmacKey(): Promise<CryptoKey> {
    this.key ??= hkdfHmacKey(this.secret, 'gatehouse/dpop-nonce/v1')
    return this.key
  }

  private async mac(window: number): Promise<string> {
    const tag = await crypto.subtle.sign(
      'HMAC',
      await this.hmacKey(),
      encoder.encode(String(window)),
    )
    return encodeBase64Url(new Uint8Array(tag).subarray(0, 16))
  }

  /** The nonce of the current window. */
  async current(nowSeconds: number): Promise<string> {
    const window = Math.floor(nowSeconds / NONCE_WINDOW_SECONDS)
    return `${window.toString(36)}.${await this.mac(window)}`
  }

  /** Whether a nonce is one of ours, from this window or the previous one. */
  async accepts(nonce: string, nowSeconds: number): Promise<boolean> {
    const m = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{22})$/.exec(nonce)
    if (m === null || decodeBase64Url(m[2] as string) === null) return false
    const window = Number.parseInt(m[1] as string, 36)
    const now = Math.floor(nowSeconds / NONCE_WINDOW_SECONDS)
    if (window !== now && window !== now - 1) return false
    const expected = await this.mac(window)
    // Both strings are fixed-length base64url of a MAC; compare without an early exit.
    let diff = 0
    for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ m[2]!.charCodeAt(i)
    return diff === 0
  }
}
