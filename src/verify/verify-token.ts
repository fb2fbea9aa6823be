// Access-token verification, in the order that keeps every answer honest: strict parse → issuer
// by `iss` → alg in that issuer's allowlist → `typ` → key by `kid` inside that issuer's JWKS
// (and only for an algorithm the key itself allows) → WebCrypto signature → claims. Nothing is
// trusted before the signature except what selects the key, and that selection is bounded by
// configuration. Pure apart from the injected key lookup and the signature buffer the parse
// shares with the signature check (compact-jws.ts); `now` is a parameter.

import { normalizeTokenType, type Algorithm, type IssuerConfig } from '../keys/issuer'
import { AuthError } from '../lib/errors'
import { ALGORITHM_SPECS, type VerificationKey } from '../keys/jwk-import'
import { checkVerifiedClaims, type VerifiedToken } from './claims'
import { base64UrlDecodedLength } from '../lib/base64url'
import { checkCompactJws, signedBytesOf, type CheckedJws } from './compact-jws'

export type { VerifiedToken }

/**
 * Where verification finds keys: one object per verifier, so the hot path creates no closures.
 * `peek` is the warm path without a promise (a cached, fresh key, or undefined); `resolve` does
 * the full lookup and throws AuthError unknown_kid | key_unavailable.
 */
export interface KeyLookup {
  peek(issuer: IssuerConfig, kid: string, nowMs: number): VerificationKey | undefined
  resolve(
    issuer: IssuerConfig,
    kid: string,
    waitUntil: (promise: Promise<unknown>) => void,
  ): Promise<VerificationKey>
}

export interface VerifyContext {
  readonly issuers: ReadonlyMap<string, IssuerConfig>
  readonly nowSeconds: number
  /** The same instant in epoch milliseconds, for the key store's freshness checks. */
  readonly nowMs: number
  readonly clockSkewSeconds: number
  readonly maxTokenLifetimeSeconds: number
  readonly keys: KeyLookup
  /** Carries background key refreshes. */
  readonly waitUntil: (promise: Promise<unknown>) => void
}

/** Verifies a compact JWS access token; throws AuthError with the first failing reason. */
export async function verifyAccessToken(token: string, ctx: VerifyContext): Promise<VerifiedToken> {
  const jws = checkCompactJws(token)
  const iss = jws.payload.iss
  const issuer = typeof iss === 'string' ? ctx.issuers.get(iss) : undefined
  if (issuer === undefined) throw new AuthError('unknown_issuer')
  const header = jws.header
  const alg = header.alg as Algorithm
  // `none` and every HMAC alg are never in an allowlist: config accepts asymmetric algs only.
  if (!issuer.algorithms.includes(alg)) {
    throw new AuthError('alg_not_allowed', { detail: `alg ${header.alg.slice(0, 16)}` })
  }
  if (!typeAllowed(header.typ, issuer)) throw new AuthError('wrong_type')
  const key =
    ctx.keys.peek(issuer, header.kid, ctx.nowMs) ??
    (await ctx.keys.resolve(issuer, header.kid, ctx.waitUntil))
  const cryptoKey = key.byAlg.get(alg)
  if (cryptoKey === undefined) {
    throw new AuthError('alg_not_allowed', { detail: `kid ${key.kid} is not a ${alg} key` })
  }
  const valid = await signatureValid(jws, alg, cryptoKey, key.signatureLength)
  if (!valid) throw new AuthError('bad_signature', { detail: `kid ${key.kid}` })
  return checkVerifiedClaims(jws.payload, issuer, ctx, key, alg)
}

function typeAllowed(typ: string | null, issuer: IssuerConfig): boolean {
  // RFC 9068 §4 requires typ at+jwt. A third-party issuer that sends no typ at all is
  // accepted only if its token_types explicitly list the generic "jwt".
  if (typ === null) return issuer.tokenTypes.includes('jwt')
  return issuer.tokenTypes.includes(normalizeTokenType(typ))
}

/** The WebCrypto verdict over the token's signed bytes; a refused shape answers false. */
function signatureValid(
  jws: CheckedJws,
  alg: Algorithm,
  key: CryptoKey,
  expectedLength: number,
): Promise<boolean> | false {
  const inputLength = jws.signatureStart - 1
  // Fixed-length signatures only: no DER ECDSA, no stripped or padded RSA (RFC 7518 §3.3–3.4).
  if (base64UrlDecodedLength(jws.token.length - jws.signatureStart) !== expectedLength) {
    return false
  }
  const bytes = signedBytesOf(jws)
  if (bytes === null) return false
  const sig = bytes.subarray(inputLength, inputLength + expectedLength)
  // ECDSA with r = 0 or s = 0 is the "psychic signature" (CVE-2022-21449); refuse before crypto.
  if (alg === 'ES256' || alg === 'ES384') {
    const half = expectedLength / 2
    if (isZero(sig, 0, half) || isZero(sig, half, expectedLength)) return false
  }
  const input = bytes.subarray(0, inputLength)
  return crypto.subtle.verify(ALGORITHM_SPECS[alg].verifyParams, key, sig, input)
}

function isZero(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false
  return true
}
