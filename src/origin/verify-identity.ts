// The origin-side check that a request really came through Gatehouse: HMAC-SHA256 signature
// over method, target, timestamp, nonce and identity headers (constant-time, via WebCrypto),
// a freshness window, and a nonce cache that refuses replays inside that window. Runs unchanged
// in Node ≥ 20, Deno, Bun and Workers; it imports nothing outside this folder.

import {
  HEADER,
  SIGNATURE_VERSION,
  SIGNED_HEADERS,
  canonicalString,
  decodeIdentityValue,
  type SignedHeader,
} from './identity-headers'

export interface GatewayIdentity {
  /** null on routes that need no token: the request came through the gateway anonymously. */
  readonly subject: string | null
  readonly issuer: string | null
  readonly tenant: string | null
  readonly scopes: readonly string[]
  readonly session: string | null
  readonly client: string | null
  /**
   * The thumbprint of the DPoP key the caller's token is bound to (RFC 9449 `cnf.jkt`): the
   * gateway checked the caller's proof by that key. null for a bearer token.
   */
  readonly dpopKey: string | null
  /** What the gateway did about revocation: "checked", "skipped; tier=low", … */
  readonly revocation: string | null
  readonly requestId: string | null
}

export type IdentityFailure =
  | 'missing_signature'
  | 'malformed'
  | 'stale'
  | 'bad_signature'
  | 'replayed'

export type IdentityResult =
  | { readonly ok: true; readonly identity: GatewayIdentity }
  | { readonly ok: false; readonly reason: IdentityFailure }

/** Header access for a WHATWG Headers object or Node's `req.headers` record. */
export type HeaderSource = Headers | Readonly<Record<string, string | string[] | undefined>>

export interface IncomingRequest {
  readonly method: string
  /** Path and query exactly as received (Node: `req.url`; fetch: pathname + search). */
  readonly target: string
  readonly headers: HeaderSource
}

export interface IdentityVerifierOptions {
  /** The origin's secret first; during a rotation also the previous one. */
  readonly secrets: readonly string[]
  /** Accepted clock difference between gateway and origin, seconds (default 60). */
  readonly maxAgeSeconds?: number
  /** Nonces remembered for replay detection; size it ≥ peak requests/s × 2 × maxAgeSeconds. */
  readonly replayCacheSize?: number
  /** Epoch milliseconds; injectable for tests. */
  readonly now?: () => number
}

const DEFAULT_MAX_AGE_SECONDS = 60
const DEFAULT_REPLAY_CACHE_SIZE = 100_000
const NONCE = /^[A-Za-z0-9_-]{16,64}$/
const encoder = new TextEncoder()

/** Returns a function that checks one incoming request; it never throws for bad input. */
export function createIdentityVerifier(
  options: IdentityVerifierOptions,
): (request: IncomingRequest) => Promise<IdentityResult> {
  if (options.secrets.length === 0) throw new Error('createIdentityVerifier: no secret given')
  const maxAgeMs = (options.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS) * 1000
  const now = options.now ?? Date.now
  const keys = Promise.all(options.secrets.map(importHmacKey))
  const seen = new NonceCache(options.replayCacheSize ?? DEFAULT_REPLAY_CACHE_SIZE)

  return async (request) => {
    const get = headerGetter(request.headers)
    const signatureHeader = get(HEADER.signature)
    if (signatureHeader === null) return fail('missing_signature')
    const prefix = `${SIGNATURE_VERSION}=`
    const timestamp = get(HEADER.timestamp) ?? ''
    const nonce = get(HEADER.nonce) ?? ''
    if (
      !signatureHeader.startsWith(prefix) ||
      !/^\d{1,12}$/.test(timestamp) ||
      !NONCE.test(nonce)
    ) {
      return fail('malformed')
    }
    const signature = decodeBase64Url(signatureHeader.slice(prefix.length))
    if (signature === null || signature.length !== 32) return fail('malformed')
    const sentAtMs = Number(timestamp) * 1000
    const nowMs = now()
    if (Math.abs(nowMs - sentAtMs) > maxAgeMs) return fail('stale')
    const headers: Partial<Record<SignedHeader, string>> = {}
    for (const name of SIGNED_HEADERS) headers[name] = get(name) ?? ''
    const data = encoder.encode(
      canonicalString({
        method: request.method,
        target: request.target,
        timestamp,
        nonce,
        headers,
      }),
    )
    let valid = false
    for (const key of await keys) {
      if (await crypto.subtle.verify('HMAC', key, signature, data)) valid = true
    }
    if (!valid) return fail('bad_signature')
    // Only a verified request may occupy the replay cache, so forgeries cannot flush it.
    if (!seen.add(nonce, sentAtMs + maxAgeMs, nowMs)) return fail('replayed')
    return readIdentity(headers)
  }
}

function readIdentity(h: Partial<Record<SignedHeader, string>>): IdentityResult {
  const decoded: Record<string, string | null> = {}
  for (const name of SIGNED_HEADERS) {
    const raw = h[name] ?? ''
    const value = raw === '' ? null : decodeIdentityValue(raw)
    if (raw !== '' && value === null) return fail('malformed')
    decoded[name] = value
  }
  const scopes = decoded[HEADER.scopes]
  return {
    ok: true,
    identity: {
      subject: decoded[HEADER.subject] ?? null,
      issuer: decoded[HEADER.issuer] ?? null,
      tenant: decoded[HEADER.tenant] ?? null,
      scopes: scopes ? scopes.split(' ') : [],
      session: decoded[HEADER.session] ?? null,
      client: decoded[HEADER.client] ?? null,
      dpopKey: decoded[HEADER.dpopKey] ?? null,
      revocation: decoded[HEADER.revocation] ?? null,
      requestId: decoded[HEADER.requestId] ?? null,
    },
  }
}

function fail(reason: IdentityFailure): IdentityResult {
  return { ok: false, reason }
}

function headerGetter(headers: HeaderSource): (name: string) => string | null {
  if (typeof (headers as Headers).get === 'function') {
    return (name) => (headers as Headers).get(name)
  }
  const record = headers as Readonly<Record<string, string | string[] | undefined>>
  return (name) => {
    const value = record[name]
    // A repeated identity header is never legitimate: the gateway sends each exactly once.
    if (Array.isArray(value)) return value.length === 1 ? (value[0] as string) : '\u0000'
    return value ?? null
  }
}

function importHmacKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    'raw',
    encoder.encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['verify'],
  )
}

function decodeBase64Url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4)
  try {
    const binary = atob(base64)
    // Canonical only: atob ignores unused trailing bits, so re-encode and compare.
    if (btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') !== text)
      return null
    const bytes = new Uint8Array(binary.length)
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
    return bytes
  } catch {
    return null
  }
}

/** Remembers nonces until their timestamp leaves the window; oldest evicted when full. */
class NonceCache {
  private readonly expiries = new Map<string, number>()

  constructor(private readonly capacity: number) {}

  /** Returns false when the nonce was already seen and has not expired. */
  add(nonce: string, expiresAtMs: number, nowMs: number): boolean {
    const previous = this.expiries.get(nonce)
    if (previous !== undefined && previous >= nowMs) return false
    this.expiries.delete(nonce)
    if (this.expiries.size >= this.capacity) this.evict(nowMs)
    this.expiries.set(nonce, expiresAtMs)
    return true
  }

  private evict(nowMs: number): void {
    // Insertion order is roughly expiry order: drop from the oldest end while entries have
    // expired, and beyond that while the cache is still full (an overload, not a replay).
    for (const [nonce, expiry] of this.expiries) {
      if (expiry >= nowMs && this.expiries.size < this.capacity) break
      this.expiries.delete(nonce)
    }
  }
}
