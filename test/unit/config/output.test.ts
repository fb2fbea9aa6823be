// What a valid document becomes: both bundled profiles parse to the values wrangler.toml used
// to carry, defaults fill what a document leaves out, and the Config is normalized and frozen.

import { describe, expect, it } from 'vitest'
import { parseConfig, tokenHorizon } from '../../../src/config/config'
import { sourceOf, validDocument, withField } from './fixtures'

const PROFILE_SECRETS = Object.fromEntries(
  [
    'KEY_ENCRYPTION_SECRET',
    'PASSWORD_PEPPER',
    'METRICS_SCRAPE_SECRET',
    'ORIGIN_SECRET_DEMO',
    'ORIGIN_SECRET_STATUS',
    'ORIGIN_SECRET_CATALOG',
    'ORIGIN_SECRET_ACCOUNTS',
    'ORIGIN_SECRET_PAYMENTS',
  ].map((name) => [name, `unit-${name.toLowerCase()}-0123456789abcdef0123`]),
)

describe('bundled profiles', () => {
  it('parses the demo profile', () => {
    const config = parseConfig({ ...PROFILE_SECRETS, GATEHOUSE_PROFILE: 'demo' })
    expect(config.demoPage).toBe(true)
    expect(config.revocationTimeoutMs).toBe(1000)
    expect(config.sensitiveScopes).toEqual({ 'gatehouse:admin': 'critical' })
    expect(config.auth.allowedOrigins).toEqual(['http://127.0.0.1:8787', 'http://localhost:8787'])
    expect(config.routes.map((r) => [r.prefix, r.auth, r.tier, r.dpop])).toEqual([
      ['/api/public', 'none', 'low', 'optional'],
      ['/api/echo', 'token', 'low', 'optional'],
      ['/api/limited', 'token', 'low', 'optional'],
      ['/api/echo/admin', 'token', 'critical', 'optional'],
      ['/api/bound', 'token', 'standard', 'required'],
      ['/api/secure', 'token', 'critical', 'optional'],
      ['/api/stepup', 'token', 'critical', 'optional'],
      ['/api/py', 'token', 'low', 'optional'],
      ['/api/go', 'token', 'low', 'optional'],
    ])
    // #17: the step-up route demands acr mfa within 300 s; passkeys on the localhost alias.
    expect(config.routes.find((r) => r.prefix === '/api/stepup')?.authLevel).toEqual({
      acrValues: ['mfa'],
      maxAuthAgeSeconds: 300,
    })
    expect(config.auth.mfa.rp).toEqual({
      id: 'localhost',
      name: 'Gatehouse demo',
      origins: ['http://localhost:8787'],
    })
    expect(config.publicAliases).toEqual(['http://localhost:8787'])
    // #15: the Python and Go example origins, one per assertion signing mode.
    expect(
      config.routes
        .filter((r) => r.prefix === '/api/py' || r.prefix === '/api/go')
        .map((r) => [r.origin, r.identity, r.assertionSigning, r.bodyBinding]),
    ).toEqual([
      ['http://127.0.0.1:8789', 'assertion', 'hs256', 'required'],
      ['http://127.0.0.1:8790', 'assertion', 'eddsa', 'best_effort'],
    ])
    // Two session shards and an audit database of its own; DPoP offered, nonces off.
    expect(config.storage.shards.map((s) => [s.binding, s.buckets.length])).toEqual([
      ['SESSIONS_0', 512],
      ['SESSIONS_1', 512],
    ])
    expect(config.storage.auditBinding).toBe('AUDIT_DB')
    expect(config.auth.dpop).toEqual({ requiredFor: [], useNonce: false })
    // Demo profile v2 (#14): a SPA dev server may call /api/echo; /api/limited allows 5 per 10 s.
    expect(config.routes.find((r) => r.prefix === '/api/echo')?.cors?.origins).toEqual([
      'http://localhost:5173',
    ])
    expect(config.routes.find((r) => r.prefix === '/api/limited')?.rateLimit).toEqual({
      key: 'subject',
      limit: 5,
      periodSeconds: 10,
      binding: 'RATE_LIMIT_DEMO',
    })
    // Demo profile v2: the demo third-party issuer, its tenant pinned.
    expect(config.issuers[1]).toMatchObject({
      issuer: 'http://127.0.0.1:8788/idp',
      self: false,
      audiences: ['gatehouse-demo'],
      tenant: 'partners',
    })
  })

  it('parses the production profile', () => {
    const config = parseConfig({ ...PROFILE_SECRETS, GATEHOUSE_PROFILE: 'production' })
    expect(config.publicUrl).toBe('https://auth.example.com')
    expect(config.demoPage).toBe(false)
    expect(config.revocationTimeoutMs).toBe(150)
    expect(config.auth.audience).toBe('https://api.example.com')
    expect(config.routes.map((r) => [r.prefix, r.timeoutMs, r.retries])).toEqual([
      ['/api/status', 10_000, 2],
      ['/api/catalog', 5000, 2],
      ['/api/account', 10_000, 2],
      ['/api/payments', 15_000, 0],
    ])
    expect([...(config.routes[0]?.methods ?? [])]).toEqual(['GET', 'HEAD'])
  })
})

describe('defaults', () => {
  it('fills every optional field of a minimal document', () => {
    const minimal = {
      public_url: 'https://gatehouse.test',
      issuers: [
        {
          issuer: 'https://idp.test',
          jwks_uri: 'https://idp.test/jwks',
          audiences: ['a'],
          tenant: 'acme',
        },
      ],
      routes: [
        { prefix: '/', origin: 'https://o.test', auth: 'none', origin_secret: 'ORIGIN_SECRET_A' },
      ],
    }
    const config = parseConfig(sourceOf(minimal))
    expect(config).toMatchObject({
      clockSkewSeconds: 60,
      maxTokenLifetimeSeconds: 3600,
      revocationTimeoutMs: 150,
      metricsScrapeSecret: null,
      demoPage: false,
      sensitiveScopes: {},
      jwks: {
        refetchCooldownMs: 30_000,
        maxStaleMs: 86_400_000,
        fetchTimeoutMs: 3000,
        isolateTtlMs: 300_000,
      },
      issuers: [
        {
          self: false,
          algorithms: ['EdDSA'],
          tokenTypes: ['at+jwt'],
          tenant: 'acme',
          tenants: null,
        },
      ],
      warnings: [],
      routes: [
        {
          prefix: '',
          readScopes: [],
          writeScopes: [],
          tier: 'low',
          timeoutMs: 10_000,
          forwardAuthorization: false,
          retries: 2,
          maxInFlight: 256,
        },
      ],
      auth: { enabled: false, allowedOrigins: [] },
    })
    expect(config.routes[0]?.methods.size).toBe(7)
  })

  it('fills the auth table from its defaults when a self issuer names only its origins', () => {
    const config = parseConfig(
      sourceOf(withField(validDocument(), ['auth'], { allowed_origins: ['https://app.test'] })),
    )
    expect(config.auth).toMatchObject({
      enabled: true,
      issuer: 'https://gatehouse.test',
      audience: 'api',
      signingAlgorithm: 'EdDSA',
      accessTokenTtlSeconds: 900,
      keyRotationIntervalSeconds: 30 * 86_400,
      refresh: {
        absoluteLifetimeSeconds: 720 * 3600,
        idleLifetimeSeconds: 168 * 3600,
        reuseIntervalSeconds: 10,
      },
      allowedOrigins: ['https://app.test'],
      cookieName: '__Secure-gatehouse_refresh',
      cookiePath: '/auth',
      gatewayCookies: ['__Secure-gatehouse_refresh'],
    })
  })
})

describe('normalization', () => {
  it('normalizes URLs, prefixes and token types', () => {
    let doc = withField(validDocument(), ['public_url'], 'HTTPS://GateHouse.test:443/')
    doc = withField(doc, ['routes', 0, 'origin'], 'https://origin.test/')
    doc = withField(doc, ['issuers', 1, 'token_types'], ['Application/AT+JWT', 'JWT'])
    const config = parseConfig(sourceOf(doc))
    expect([config.publicUrl, config.publicHost, config.publicProto]).toEqual([
      'https://gatehouse.test',
      'gatehouse.test',
      'https',
    ])
    expect(config.routes.map((r) => [r.prefix, r.origin])).toEqual([
      ['/api/public', 'https://origin.test'],
      ['/api/echo', 'https://echo.origin.test:8443'],
    ])
    expect(config.issuers[1]?.tokenTypes).toEqual(['at+jwt', 'jwt'])
    expect(config.issuers[1]?.jwksUri).toBe('https://idp.test/.well-known/jwks.json')
  })

  it('returns a deeply frozen Config', () => {
    const config = parseConfig(sourceOf(validDocument()))
    for (const part of [config, config.issuers, config.issuers[0], config.routes[1], config.jwks]) {
      expect(Object.isFrozen(part)).toBe(true)
    }
    expect(Object.isFrozen(config.auth.refresh)).toBe(true)
    expect(Object.isFrozen(config.sensitiveScopes)).toBe(true)
  })

  it('computes the token horizon from the lifetime and the skew', () => {
    const config = parseConfig(sourceOf(validDocument()))
    expect(tokenHorizon(config, 1_000_000)).toBe(1_000_000 + 3600 + 30)
  })
})
