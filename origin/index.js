// gatehouse/origin: what an origin runs to trust a request forwarded by Gatehouse. It verifies
// the Gatehouse-Assertion (docs/ASSERTION.md) with jose — the algorithm pinned by the key it is
// given (HS256 for a secret, EdDSA for a JWKS URL), typ, iss, aud, time — then the request it was
// made for (method, Host, target, body digest) and single use of its jti. Failures are a closed
// set of snake_case reasons; verify() never throws for anything a request can carry.

import { createRemoteJWKSet, customFetch, jwtVerify } from 'jose'
import { JtiCache } from './replay-cache.js'
import { bodyMismatch, requestMismatch } from './request-binding.js'

export { contentDigest } from './request-binding.js'
export { expressAssertion, honoAssertion, readNodeBody, verifyNodeRequest } from './adapters.js'
// The legacy signed X-Auth-* headers (identity = "headers" | "both"), built from src/origin/.
export { createIdentityVerifier } from './identity-headers.js'

/** @typedef {import('./index.js').AssertionVerifierOptions} Options */
/** @typedef {import('./index.js').AssertionVerifier} AssertionVerifier */
/** @typedef {import('./index.js').AssertionClaims} AssertionClaims */
/** @typedef {import('./index.js').AssertionFailure} AssertionFailure */
/** @typedef {import('./index.js').AssertionResult} AssertionResult */
/** @typedef {import('./index.js').AssertionRequest} AssertionRequest */

export const ASSERTION_HEADER = 'gatehouse-assertion'
export const ASSERTION_TYPE = 'gatehouse-assertion+jwt'
/** exp − iat of every assertion the gateway signs, seconds. */
export const ASSERTION_LIFETIME_SECONDS = 30
const DEFAULT_MAX_SKEW_SECONDS = 5
/** ≥ peak requests/s × (30 + skew) s keeps every live jti; 100 000 ≈ 2 800 requests/s, ~10 MB. */
const DEFAULT_REPLAY_CACHE_SIZE = 100_000
/** docs/ASSERTION.md: an origin refetches the JWKS on an unknown kid at most once a minute. */
const JWKS_REFETCH_COOLDOWN_MS = 60_000
const JWKS_FETCH_TIMEOUT_MS = 5_000
/** The gateway's origin_secret is at least 32 characters (config schema); so is ours. */
const MIN_SECRET_BYTES = 32
const MAX_JTI_LENGTH = 256
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/
const REQUIRED_CLAIMS = ['iss', 'aud', 'iat', 'exp', 'jti', 'htm', 'htu', 'body']
const JWKS_UNAVAILABLE = 'GATEHOUSE_JWKS_UNAVAILABLE'

/**
 * Returns a verifier for one audience. Throws TypeError for options that cannot work (no key or
 * both keys, a secret under 32 bytes, no issuer or audience) — at start-up, not per request.
 * @param {Options} options
 * @returns {AssertionVerifier}
 */
export function createAssertionVerifier(options) {
  if (typeof options?.issuer !== 'string' || options.issuer === '') {
    throw new TypeError('createAssertionVerifier: issuer (the gateway public_url) is required')
  }
  if (typeof options.audience !== 'string' || options.audience === '') {
    throw new TypeError('createAssertionVerifier: audience is required')
  }
  const maxSkewSeconds = options.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS
  if (!(maxSkewSeconds >= 0)) throw new TypeError('maxSkewSeconds must be ≥ 0')
  const { key, algorithm } = verificationKey(options)
  const now = options.now ?? Date.now
  const seen = new JtiCache(options.replayCacheSize ?? DEFAULT_REPLAY_CACHE_SIZE)
  const acceptUnbound = options.acceptUnboundBody === true
  const jwtOptions = {
    algorithms: [algorithm],
    typ: ASSERTION_TYPE,
    issuer: options.issuer,
    audience: options.audience,
    requiredClaims: REQUIRED_CLAIMS,
    clockTolerance: maxSkewSeconds,
  }

  return {
    async verify(request) {
      const token = assertionOf(request.headers)
      if (token === null) return fail('missing_assertion')
      if (!COMPACT_JWS.test(token)) return fail('malformed')
      const nowMs = now()
      /** @type {AssertionClaims} */
      let claims
      try {
        // 1–3: signature under the pinned algorithm, typ, iss, aud, exp (RFC 8725 §3.1, §3.11).
        const verified = await jwtVerify(token, key, {
          ...jwtOptions,
          currentDate: new Date(nowMs),
        })
        claims = /** @type {AssertionClaims} */ (verified.payload)
      } catch (err) {
        return fail(joseFailure(err))
      }
      if (!hasClaimTypes(claims)) return fail('malformed')
      // 3: jose allowed exp up to the skew; iat may not be later than the skew, nor the lifetime
      // longer than the gateway ever signs.
      if (claims.iat > nowMs / 1000 + maxSkewSeconds) return fail('not_yet_valid')
      if (claims.exp - claims.iat > ASSERTION_LIFETIME_SECONDS) return fail('lifetime_too_long')
      const mismatch = requestMismatch(claims, {
        method: request.method,
        host: request.host ?? null,
        target: request.target,
      })
      if (mismatch !== null) return fail(mismatch)
      const body = await bodyMismatch(claims, request.body ?? null, acceptUnbound)
      if (body !== null) return fail(body)
      // 6, last and synchronous: only an assertion that passed every check is remembered, so a
      // forged or misdirected one can neither fill the cache nor use up a genuine jti.
      if (!seen.add(claims.jti, (claims.exp + maxSkewSeconds) * 1000, nowMs)) {
        return fail('replayed')
      }
      return { ok: true, claims }
    },
  }
}

/**
 * The key and the one algorithm it is for: a secret pins HS256, a JWKS URL pins EdDSA (the
 * algorithm is never taken from the token: RFC 8725 §3.1).
 * @param {Options} options
 * @returns {{ key: Uint8Array | import('jose').JWTVerifyGetKey, algorithm: 'HS256' | 'EdDSA' }}
 */
function verificationKey(options) {
  const { secret, jwksUrl } = options
  if ((secret === undefined) === (jwksUrl === undefined)) {
    throw new TypeError(
      'createAssertionVerifier: give exactly one of secret (HS256) or jwksUrl (EdDSA)',
    )
  }
  if (secret !== undefined) {
    const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret
    if (!(bytes instanceof Uint8Array) || bytes.byteLength < MIN_SECRET_BYTES) {
      throw new TypeError(
        `createAssertionVerifier: secret must be at least ${MIN_SECRET_BYTES} bytes`,
      )
    }
    return { key: bytes, algorithm: 'HS256' }
  }
  const remote = createRemoteJWKSet(new URL(/** @type {string | URL} */ (jwksUrl)), {
    cooldownDuration: JWKS_REFETCH_COOLDOWN_MS,
    timeoutDuration: JWKS_FETCH_TIMEOUT_MS,
    ...(options.fetch ? { [customFetch]: options.fetch } : {}),
  })
  /** @type {import('jose').JWTVerifyGetKey} */
  const key = async (header, token) => {
    try {
      return await remote(header, token)
    } catch (err) {
      const code = codeOf(err)
      if (code === 'ERR_JWKS_NO_MATCHING_KEY' || code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS')
        throw err
      // Unreachable, not 200, not JSON, not a key set: the keys are unavailable, the token is
      // not at fault.
      throw Object.assign(new Error('origin-assertion JWKS unavailable', { cause: err }), {
        code: JWKS_UNAVAILABLE,
      })
    }
  }
  return { key, algorithm: 'EdDSA' }
}

/**
 * The one place jose's errors become reasons, by their code (and, for claims, which claim).
 * @param {unknown} err
 * @returns {AssertionFailure}
 */
function joseFailure(err) {
  switch (codeOf(err)) {
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'alg_not_allowed'
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'bad_signature'
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return 'unknown_kid'
    case JWKS_UNAVAILABLE:
      return 'jwks_unavailable'
    case 'ERR_JWT_EXPIRED':
      return 'expired'
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const { claim, reason } = /** @type {{ claim?: string, reason?: string }} */ (err)
      if (reason === 'missing' || reason === 'invalid') return 'malformed'
      if (claim === 'typ') return 'wrong_type'
      if (claim === 'iss') return 'wrong_issuer'
      if (claim === 'aud') return 'wrong_audience'
      if (claim === 'nbf' || claim === 'iat') return 'not_yet_valid'
      return 'malformed'
    }
    case undefined:
      throw err // not jose's: a bug, not a bad request
    default:
      return 'malformed' // ERR_JWS_INVALID, ERR_JWT_INVALID, ERR_JOSE_NOT_SUPPORTED, …
  }
}

/** @param {unknown} err */
function codeOf(err) {
  const code = /** @type {{ code?: unknown } | null} */ (err)?.code
  return typeof code === 'string' ? code : undefined
}

/**
 * The claims the binding checks read have the types they need (jose checked iat, exp, iss, aud).
 * @param {AssertionClaims} claims
 */
function hasClaimTypes(claims) {
  return (
    typeof claims.jti === 'string' &&
    claims.jti !== '' &&
    claims.jti.length <= MAX_JTI_LENGTH &&
    typeof claims.htm === 'string' &&
    typeof claims.htu === 'string' &&
    typeof claims.body === 'string'
  )
}

/**
 * The assertion header from a WHATWG Headers or a Node headers record; a repeated header is
 * never legitimate (the gateway sends one), and fails the compact-JWS check.
 * @param {AssertionRequest['headers']} headers
 * @returns {string | null}
 */
function assertionOf(headers) {
  if (typeof (/** @type {Headers} */ (headers).get) === 'function') {
    return /** @type {Headers} */ (headers).get(ASSERTION_HEADER)
  }
  const value = /** @type {Record<string, string | string[] | undefined>} */ (headers)[
    ASSERTION_HEADER
  ]
  if (Array.isArray(value)) return value.join(', ')
  return value ?? null
}

/**
 * @param {AssertionFailure} reason
 * @returns {AssertionResult}
 */
function fail(reason) {
  return { ok: false, reason }
}
