// The one reader of raw vars: parseConfig(env) validates the GATEHOUSE var (a TOML table in
// wrangler.toml, or the same document as a JSON string) plus the secrets it names, and returns a
// frozen, typed Config. loadConfig caches the result per isolate, keyed by the env object, so a
// request never re-parses; a broken config is cached too, so every request answers 500 without
// re-validating, and the error is logged once per isolate.

import { ConfigError, FieldReader, readSecret, readUrl } from './reader'
import { loadAuthConfig, type AuthConfig } from './auth'
import {
  ENV_NAME,
  SCOPE_TOKEN,
  TIERS,
  readRoute,
  type RouteConfig,
  type Tier,
} from './routes'

export { ConfigError }
export { TIERS } from './routes'
export type { AuthMode, RouteConfig, Tier } from './routes'
import type { ConfigSource } from './reader'

export const ALGORITHMS = [
  'EdDSA',
  'ES256',
  'ES384',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
] as const
export type Algorithm = (typeof ALGORITHMS)[number]

export interface IssuerConfig {
  readonly issuer: string
  /** True for Gatehouse's own issuer: keys come from the KeyManager, not a jwks_uri. */
  readonly self: boolean
  readonly jwksUri: string | null
  readonly audiences: readonly string[]
  readonly algorithms: readonly Algorithm[]
  /** Accepted `typ` values, lower-case, without the `application/` prefix (RFC 8725 §3.11). */
  readonly tokenTypes: readonly string[]
  /** Forced tenant for every token of this issuer; null means the signed `tid` claim. */
  readonly tenant: string | null
}

export interface JwksSettings {
  readonly refetchCooldownMs: number
  readonly maxStaleMs: number
  readonly fetchTimeoutMs: number
  readonly isolateTtlMs: number
}

export interface Config {
  readonly publicUrl: string
  /** Host (and port) of public_url: what origins receive as X-Forwarded-Host. */
  readonly publicHost: string
  /** Scheme of public_url without ':': what origins receive as X-Forwarded-Proto. */
  readonly publicProto: string
  readonly clockSkewSeconds: number
  readonly maxTokenLifetimeSeconds: number
  readonly issuers: readonly IssuerConfig[]
  readonly jwks: JwksSettings
  readonly routes: readonly RouteConfig[]
  /** Scopes whose holders' requests are checked at least at this tier. */
  readonly sensitiveScopes: Readonly<Record<string, Tier>>
  readonly revocationTimeoutMs: number
  /** The bearer secret a Prometheus scraper presents on GET /metrics; null: admins only. */
  readonly metricsScrapeSecret: string | null
  /** Serve the browser demo page at GET /demo (local demo profile only). */
  readonly demoPage: boolean
  readonly auth: AuthConfig
}

export const DEFAULT_CLOCK_SKEW_SECONDS = 60
export const MAX_CLOCK_SKEW_SECONDS = 300
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 3600
export const DEFAULT_REVOCATION_TIMEOUT_MS = 150

export type { ConfigSource }

/** Validates the whole configuration; throws ConfigError naming the first bad field. */
export function parseConfig(env: ConfigSource): Config {
  const r = FieldReader.of(readRoot(env.GATEHOUSE), 'GATEHOUSE')
  const publicUrl = readUrl(r.string('public_url'), r.field('public_url'), { pathAllowed: false })
  const clockSkewSeconds = r.integer('clock_skew_seconds', {
    default: DEFAULT_CLOCK_SKEW_SECONDS,
    min: 0,
    max: MAX_CLOCK_SKEW_SECONDS,
  })
  const maxTokenLifetimeSeconds = r.integer('max_token_lifetime_seconds', {
    default: DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
    min: 60,
    max: 86_400,
  })
  const issuers = r.tableList('issuers', { min: 1 }).map(readIssuer)
  assertUnique(
    issuers.map((i) => i.issuer),
    r.field('issuers'),
    'issuer',
  )
  if (issuers.filter((i) => i.self).length > 1) {
    throw new ConfigError(r.field('issuers'), 'at most one issuer may set self = true')
  }
  const jwks = readJwks(r.table('jwks'))
  const routes = r.tableList('routes', { min: 1 }).map((route) => readRoute(route, env))
  assertUnique(
    routes.map((x) => x.prefix),
    r.field('routes'),
    'prefix',
  )
  const sensitiveScopes = readSensitiveScopes(r.table('sensitive_scopes'))
  const revocationTimeoutMs = r.integer('revocation_timeout_ms', {
    default: DEFAULT_REVOCATION_TIMEOUT_MS,
    min: 10,
    max: 5000,
  })
  const demoPage = r.boolean('demo_page', false)
  const scrapeSecretName = r.optionalString('metrics_scrape_secret', { pattern: ENV_NAME })
  const metricsScrapeSecret =
    scrapeSecretName === null
      ? null
      : readSecret(env, scrapeSecretName, r.field('metrics_scrape_secret'))
  const selfIssuer = issuers.find((i) => i.self) ?? null
  const auth = loadAuthConfig(r.table('auth'), env, {
    selfIssuer,
    maxTokenLifetimeSeconds,
    publicOrigin: publicUrl.origin,
  })
  r.done()
  return deepFreeze({
    publicUrl: publicUrl.origin,
    publicHost: publicUrl.host,
    publicProto: publicUrl.protocol.slice(0, -1),
    clockSkewSeconds,
    maxTokenLifetimeSeconds,
    issuers,
    jwks,
    routes,
    sensitiveScopes,
    revocationTimeoutMs,
    metricsScrapeSecret,
    demoPage,
    auth,
  })
}

function readSensitiveScopes(r: FieldReader): Record<string, Tier> {
  const out: Record<string, Tier> = {}
  for (const scope of r.keys()) {
    if (!SCOPE_TOKEN.test(scope)) throw new ConfigError(r.field(scope), 'is not a valid scope')
    out[scope] = r.oneOf<Tier>(scope, TIERS)
  }
  r.done()
  return out
}

function readRoot(value: unknown): unknown {
  if (value === undefined)
    throw new ConfigError('GATEHOUSE', 'is not set (see README: Configuration)')
  if (typeof value !== 'string') return value
  try {
    return JSON.parse(value)
  } catch {
    throw new ConfigError('GATEHOUSE', 'is a string but not valid JSON')
  }
}

function readIssuer(r: FieldReader): IssuerConfig {
  const issuer = r.string('issuer', { maxLength: 300 })
  const self = r.boolean('self', false)
  const jwksUri = r.optionalString('jwks_uri')
  if (self === (jwksUri !== null)) {
    throw new ConfigError(r.field('jwks_uri'), 'set exactly one of self = true or jwks_uri')
  }
  if (jwksUri !== null) readUrl(jwksUri, r.field('jwks_uri'), { pathAllowed: true })
  const algorithms = r.stringList('algorithms', {
    default: ['EdDSA'],
    allowed: ALGORITHMS,
    min: 1,
  }) as Algorithm[]
  const tokenTypes = r
    .stringList('token_types', { default: ['at+jwt'], min: 1, pattern: /^[\x21-\x7e]+$/ })
    .map(normalizeTokenType)
  const issuerConfig: IssuerConfig = {
    issuer,
    self,
    jwksUri,
    audiences: r.stringList('audiences', { min: 1, pattern: /^[\x21-\x7e]+$/ }),
    algorithms,
    tokenTypes,
    tenant: r.optionalString('tenant', { maxLength: 128, pattern: /^[\x21-\x7e]+$/ }),
  }
  r.done()
  return issuerConfig
}

/** Lower-cases a `typ` value and drops the optional `application/` prefix (RFC 7515 §4.1.9). */
export function normalizeTokenType(typ: string): string {
  const lower = typ.toLowerCase()
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower
}

function readJwks(r: FieldReader): JwksSettings {
  const settings: JwksSettings = {
    refetchCooldownMs:
      r.integer('refetch_cooldown_seconds', { default: 30, min: 1, max: 3600 }) * 1000,
    maxStaleMs: r.integer('max_stale_seconds', { default: 86_400, min: 60, max: 604_800 }) * 1000,
    fetchTimeoutMs: r.integer('fetch_timeout_ms', { default: 3000, min: 100, max: 30_000 }),
    isolateTtlMs: r.integer('isolate_ttl_seconds', { default: 300, min: 1, max: 86_400 }) * 1000,
  }
  r.done()
  return settings
}

function assertUnique(values: string[], field: string, what: string): void {
  const seen = new Set<string>()
  for (const v of values) {
    if (seen.has(v)) throw new ConfigError(field, `duplicate ${what} ${JSON.stringify(v)}`)
    seen.add(v)
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    if (!(value instanceof Set)) {
      for (const child of Object.values(value)) deepFreeze(child)
    }
    Object.freeze(value)
  }
  return value
}

/** Epoch seconds by which every access token accepted now has expired, skew included. */
export function tokenHorizon(config: Config, nowSeconds: number): number {
  return nowSeconds + config.maxTokenLifetimeSeconds + config.clockSkewSeconds
}

const cache = new WeakMap<object, Config | ConfigError>()

/**
 * Returns the isolate's parsed Config for this env, or the cached ConfigError. Parsing happens
 * once per env object (workerd hands every request of an isolate the same one).
 */
export function loadConfig(env: ConfigSource): Config | ConfigError {
  let entry = cache.get(env)
  if (entry === undefined) {
    try {
      entry = parseConfig(env)
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      entry = err
    }
    cache.set(env, entry)
  }
  return entry
}
