// Access-token verification, in the order that keeps every answer honest: strict parse → issuer
// by `iss` → alg in that issuer's allowlist → `typ` → key by `kid` inside that issuer's JWKS
// (and only for an algorithm the key itself allows) → WebCrypto signature → claims. Nothing is
// trusted before the signature except what selects the key, and that selection is bounded by
// configuration. Pure apart from the injected key resolver; `now` is a parameter.

import { normalizeTokenType, type Algorithm, type IssuerConfig } from '../keys/issuer'
import { AuthError } from '../lib/errors'
import { ALGORITHM_SPECS, type VerificationKey } from '../keys/jwk-import'
import { checkClaims, type TokenClaims } from './claims'
import { parseCompactJws, type ParsedJws } from './compact-jws'

export interface VerifiedToken extends TokenClaims {
  readonly issuer: IssuerConfig
  readonly kid: string
  readonly alg: Algorithm
  /** The very key object that verified the signature (a cache hit must find the same one). */
  readonly key: VerificationKey
}

export interface VerifyContext {
  readonly issuers: ReadonlyMap<string, IssuerConfig>
  readonly nowSeconds: number
  readonly clockSkewSeconds: number
  readonly maxTokenLifetimeSeconds: number
  /** Resolves (issuer, kid) to a key; throws AuthError unknown_kid | key_unavailable. */
  readonly resolveKey: (issuer: IssuerConfig, kid: string) => Promise<VerificationKey>
  /** The warm path without a promise: a cached, fresh key, or undefined to call resolveKey. */
  readonly peekKey?: (issuer: IssuerConfig, kid: string) => VerificationKey | undefined
}

/** Verifies a compact JWS access token; throws AuthError with the first failing reason. */
export async function verifyAccessToken(token: string, ctx: VerifyContext): Promise<VerifiedToken> {
  const jws = parseCompactJws(token)
  const iss = jws.payload.iss
  const issuer = typeof iss === 'string' ? ctx.issuers.get(iss) : undefined
  if (issuer === undefined) throw new AuthError('unknown_issuer')
  const alg = jws.header.alg as Algorithm
  // `none` and every HMAC alg are never in an allowlist: config accepts asymmetric algs only.
  if (!issuer.algorithms.includes(alg)) {
    throw new AuthError('alg_not_allowed', { detail: `alg ${jws.header.alg.slice(0, 16)}` })
  }
  if (!typeAllowed(jws.header.typ, issuer)) throw new AuthError('wrong_type')
  const key =
    ctx.peekKey?.(issuer, jws.header.kid) ?? (await ctx.resolveKey(issuer, jws.header.kid))
  const cryptoKey = key.byAlg.get(alg)
  if (cryptoKey === undefined) {
    throw new AuthError('alg_not_allowed', { detail: `kid ${key.kid} is not a ${alg} key` })
  }
  if (!(await signatureValid(jws, alg, cryptoKey, key.signatureLength))) {
    throw new AuthError('bad_signature', { detail: `kid ${key.kid}` })
  }
  const claims = checkClaims(jws.payload, issuer, ctx)
  return { ...claims, issuer, kid: key.kid, alg, key }
}

function typeAllowed(typ: string | null, issuer: IssuerConfig): boolean {
  // RFC 9068 §4 requires typ at+jwt. A third-party issuer that sends no typ at all is
  // accepted only if its token_types explicitly list the generic "jwt".
  if (typ === null) return issuer.tokenTypes.includes('jwt')
  return issuer.tokenTypes.includes(normalizeTokenType(typ))
}

async function signatureValid(
  jws: ParsedJws,
  alg: Algorithm,
  key: CryptoKey,
  expectedLength: number,
): Promise<boolean> {
  const sig = jws.signature
  // Fixed-length signatures only: no DER ECDSA, no stripped or padded RSA (RFC 7518 §3.3–3.4).
  if (sig.length !== expectedLength) return false
  // ECDSA with r = 0 or s = 0 is the "psychic signature" (CVE-2022-21449); refuse before crypto.
  if (alg === 'ES256' || alg === 'ES384') {
    const half = sig.length / 2
    if (isZero(sig, 0, half) || isZero(sig, half, sig.length)) return false
  }
  return crypto.subtle.verify(ALGORITHM_SPECS[alg].verifyParams, key, sig, jws.signingInput)
}

function isZero(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false
  return true
}
