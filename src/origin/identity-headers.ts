// The wire contract between Gatehouse and an origin: the identity header names, how a value is
// encoded into a header, and the exact string the HMAC covers. Shared by the gateway (signing)
// and the origin verifier (checking), and dependency-free so an origin can vendor this folder.
// The signature covers method, path+query, timestamp, nonce and every identity header; it does
// not cover the body (bodies are streamed, never buffered): use TLS between gateway and origin.

/** v2 added X-Auth-Dpop-Jkt (the DPoP key a token is bound to); v1 signatures are not accepted. */
export const SIGNATURE_VERSION = 'v2'

export const HEADER = {
  issuer: 'x-auth-issuer',
  subject: 'x-auth-subject',
  tenant: 'x-auth-tenant',
  scopes: 'x-auth-scopes',
  session: 'x-auth-session',
  client: 'x-auth-client',
  dpopKey: 'x-auth-dpop-jkt',
  revocation: 'x-auth-revocation',
  requestId: 'x-request-id',
  timestamp: 'x-auth-timestamp',
  nonce: 'x-auth-nonce',
  signature: 'x-auth-signature',
} as const

/** The headers the signature covers, in canonical (sorted) order. */
export const SIGNED_HEADERS = [
  HEADER.client,
  HEADER.dpopKey,
  HEADER.issuer,
  HEADER.revocation,
  HEADER.scopes,
  HEADER.session,
  HEADER.subject,
  HEADER.tenant,
  HEADER.requestId,
] as const

export type SignedHeader = (typeof SIGNED_HEADERS)[number]

export interface SignedRequestParts {
  readonly method: string
  /** The request target exactly as sent to the origin: path plus `?query` when present. */
  readonly target: string
  /** Unix seconds, as sent in X-Auth-Timestamp. */
  readonly timestamp: string
  readonly nonce: string
  /** Wire values of the signed headers; a missing header is the empty string. */
  readonly headers: Readonly<Partial<Record<SignedHeader, string>>>
}

/** The exact bytes the HMAC covers; one line per field, so no field can bleed into another. */
export function canonicalString(parts: SignedRequestParts): string {
  let out = `gatehouse-${SIGNATURE_VERSION}\n${parts.timestamp}\n${parts.nonce}\n`
  out += `${parts.method.toUpperCase()}\n${parts.target}`
  for (const name of SIGNED_HEADERS) out += `\n${name}:${parts.headers[name] ?? ''}`
  return out
}

// Printable ASCII except '%': such values go on the wire unchanged (UUIDs, "auth0|123").
const NEEDS_ENCODING = /[^\x20-\x24\x26-\x7e]/u

/**
 * Encodes a claim value for a header: printable ASCII passes unchanged; '%', anything else
 * (UTF-8), and a leading or trailing space (HTTP trims those from field values, RFC 9110 §5.5)
 * are percent-encoded, so decodeIdentityValue restores the exact original string.
 */
export function encodeIdentityValue(value: string): string {
  let out = value
  if (NEEDS_ENCODING.test(value)) {
    out = ''
    for (const ch of value) out += NEEDS_ENCODING.test(ch) ? encodeURIComponent(ch) : ch
  }
  if (out.startsWith(' ') || out.endsWith(' '))
    out = out.replace(/^ +| +$/g, (spaces) => '%20'.repeat(spaces.length))
  return out
}

/** Reverses encodeIdentityValue; returns null for a value that is not validly encoded. */
export function decodeIdentityValue(value: string): string | null {
  if (!value.includes('%')) return value
  try {
    return decodeURIComponent(value)
  } catch {
    return null
  }
}
