// Strict JWS compact serialization (RFC 7515 §7.1) for access tokens: exactly three non-empty
// canonical base64url segments, a JSON-object header and payload, and none of the header
// parameters that let a token choose its own key or processing (RFC 8725 §3.1, §3.10).
// Parsing is synchronous; the signature is checked later against a key Gatehouse chose, over the
// signing input and signature bytes signedBytesOf makes in one array.

import { AuthError } from '../lib/errors'
import {
  base64UrlDecodedLength,
  decodeBase64Url,
  decodeBase64UrlInto,
  isBase64Url,
} from '../lib/base64url'

/** RFC 6750 places no limit; 8 KiB is far above any honest access token and bounds the work. */
export const MAX_TOKEN_LENGTH = 8192
const MAX_KID_LENGTH = 256

/**
 * Header parameters that are rejected outright: remote or embedded keys (jku, x5u, jwk, x5c),
 * extensions we do not implement (crit, b64 from RFC 7797), and JWE/compression/nesting
 * markers (zip, enc, cty) that have no place in an access token.
 */
const FORBIDDEN_HEADER_PARAMS = ['jku', 'x5u', 'jwk', 'x5c', 'crit', 'b64', 'zip', 'enc', 'cty']

export interface JwsHeader {
  readonly alg: string
  readonly kid: string
  readonly typ: string | null
}

export interface ParsedJws {
  readonly header: JwsHeader
  readonly payload: Readonly<Record<string, unknown>>
  /** ASCII bytes of `header.payload`, the JWS signing input. */
  readonly signingInput: Uint8Array
  readonly signature: Uint8Array
}

/**
 * A compact JWS that passed every check of parseCompactJws, with the signing input and the
 * signature left as text (`token` up to `signatureStart - 1`, and from `signatureStart`): the
 * verifier turns them into bytes only when it checks the signature.
 */
export interface CheckedJws {
  readonly header: JwsHeader
  readonly payload: Readonly<Record<string, unknown>>
  readonly token: string
  /** Index of the signature segment; the signing input is token.slice(0, signatureStart - 1). */
  readonly signatureStart: number
}

const ascii = new TextEncoder()
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Parses a compact JWS; throws AuthError malformed | header_not_allowed | token_too_large. */
export function parseCompactJws(token: string): ParsedJws {
  const jws = checkCompactJws(token)
  const dot2 = jws.signatureStart - 1
  const signature = decodeBase64Url(token.slice(jws.signatureStart)) as Uint8Array // checked
  return {
    header: jws.header,
    payload: jws.payload,
    signingInput: ascii.encode(token.slice(0, dot2)),
    signature,
  }
}

/**
 * parseCompactJws without decoding the signature or encoding the signing input: the same checks
 * in the same order (the signature segment's encoding included), the same errors.
 */
export function checkCompactJws(token: string): CheckedJws {
  if (token.length > MAX_TOKEN_LENGTH) throw new AuthError('token_too_large')
  const dot1 = token.indexOf('.')
  const dot2 = dot1 < 0 ? -1 : token.indexOf('.', dot1 + 1)
  if (dot1 <= 0 || dot2 <= dot1 + 1 || dot2 === token.length - 1) {
    throw new AuthError('malformed', { detail: 'not three non-empty segments' })
  }
  if (token.indexOf('.', dot2 + 1) !== -1) {
    throw new AuthError('malformed', { detail: 'more than three segments' })
  }
  const header = parseHeader(token.slice(0, dot1))
  const payload = decodeJsonObject(token.slice(dot1 + 1, dot2), 'payload')
  if (!isBase64Url(token.slice(dot2 + 1))) {
    throw new AuthError('malformed', { detail: 'signature encoding' })
  }
  return { header, payload, token, signatureStart: dot2 + 1 }
}

/**
 * The bytes `jws`'s signature is checked over, in one array: its signing input's ASCII bytes at
 * [0, signatureStart - 1) and the decoded signature right after (one allocation per token, not
 * one per part); null if they cannot be made (not for a token checkCompactJws passed).
 */
export function signedBytesOf(jws: CheckedJws): Uint8Array | null {
  const { token, signatureStart } = jws
  const inputLength = signatureStart - 1
  const signature = token.slice(signatureStart)
  const bytes = new Uint8Array(inputLength + base64UrlDecodedLength(signature.length))
  if (decodeBase64UrlInto(signature, bytes.subarray(inputLength)) < 0) return null
  // The signing input is ASCII (two checked base64url segments and a dot): a byte a character.
  if (ascii.encodeInto(token.slice(0, inputLength), bytes).written !== inputLength) return null
  return bytes
}

/**
 * Every token of one key carries the same header segment, so parsed headers are kept per
 * isolate (bounded). Only headers that passed every check are cached; the map is cleared when
 * full, so a flood of distinct headers costs what an uncached parse costs.
 */
const HEADER_CACHE_MAX = 256
const headerCache = new Map<string, JwsHeader>()

function parseHeader(segment: string): JwsHeader {
  const cached = headerCache.get(segment)
  if (cached !== undefined) return cached
  const header = readHeader(decodeJsonObject(segment, 'header'))
  if (headerCache.size >= HEADER_CACHE_MAX) headerCache.clear()
  headerCache.set(segment, Object.freeze(header))
  return header
}

/**
 * Decoded segments land here before UTF-8 decoding, not in a new array each: a segment is
 * decoded and read in one synchronous step, so no other parse can interleave. MAX_TOKEN_LENGTH
 * characters decode to at most three quarters as many bytes.
 */
const segmentBytes = new Uint8Array((MAX_TOKEN_LENGTH / 4) * 3)

function decodeJsonObject(segment: string, part: string): Record<string, unknown> {
  const length = decodeBase64UrlInto(segment, segmentBytes)
  if (length < 0) throw new AuthError('malformed', { detail: `${part} encoding` })
  let value: unknown
  try {
    value = JSON.parse(utf8.decode(segmentBytes.subarray(0, length)))
  } catch {
    throw new AuthError('malformed', { detail: `${part} is not UTF-8 JSON` })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AuthError('malformed', { detail: `${part} is not a JSON object` })
  }
  return value as Record<string, unknown>
}

function readHeader(raw: Record<string, unknown>): JwsHeader {
  for (const name of FORBIDDEN_HEADER_PARAMS) {
    if (Object.hasOwn(raw, name)) {
      throw new AuthError('header_not_allowed', { detail: `header parameter ${name}` })
    }
  }
  const { alg, kid, typ } = raw
  if (typeof alg !== 'string' || alg.length === 0) {
    throw new AuthError('malformed', { detail: 'alg missing' })
  }
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > MAX_KID_LENGTH) {
    throw new AuthError('malformed', { detail: 'kid missing or too long' })
  }
  if (typ !== undefined && typeof typ !== 'string') {
    throw new AuthError('malformed', { detail: 'typ is not a string' })
  }
  return { alg, kid, typ: typ ?? null }
}
