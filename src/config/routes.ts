// The route table's configuration ([[vars.GATEHOUSE.routes]]): prefix, origin, auth mode,
// scopes per method class, tier, timeout, retries, bulkhead, and the per-origin secret that signs
// the identity headers. Validated field by field; the secret is resolved here, never logged.

import { ConfigError, FieldReader, readSecret, readUrl, type ConfigSource } from './reader'

export const TIERS = ['low', 'standard', 'critical'] as const
export type Tier = (typeof TIERS)[number]

export type AuthMode = 'none' | 'token'

export interface RouteConfig {
  /** Path prefix without a trailing slash; matches the prefix itself and everything below it. */
  readonly prefix: string
  /** Origin base (scheme://host[:port]) the unchanged path and query are appended to. */
  readonly origin: string
  readonly auth: AuthMode
  /** Scopes required for GET, HEAD and OPTIONS. */
  readonly readScopes: readonly string[]
  /** Scopes required for every other method. */
  readonly writeScopes: readonly string[]
  readonly methods: ReadonlySet<string>
  readonly tier: Tier
  readonly timeoutMs: number
  readonly forwardAuthorization: boolean
  /** Extra attempts for idempotent, body-less requests that fail before any response byte. */
  readonly retries: number
  /** Bulkhead: concurrent forwards to this route's origin per isolate. */
  readonly maxInFlight: number
  readonly originSecretName: string
  /** The resolved per-origin HMAC secret; never logged. */
  readonly originSecret: string
}

export const DEFAULT_ROUTE_TIMEOUT_MS = 10_000
const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const
/** RFC 6749 §3.3 scope-token. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/
/** A secret binding's name. */
export const ENV_NAME = /^[A-Z][A-Z0-9_]{0,63}$/
const PREFIX = /^(\/[A-Za-z0-9._~!$&'()*+,=:@-]+)+\/?(\*)?$|^\/\*?$/

/** Paths the gateway serves itself; no route may claim them. */
export const RESERVED_PREFIXES = [
  '/auth',
  '/admin',
  '/.well-known',
  '/healthz',
  '/metrics',
  '/demo',
]

/** Reads one route; throws ConfigError naming the field. */
export function readRoute(r: FieldReader, env: ConfigSource): RouteConfig {
  const rawPrefix = r.string('prefix', { pattern: PREFIX, maxLength: 200 })
  const prefix = rawPrefix.replace(/\/?\*$/, '').replace(/\/$/, '')
  const clash = RESERVED_PREFIXES.find((p) => prefix === p || prefix.startsWith(`${p}/`))
  if (clash !== undefined)
    throw new ConfigError(r.field('prefix'), `${clash} is served by the gateway itself`)
  const origin = readUrl(r.string('origin'), r.field('origin'), { pathAllowed: false }).origin
  const auth = r.oneOf<AuthMode>('auth', ['none', 'token'])
  const readScopes = r.stringList('read_scopes', { default: [], pattern: SCOPE_TOKEN })
  const writeScopes = r.stringList('write_scopes', { default: [], pattern: SCOPE_TOKEN })
  if (auth === 'none' && (readScopes.length > 0 || writeScopes.length > 0)) {
    throw new ConfigError(r.field('auth'), 'a route with scopes must use auth = "token"')
  }
  const methods = new Set(r.stringList('methods', { default: ALL_METHODS, allowed: ALL_METHODS }))
  const tier = r.oneOf<Tier>('tier', TIERS, 'low')
  const timeoutMs = r.integer('timeout_ms', {
    default: DEFAULT_ROUTE_TIMEOUT_MS,
    min: 100,
    max: 120_000,
  })
  const forwardAuthorization = r.boolean('forward_authorization', false)
  const retries = r.integer('retries', { default: 2, min: 0, max: 5 })
  const maxInFlight = r.integer('max_in_flight', { default: 256, min: 1, max: 10_000 })
  const originSecretName = r.string('origin_secret', { pattern: ENV_NAME })
  const originSecret = readSecret(env, originSecretName, r.field('origin_secret'))
  r.done()
  return {
    prefix,
    origin,
    auth,
    readScopes,
    writeScopes,
    methods,
    tier,
    timeoutMs,
    forwardAuthorization,
    retries,
    maxInFlight,
    originSecretName,
    originSecret,
  }
}
