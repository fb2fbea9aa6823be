// DPoP proofs (RFC 9449 §4.3): a compact JWS the client signs, per request, with the key its
// tokens are bound to. Checked here, in this order: size and shape → `typ` dpop+jwt → `alg` in
// the allowlist → a public `jwk` of that algorithm's kind with no private member → the
// signature by that very key → `htm`, `htu` (scheme, host and path; query and fragment
// ignored) → `iat` within the skew window → `jti` → `ath` (SHA-256 of the access token, at a
// resource) → `nonce` when the server asks for one. The key's RFC 7638 thumbprint (`jkt`) is what
// tokens are bound to. Imported keys are cached per thumbprint (bounded); replay (single-use
// `jti`) is the caller's, by tier (src/revocation/proof-replay.ts). Pure apart from the cache.

import { AuthError } from '../lib/errors'
import { decodeBase64Url, encodeBase64Url } from '../lib/base64url'

/** The proof algorithms accepted (and advertised in `DPoP algs=` and RFC 8414 metadata). */
export const DPOP_ALGORITHMS = ['ES256', 'EdDSA'] as const
export type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number]

/** A proof is a few hundred bytes; 4 KiB bounds the work on anything else. */
export const MAX_PROOF_LENGTH = 4096
const MAX_JTI_LENGTH = 256
const MAX_NONCE_LENGTH = 512
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']
const SIGNATURE_LENGTH = 64 // ES256 (r ‖ s) and Ed25519 alike

export interface DpopExpectation {
  /** The request's method, as sent. */
  readonly method: string
  /** The URL the proof must name: the gateway's public origin + the request path. */
  readonly url: string
  /** The access token the proof accompanies (a resource request); null at the token endpoint. */
  readonly accessToken: string | null
  readonly nowSeconds: number
  readonly skewSeconds: number
  /** When set, the proof must carry a nonce this accepts (RFC 9449 §8). */
  readonly acceptNonce: ((nonce: string) => Promise<boolean>) | null
}

export interface DpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof key: what a token is bound to (`cnf.jkt`). */
  readonly jkt: string
  readonly jti: string
  readonly iat: number
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const encoder = new TextEncoder()

function invalid(detail: string): never {
  throw new AuthError('invalid_dpop_proof', { detail })
}

function decodeObject(segment: string, part: string): Record<string, unknown> {
  const bytes = decodeBase64Url(segment)
  if (bytes === null) invalid(`${part} encoding`)
  let value: unknown
  try {
    value = JSON.parse(utf8.decode(bytes))
  } catch {
    invalid(`${part} is not UTF-8 JSON`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    invalid(`${part} is not a JSON object`)
  }
  return value as Record<string, unknown>
}

/** The public members of a proof key, checked for its algorithm; throws on anything else. */
function publicJwk(jwk: unknown, alg: DpopAlgorithm): Record<string, string> {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) invalid('jwk missing')
  const raw = jwk as Record<string, unknown>
  for (const name of PRIVATE_MEMBERS) {
    if (Object.hasOwn(raw, name)) invalid(`jwk carries the private member ${name}`)
  }
  const text = (name: string) => {
    const v = raw[name]
    if (typeof v !== 'string' || v.length === 0 || v.length > 128) invalid(`jwk ${name}`)
    return v
  }
  if (alg === 'ES256') {
    if (raw.kty !== 'EC' || raw.crv !== 'P-256') invalid('jwk is not a P-256 key for ES256')
    return { crv: 'P-256', kty: 'EC', x: text('x'), y: text('y') }
  }
  if (raw.kty !== 'OKP' || raw.crv !== 'Ed25519') invalid('jwk is not an Ed25519 key for EdDSA')
  return { crv: 'Ed25519', kty: 'OKP', x: text('x') }
}

/** RFC 7638: SHA-256 over the required members in lexicographic order, base64url. */
export async function jwkThumbprint(members: Readonly<Record<string, string>>): Promise<string> {
  const canonical = JSON.stringify(
    Object.fromEntries(
      Object.keys(members)
        .sort()
        .map((k) => [k, members[k]]),
    ),
  )
  return encodeBase64Url(
    new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(canonical))),
  )
}

/** SHA-256 of an access token, base64url: the proof's `ath` (RFC 9449 §4.2). */
export async function accessTokenHash(token: string): Promise<string> {
  return encodeBase64Url(
    new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(token))),
  )
}

/** Proof keys by the proof's header segment (byte-identical for every proof of one key). */
interface ProofKey {
  readonly alg: DpopAlgorithm
  readonly jkt: string
  readonly key: CryptoKey
}

const KEY_CACHE_MAX = 10_000
/**
 * Header segments that passed every header check, with their key: the next proof of the same
 * key costs one lookup instead of a JSON parse, a thumbprint and an import. Bounded; the oldest
 * entry goes first, so a flood of new keys never empties the cache at once.
 */
const headerCache = new Map<string, ProofKey>()

function remember(segment: string, entry: ProofKey): void {
  if (headerCache.size >= KEY_CACHE_MAX) {
    const oldest = headerCache.keys().next()
    if (!oldest.done) headerCache.delete(oldest.value)
  }
  headerCache.set(segment, entry)
}

/** The checked header of a proof and its imported key, from the cache or parsed once. */
async function proofKey(headerPart: string): Promise<ProofKey> {
  const cached = headerCache.get(headerPart)
  if (cached !== undefined) return cached
  const header = decodeObject(headerPart, 'header')
  if (typeof header.typ !== 'string' || header.typ.toLowerCase() !== 'dpop+jwt') {
    invalid('typ is not dpop+jwt')
  }
  const alg = header.alg
  if (!(DPOP_ALGORITHMS as readonly unknown[]).includes(alg)) invalid('alg not allowed')
  for (const name of ['kid', 'jku', 'x5u', 'x5c', 'crit']) {
    if (Object.hasOwn(header, name)) invalid(`header parameter ${name}`)
  }
  const members = publicJwk(header.jwk, alg as DpopAlgorithm)
  const jkt = await jwkThumbprint(members)
  const entry = {
    alg: alg as DpopAlgorithm,
    jkt,
    key: await importProofKey(members, alg as DpopAlgorithm),
  }
  remember(headerPart, entry)
  return entry
}

async function importProofKey(members: Record<string, string>, alg: DpopAlgorithm) {
  try {
    return await crypto.subtle.importKey(
      'jwk',
      members as unknown as JsonWebKey,
      alg === 'ES256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'Ed25519' },
      false,
      ['verify'],
    )
  } catch {
    invalid('jwk does not import')
  }
}

async function signatureValid(alg: DpopAlgorithm, key: CryptoKey, sig: Uint8Array, input: string) {
  if (sig.length !== SIGNATURE_LENGTH) return false
  if (alg === 'ES256') {
    // r = 0 or s = 0 verifies anything on some stacks (CVE-2022-21449): refuse before crypto.
    if (sig.subarray(0, 32).every((b) => b === 0) || sig.subarray(32).every((b) => b === 0)) {
      return false
    }
    return crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, sig, encoder.encode(input))
  }
  return crypto.subtle.verify({ name: 'Ed25519' }, key, sig, encoder.encode(input))
}

/** The URL a proof must name: scheme, host and path, no query or fragment (RFC 9449 §4.3). */
export function proofUrl(publicUrl: string, path: string): string {
  return `${publicUrl}${path}`
}

function sameUrl(htu: string, expected: string): boolean {
  let url: URL
  try {
    url = new URL(htu)
  } catch {
    return false
  }
  return `${url.origin}${url.pathname}` === expected
}

/**
 * Verifies a DPoP proof for a request; returns its thumbprint, jti and iat. Throws AuthError
 * invalid_dpop_proof (with the failing check as detail) or use_dpop_nonce.
 */
export async function verifyDpopProof(proof: string, expect: DpopExpectation): Promise<DpopProof> {
  if (proof.length > MAX_PROOF_LENGTH) invalid('proof too large')
  const parts = proof.split('.')
  if (parts.length !== 3 || parts.some((p) => p.length === 0)) invalid('not a compact JWS')
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string]
  const { alg, jkt, key } = await proofKey(headerPart)
  const signature = decodeBase64Url(signaturePart)
  if (signature === null) invalid('signature encoding')
  if (!(await signatureValid(alg, key, signature, `${headerPart}.${payloadPart}`))) {
    invalid('bad signature')
  }
  const claims = decodeObject(payloadPart, 'payload')
  if (claims.htm !== expect.method) invalid('htm is not the request method')
  // The usual case is the exact string; anything else is parsed (a default port, case).
  if (
    typeof claims.htu !== 'string' ||
    (claims.htu !== expect.url && !sameUrl(claims.htu, expect.url))
  ) {
    invalid('htu is not the request URL')
  }
  const iat = claims.iat
  if (typeof iat !== 'number' || !Number.isFinite(iat)) invalid('iat missing')
  if (Math.abs(iat - expect.nowSeconds) > expect.skewSeconds) invalid('iat outside the window')
  const jti = claims.jti
  if (
    typeof jti !== 'string' ||
    jti.length === 0 ||
    jti.length > MAX_JTI_LENGTH ||
    CONTROL.test(jti)
  ) {
    invalid('jti missing')
  }
  if (expect.accessToken !== null) {
    if (claims.ath !== (await accessTokenHash(expect.accessToken))) {
      invalid('ath is not the hash of the access token')
    }
  }
  if (expect.acceptNonce !== null) {
    const nonce = claims.nonce
    const fresh =
      typeof nonce === 'string' &&
      nonce.length <= MAX_NONCE_LENGTH &&
      (await expect.acceptNonce(nonce))
    if (!fresh) throw new AuthError('use_dpop_nonce', { detail: 'nonce missing or stale' })
  }
  return { jkt, jti, iat }
}
