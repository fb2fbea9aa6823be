// The auth-server slice of the configuration ([vars.GATEHOUSE.auth]): token lifetimes, refresh
// session policy, browser origins and the secrets that protect keys and passwords. It exists
// only when one issuer is marked self = true; a pure verifying gateway in front of a third-party
// IdP has no auth server and no secrets to set.

import { ConfigError, FieldReader, readSecret, readUrl, type ConfigSource } from './reader'
import type { IssuerConfig } from './config'

export type SigningAlgorithm = 'EdDSA' | 'RS256'

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
}

export const DEFAULT_ACCESS_TOKEN_TTL_SECONDS = 900
export const MIN_ACCESS_TOKEN_TTL_SECONDS = 300
export const MAX_ACCESS_TOKEN_TTL_SECONDS = 3600
export const DEFAULT_REUSE_INTERVAL_SECONDS = 10
export const MAX_REUSE_INTERVAL_SECONDS = 60
const DAY_SECONDS = 86_400
export const REFRESH_COOKIE_NAME = '__Secure-gatehouse_refresh'
/** Path-scoped so the refresh cookie is never sent to /api/* routes (DESIGN.md § Tokens). */
export const REFRESH_COOKIE_PATH = '/auth'

const DISABLED: AuthConfig = {
  enabled: false,
  issuer: '',
  audience: '',
  signingAlgorithm: 'EdDSA',
  accessTokenTtlSeconds: DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
  keyRotationIntervalSeconds: 30 * DAY_SECONDS,
  refresh: { absoluteLifetimeSeconds: 0, idleLifetimeSeconds: 0, reuseIntervalSeconds: 0 },
  cookieName: REFRESH_COOKIE_NAME,
  cookiePath: REFRESH_COOKIE_PATH,
  gatewayCookies: [REFRESH_COOKIE_NAME],
  allowedOrigins: [],
  keyEncryptionSecret: '',
  passwordPepper: '',
}

/** Reads [auth]; throws ConfigError naming the field. */
export function loadAuthConfig(
  r: FieldReader,
  env: ConfigSource,
  ctx: {
    selfIssuer: IssuerConfig | null
    maxTokenLifetimeSeconds: number
    publicOrigin: string
  },
): AuthConfig {
  const issuer = ctx.selfIssuer
  if (issuer === null) {
    r.done()
    return DISABLED
  }
  const signingAlgorithm = r.oneOf<SigningAlgorithm>(
    'signing_algorithm',
    ['EdDSA', 'RS256'],
    'EdDSA',
  )
  if (!issuer.algorithms.includes(signingAlgorithm)) {
    throw new ConfigError(
      r.field('signing_algorithm'),
      `the self issuer's algorithms must include ${signingAlgorithm}`,
    )
  }
  const accessTokenTtlSeconds = r.integer('access_token_ttl_seconds', {
    default: DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
    min: MIN_ACCESS_TOKEN_TTL_SECONDS,
    max: Math.min(MAX_ACCESS_TOKEN_TTL_SECONDS, ctx.maxTokenLifetimeSeconds),
  })
  const keyRotationIntervalSeconds =
    r.integer('key_rotation_interval_days', { default: 30, min: 1, max: 365 }) * DAY_SECONDS
  const absoluteLifetimeSeconds =
    r.integer('session_absolute_lifetime_hours', { default: 720, min: 1, max: 8760 }) * 3600
  const idleLifetimeSeconds =
    r.integer('session_idle_lifetime_hours', { default: 168, min: 1, max: 8760 }) * 3600
  if (idleLifetimeSeconds > absoluteLifetimeSeconds) {
    throw new ConfigError(
      r.field('session_idle_lifetime_hours'),
      'must not exceed session_absolute_lifetime_hours',
    )
  }
  const reuseIntervalSeconds = r.integer('refresh_reuse_interval_seconds', {
    default: DEFAULT_REUSE_INTERVAL_SECONDS,
    min: 0,
    max: MAX_REUSE_INTERVAL_SECONDS,
  })
  const allowedOrigins = r
    .stringList('allowed_origins', { default: [ctx.publicOrigin] })
    .map((o, i) => {
      const field = `${r.field('allowed_origins')}[${i}]`
      const url = readUrl(o, field, { pathAllowed: false })
      if (url.origin !== o) throw new ConfigError(field, `must be written as ${url.origin}`)
      return url.origin
    })
  const config: AuthConfig = {
    enabled: true,
    issuer: issuer.issuer,
    audience: issuer.audiences[0] ?? '',
    signingAlgorithm,
    accessTokenTtlSeconds,
    keyRotationIntervalSeconds,
    refresh: { absoluteLifetimeSeconds, idleLifetimeSeconds, reuseIntervalSeconds },
    cookieName: REFRESH_COOKIE_NAME,
    cookiePath: REFRESH_COOKIE_PATH,
    gatewayCookies: [REFRESH_COOKIE_NAME],
    allowedOrigins,
    keyEncryptionSecret: readSecret(env, 'KEY_ENCRYPTION_SECRET', r.field('(secret)')),
    passwordPepper: readSecret(env, 'PASSWORD_PEPPER', r.field('(secret)')),
  }
  r.done()
  return config
}
