// The auth-server slice of the Config: token lifetimes, refresh-session policy, browser origins
// and the secrets that protect keys and passwords. It is enabled only when one issuer is
// self = true; a pure verifying gateway in front of a third-party IdP has no auth server and no
// secrets to set (DISABLED below).

import * as v from 'valibot'
import {
  AuthSchema,
  DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
  DEFAULT_SIGNING_ALGORITHM,
  type SigningAlgorithm,
} from './schema-auth'
import { DEFAULT_CHALLENGE_TTL_SECONDS, DEFAULT_MANAGE_MAX_AUTH_AGE_SECONDS } from './schema-mfa'

export type { SigningAlgorithm }

export interface AuthConfig {
  /** False when no issuer is self: /auth/* and /.well-known/* answer 404. */
  readonly enabled: boolean
  readonly issuer: string
  /** The `aud` Gatehouse mints: the self issuer's first audience. */
  readonly audience: string
  readonly signingAlgorithm: SigningAlgorithm
  readonly accessTokenTtlSeconds: number
  readonly keyRotationIntervalSeconds: number
  readonly refresh: {
    readonly absoluteLifetimeSeconds: number
    readonly idleLifetimeSeconds: number
    /** How long the immediate parent may be presented again for the same successor. */
    readonly reuseIntervalSeconds: number
  }
  readonly cookieName: string
  readonly cookiePath: string
  /** Cookie names the gateway owns: never forwarded to an origin, never set by one. */
  readonly gatewayCookies: readonly string[]
  /** Exact browser origins (scheme://host[:port]) allowed for cookie flows and CORS. */
  readonly allowedOrigins: readonly string[]
  readonly keyEncryptionSecret: string
  readonly passwordPepper: string
  readonly dpop: {
    /** Client types that must present a DPoP proof at login and refresh. */
    readonly requiredFor: readonly ('web' | 'mobile')[]
    /** Every proof must carry a server nonce (RFC 9449 §8). */
    readonly useNonce: boolean
  }
  readonly mfa: MfaConfig
}

/** Second factors (auth.mfa). */
export interface MfaConfig {
  /** The WebAuthn relying party; null when public_url is an IP address and no rp_id is set. */
  readonly rp: {
    readonly id: string
    readonly name: string
    readonly origins: readonly string[]
  } | null
  /** The issuer authenticator apps show beside the account. */
  readonly totpIssuer: string
  readonly challengeTtlSeconds: number
  readonly manageMaxAuthAgeSeconds: number
}

const DAY_SECONDS = 86_400
const HOUR_SECONDS = 3600
export const REFRESH_COOKIE_NAME = '__Secure-gatehouse_refresh'
/** Path-scoped so the refresh cookie is never sent to /api/* routes (docs/ARCHITECTURE.md § Refresh rotation). */
const REFRESH_COOKIE_PATH = '/auth'

const DISABLED: AuthConfig = {
  enabled: false,
  issuer: '',
  audience: '',
  signingAlgorithm: DEFAULT_SIGNING_ALGORITHM,
  accessTokenTtlSeconds: DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
  keyRotationIntervalSeconds: 30 * DAY_SECONDS,
  refresh: { absoluteLifetimeSeconds: 0, idleLifetimeSeconds: 0, reuseIntervalSeconds: 0 },
  cookieName: REFRESH_COOKIE_NAME,
  cookiePath: REFRESH_COOKIE_PATH,
  gatewayCookies: [REFRESH_COOKIE_NAME],
  allowedOrigins: [],
  keyEncryptionSecret: '',
  passwordPepper: '',
  dpop: { requiredFor: [], useNonce: false },
  mfa: {
    rp: null,
    totpIssuer: 'Gatehouse',
    challengeTtlSeconds: DEFAULT_CHALLENGE_TTL_SECONDS,
    manageMaxAuthAgeSeconds: DEFAULT_MANAGE_MAX_AUTH_AGE_SECONDS,
  },
}

/** The self issuer's identity, as the auth server needs it. */
export interface SelfIssuer {
  readonly issuer: string
  readonly audiences: readonly string[]
  /** The gateway's public_url (its origin): the default WebAuthn RP ID and origin. */
  readonly publicUrl: string
}

/** The validated `auth` table (absent: every default). */
export type AuthDocument = v.InferOutput<typeof AuthSchema>

/**
 * The auth slice from a validated document: DISABLED without a self issuer. `secret` returns a
 * secret that resolveSecrets already checked.
 */
export function buildAuthConfig(
  doc: AuthDocument | undefined,
  selfIssuer: SelfIssuer | null,
  secret: (name: string) => string,
): AuthConfig {
  if (selfIssuer === null) return DISABLED
  const auth = doc ?? v.parse(AuthSchema, {})
  return {
    enabled: true,
    issuer: selfIssuer.issuer,
    audience: selfIssuer.audiences[0] ?? '',
    signingAlgorithm: auth.signing_algorithm,
    accessTokenTtlSeconds: auth.access_token_ttl_seconds,
    keyRotationIntervalSeconds: auth.key_rotation_interval_days * DAY_SECONDS,
    refresh: {
      absoluteLifetimeSeconds: auth.session_absolute_lifetime_hours * HOUR_SECONDS,
      idleLifetimeSeconds: auth.session_idle_lifetime_hours * HOUR_SECONDS,
      reuseIntervalSeconds: auth.refresh_reuse_interval_seconds,
    },
    cookieName: REFRESH_COOKIE_NAME,
    cookiePath: REFRESH_COOKIE_PATH,
    gatewayCookies: [REFRESH_COOKIE_NAME],
    // Required with a self issuer (schema.ts): no silent default to the gateway's own origin.
    allowedOrigins: auth.allowed_origins ?? [],
    keyEncryptionSecret: secret('KEY_ENCRYPTION_SECRET'),
    passwordPepper: secret('PASSWORD_PEPPER'),
    dpop: { requiredFor: auth.dpop_required_for, useNonce: auth.use_dpop_nonce },
    mfa: buildMfa(auth.mfa, selfIssuer.publicUrl),
  }
}

const IP_HOST = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:.]+\])$/i

function buildMfa(mfa: AuthDocument['mfa'], publicUrl: string): MfaConfig {
  const host = new URL(publicUrl).hostname
  // WebAuthn refuses IP addresses as RP IDs: without an explicit rp_id, passkeys are off there.
  const rpId = mfa.rp_id ?? (IP_HOST.test(host) ? null : host)
  return {
    rp:
      rpId === null
        ? null
        : { id: rpId, name: mfa.rp_name, origins: mfa.origins ?? [new URL(publicUrl).origin] },
    totpIssuer: mfa.totp_issuer ?? mfa.rp_name,
    challengeTtlSeconds: mfa.challenge_ttl_seconds,
    manageMaxAuthAgeSeconds: mfa.manage_max_auth_age_seconds,
  }
}
