// Shared fixtures of the configuration tests: a valid document that uses every table (a self
// issuer and a third-party one, two routes, auth, jwks, sensitive scopes, a metrics secret), the
// secrets it names, and helpers that change one field and return the ConfigError it causes.

import { expect, it } from 'vitest'
import { ConfigError, parseConfig, type ConfigSource } from '../../../src/config/config'

type Json = Record<string, unknown>
export type Path = readonly (string | number)[]

/** A value that removes the field instead of setting it. */
export const MISSING = Symbol('missing')

/** Test-only secret values: long enough (≥ 32 characters), never used elsewhere. */
export const SECRETS: Readonly<Record<string, string>> = {
  ORIGIN_SECRET_A: 'unit-origin-secret-a-0123456789abcdef',
  ORIGIN_SECRET_B: 'unit-origin-secret-b-0123456789abcdef',
  METRICS_SECRET: 'unit-metrics-secret-0123456789abcdef',
  KEY_ENCRYPTION_SECRET: 'unit-key-encryption-secret-0123456789',
  PASSWORD_PEPPER: 'unit-password-pepper-0123456789abcdef',
}

/** A fresh valid document; index 0 of issuers is the self issuer, index 1 a third party. */
export function validDocument(): Json {
  return {
    public_url: 'https://gatehouse.test',
    clock_skew_seconds: 30,
    max_token_lifetime_seconds: 3600,
    revocation_timeout_ms: 200,
    metrics_scrape_secret: 'METRICS_SECRET',
    demo_page: false,
    sensitive_scopes: { 'gatehouse:admin': 'critical' },
    jwks: {
      refetch_cooldown_seconds: 30,
      max_stale_seconds: 86_400,
      fetch_timeout_ms: 3000,
      isolate_ttl_seconds: 300,
    },
    issuers: [
      {
        issuer: 'https://gatehouse.test',
        self: true,
        audiences: ['api'],
        algorithms: ['EdDSA', 'RS256'],
      },
      {
        issuer: 'https://idp.test/',
        jwks_uri: 'https://idp.test/.well-known/jwks.json',
        audiences: ['api', 'https://api.test'],
        algorithms: ['RS256', 'ES256'],
        token_types: ['at+jwt', 'application/jwt'],
        tenant: 'acme',
      },
    ],
    auth: {
      signing_algorithm: 'EdDSA',
      access_token_ttl_seconds: 900,
      key_rotation_interval_days: 30,
      session_absolute_lifetime_hours: 720,
      session_idle_lifetime_hours: 168,
      refresh_reuse_interval_seconds: 10,
      allowed_origins: ['https://app.test', 'http://localhost:3000'],
    },
    routes: [
      {
        prefix: '/api/public',
        origin: 'https://origin.test',
        auth: 'none',
        methods: ['GET', 'HEAD'],
        origin_secret: 'ORIGIN_SECRET_A',
      },
      {
        prefix: '/api/echo/*',
        origin: 'https://echo.origin.test:8443',
        auth: 'token',
        read_scopes: ['echo:read'],
        write_scopes: ['echo:write'],
        tier: 'critical',
        timeout_ms: 5000,
        forward_authorization: true,
        retries: 0,
        max_in_flight: 64,
        origin_secret: 'ORIGIN_SECRET_B',
      },
    ],
  }
}

/** A copy of doc with the field at path set to value (MISSING: removed). */
export function withField(doc: Json, path: Path, value: unknown): Json {
  const copy = structuredClone(doc)
  let parent: Record<string | number, unknown> = copy
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>
  const last = path[path.length - 1] as string | number
  if (value === MISSING) delete parent[last]
  else parent[last] = value
  return copy
}

/** A source with the test secrets and this document as the GATEHOUSE override. */
export function sourceOf(doc: unknown, extra: Record<string, unknown> = {}): ConfigSource {
  return { ...SECRETS, GATEHOUSE: doc, ...extra }
}

/** The ConfigError parsing this source throws; fails the test if it parses. */
export function configError(source: ConfigSource): ConfigError {
  try {
    parseConfig(source)
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('expected a ConfigError, but the configuration parsed')
}

/** The field an entry of `routes` or `issuers` is named by in errors. */
const NAMED_BY: Readonly<Record<string, string>> = { routes: 'prefix', issuers: 'issuer' }

/**
 * `GATEHOUSE.routes["/api/echo/*"].origin` for ['routes', 1, 'origin'] in doc: a route by its
 * prefix, an issuer by its issuer value; other lists, and an entry without a usable name (not a
 * non-empty string, or shared with another entry), by index.
 */
export function fieldOf(path: Path, doc: Json = validDocument()): string {
  return path.reduce<string>((field, key, depth) => {
    if (typeof key !== 'number') return `${field}.${key}`
    const name = depth === 1 ? entryName(doc, path[0] as string, key) : undefined
    return name === undefined ? `${field}[${key}]` : `${field}[${JSON.stringify(name)}]`
  }, 'GATEHOUSE')
}

function entryName(doc: Json, list: string, index: number): string | undefined {
  const by = NAMED_BY[list]
  const entries = doc[list]
  if (by === undefined || !Array.isArray(entries)) return undefined
  const names = entries.map((e: unknown) => (e as Json | null)?.[by])
  const name = names[index]
  if (typeof name !== 'string' || name === '') return undefined
  return names.filter((n) => n === name).length === 1 ? name : undefined
}

export interface InvalidCase {
  readonly path: Path
  readonly value: unknown
  /** The field the error must name, when not the path itself (a list item, a parent). */
  readonly field?: string
}

/** Cases that set the field at path to each of values. */
export function invalid(path: Path, values: readonly unknown[], field?: string): InvalidCase[] {
  return values.map((value) => ({ path, value, field }))
}

function show(value: unknown): string {
  if (value === MISSING) return '(missing)'
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 40 ? `${text.slice(0, 37)}...` : text
}

/** One test per case: the valid document with that one change is refused, naming the field. */
export function rejectsEach(cases: readonly InvalidCase[]): void {
  const rows = cases.map((c) => {
    const doc = withField(validDocument(), c.path, c.value)
    return {
      ...c,
      doc,
      label: `${fieldOf(c.path)} = ${show(c.value)}`,
      expected: c.field ?? fieldOf(c.path, doc),
    }
  })
  for (const { label, doc, expected } of rows) {
    it(`rejects ${label}`, () => {
      const err = configError(sourceOf(doc))
      expect(err.field).toBe(expected)
      expect(err.message.startsWith(`invalid configuration: ${expected}: `)).toBe(true)
    })
  }
}
