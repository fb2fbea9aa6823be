// Claim checks for an access token whose signature already verified (RFC 9068 §4, RFC 8725
// §3.8–3.11): exp required, nbf/iat with bounded skew, a maximum lifetime, audience, and the
// identity claims the gateway forwards — which therefore must be safe to put in a header.

import type { Algorithm, IssuerConfig } from '../keys/issuer'
import type { VerificationKey } from '../keys/jwk-import'
import { SCOPE_VALUE, isScopeList } from '../lib/scope-token'
import { AuthError } from '../lib/errors'

export interface TokenClaims {
  readonly subject: string
  readonly tenant: string
  readonly scope: string
  readonly scopes: readonly string[]
  readonly sessionId: string | null
  readonly tokenId: string | null
  readonly clientId: string | null
  /** `cnf.jkt` (RFC 9449 §6): the thumbprint of the DPoP key the token is bound to, or null. */
  readonly boundKey: string | null
  /** NumericDate seconds; null when the issuer did not send iat. */
  readonly issuedAt: number | null
  /** How the user authenticated (RFC 8176 `amr`); empty when the issuer did not say. */
  readonly amr: readonly string[]
  /** The authentication context class (`acr`), or null. */
  readonly acr: string | null
  /** When the user last actively authenticated (`auth_time`), or null. */
  readonly authTime: number | null
  readonly expiresAt: number
}

/** An access token whose signature and claims verified: its claims and what verified them. */
export interface VerifiedToken extends TokenClaims {
  readonly issuer: IssuerConfig
  readonly kid: string
  readonly alg: Algorithm
  /** The very key object that verified the signature (a cache hit must find the same one). */
  readonly key: VerificationKey
}

export interface ClaimPolicy {
  readonly nowSeconds: number
  readonly clockSkewSeconds: number
  readonly maxTokenLifetimeSeconds: number
}

const MAX_IDENTIFIER_LENGTH = 256
const MAX_SCOPE_LENGTH = 2048
// C0 controls, DEL and C1 controls: never inside a value that becomes a header or a log field.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

/**
 * checkClaims for a token whose signature `key` verified with `alg`: the same checks, answered
 * as the VerifiedToken (the claims and what verified them).
 */
export function checkVerifiedClaims(
  payload: Readonly<Record<string, unknown>>,
  issuer: IssuerConfig,
  policy: ClaimPolicy,
  key: VerificationKey,
  alg: Algorithm,
): VerifiedToken {
  return { ...checkClaims(payload, issuer, policy), issuer, kid: key.kid, alg, key }
}

/** Checks time, audience and identity claims; throws AuthError with the failing reason. */
export function checkClaims(
  payload: Readonly<Record<string, unknown>>,
  issuer: IssuerConfig,
  policy: ClaimPolicy,
): TokenClaims {
  const { nowSeconds: now, clockSkewSeconds: skew } = policy
  const exp = payload.exp
  if (!isNumericDate(exp)) throw new AuthError('invalid_claims', { detail: 'exp missing' })
  if (exp <= now - skew) throw new AuthError('expired')
  const nbf = payload.nbf
  if (nbf !== undefined) {
    if (!isNumericDate(nbf)) throw new AuthError('invalid_claims', { detail: 'nbf' })
    if (nbf > now + skew) throw new AuthError('not_yet_valid', { detail: 'nbf in the future' })
  }
  const iat = payload.iat
  if (iat !== undefined) {
    if (!isNumericDate(iat)) throw new AuthError('invalid_claims', { detail: 'iat' })
    if (iat > now + skew) throw new AuthError('not_yet_valid', { detail: 'iat in the future' })
  }
  // Without iat the remaining lifetime is bounded instead, so an issuer cannot mint a token
  // that outlives the policy by leaving iat out.
  const start = isNumericDate(iat) ? iat : now
  if (exp - start > policy.maxTokenLifetimeSeconds) {
    throw new AuthError('lifetime_too_long', { detail: `lifetime ${Math.round(exp - start)} s` })
  }
  if (!audienceMatches(payload.aud, issuer.audiences)) throw new AuthError('wrong_audience')
  const subject = identifier(payload.sub, 'sub')
  if (subject === null) throw new AuthError('invalid_claims', { detail: 'sub missing' })
  const scope = readScope(claimOf(payload, issuer.scopeClaim), issuer)
  // Evaluated in this order, whichever object they go into (the first failing check throws).
  const tenant = tenantOf(payload.tid, issuer)
  const scopes = scope === '' ? [] : scope.split(' ')
  const sessionId = identifier(payload.sid, 'sid')
  const tokenId = identifier(payload.jti, 'jti')
  const clientId = identifier(payload.client_id, 'client_id')
  const boundKey = confirmationKey(payload.cnf)
  const issuedAt = isNumericDate(iat) ? iat : null
  const amr = readAmr(payload.amr)
  const acr = identifier(payload.acr, 'acr')
  const authTime = readAuthTime(payload.auth_time, now + skew)
  return {
    subject,
    tenant,
    scope,
    scopes,
    sessionId,
    tokenId,
    clientId,
    boundKey,
    issuedAt,
    amr,
    acr,
    authTime,
    expiresAt: exp,
  }
}

const MAX_AMR_VALUES = 16
/** An amr value: RFC 8176 names and the like; it is logged and forwarded. */
const AMR_VALUE = /^[A-Za-z0-9_.:-]{1,64}$/

function readAmr(value: unknown): readonly string[] {
  if (value === undefined) return []
  if (
    !Array.isArray(value) ||
    value.length > MAX_AMR_VALUES ||
    !value.every((m) => typeof m === 'string' && AMR_VALUE.test(m))
  ) {
    throw new AuthError('invalid_claims', { detail: 'amr is not a list of method names' })
  }
  return value as string[]
}

function readAuthTime(value: unknown, latest: number): number | null {
  if (value === undefined) return null
  if (!isNumericDate(value)) throw new AuthError('invalid_claims', { detail: 'auth_time' })
  if (value > latest) throw new AuthError('invalid_claims', { detail: 'auth_time in the future' })
  return value
}

/**
 * The tenant of a token: an issuer never chooses a tenant it was not given. A pinned tenant is
 * the tenant (a token claiming another is refused); else the signed `tid` must be on the issuer's
 * allowlist; only our own issuer (no pin, no list) takes `tid` as it stands.
 */
function tenantOf(tid: unknown, issuer: IssuerConfig): string {
  const claimed = identifier(tid, 'tid')
  if (issuer.tenant !== null) {
    if (claimed !== null && claimed !== issuer.tenant) {
      throw new AuthError('wrong_tenant', { detail: 'tid differs from the pinned tenant' })
    }
    return issuer.tenant
  }
  if (issuer.tenants !== null && (claimed === null || !issuer.tenants.includes(claimed))) {
    throw new AuthError('wrong_tenant', { detail: 'tid not in the issuer allowlist' })
  }
  return claimed ?? ''
}

/** A SHA-256 JWK thumbprint in base64url: 43 characters. */
const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/

/**
 * The DPoP key a token is bound to (`cnf.jkt`), or null when it has no `cnf`. A `cnf` this
 * gateway cannot enforce (another confirmation method, a malformed thumbprint) is refused: a
 * sender-constrained token must never be accepted as a bearer token.
 */
function confirmationKey(cnf: unknown): string | null {
  if (cnf === undefined) return null
  const jkt = typeof cnf === 'object' && cnf !== null ? (cnf as Record<string, unknown>).jkt : null
  if (typeof jkt !== 'string' || !THUMBPRINT.test(jkt)) {
    throw new AuthError('invalid_claims', { detail: 'cnf is not a DPoP key thumbprint' })
  }
  return jkt
}

function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0
}

function audienceMatches(aud: unknown, accepted: readonly string[]): boolean {
  if (typeof aud === 'string') return accepted.includes(aud)
  if (!Array.isArray(aud)) return false
  // RFC 7519 §4.1.3: an array of strings; one of them must be ours.
  return aud.every((a) => typeof a === 'string') && aud.some((a) => accepted.includes(a))
}

/** A string claim that becomes a header: absent → null; present but unsafe → AuthError. */
function identifier(value: unknown, claim: string): string | null {
  if (value === undefined) return null
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > MAX_IDENTIFIER_LENGTH ||
    CONTROL.test(value)
  ) {
    throw new AuthError('invalid_claims', { detail: `${claim} is not a safe string` })
  }
  return value
}

/** A claim by a configured name: only the payload's own members (never `__proto__`'s). */
function claimOf(payload: Readonly<Record<string, unknown>>, name: string): unknown {
  return Object.hasOwn(payload, name) ? payload[name] : undefined
}

/**
 * The token's scopes as one space-delimited value, read from the issuer's scope claim in its
 * configured shape: a string (RFC 9068 §2.2.3) or an array of scope-tokens (Okta, Entra `scp`),
 * joined with spaces. A claim of the other shape is refused, never guessed at.
 */
function readScope(value: unknown, issuer: IssuerConfig): string {
  if (value === undefined) return ''
  const claim = issuer.scopeClaim
  if (issuer.scopeFormat === 'array') {
    if (!isScopeList(value)) {
      throw new AuthError('invalid_claims', { detail: `${claim} is not a list of scope-tokens` })
    }
    value = value.join(' ')
  }
  if (typeof value !== 'string' || value.length > MAX_SCOPE_LENGTH) {
    throw new AuthError('invalid_claims', { detail: `${claim} is not a string` })
  }
  if (value !== '' && !SCOPE_VALUE.test(value)) {
    throw new AuthError('invalid_claims', {
      detail: `${claim} is not space-delimited scope-tokens`,
    })
  }
  return value
}
