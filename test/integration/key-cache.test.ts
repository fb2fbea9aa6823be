// The layered key store against real KV: isolate → KV → source, single-flight refetch with a
// cooldown, per-issuer isolation under a kid flood, and stale-key service when the source is
// down. Time is injected into KeyStore directly; the app-level cases use the real clock.

import { env } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { IssuerConfig, JwksSettings } from '../../src/keys/issuer'
import { AuthError } from '../../src/lib/errors'
import {
  KeyStore,
  SELF_ISSUER_REVALIDATE_MS,
  jwksKvKey,
  type KeyStoreDeps,
  type StoredJwks,
} from '../../src/keys/key-store'
import {
  captureLogs,
  installNetwork,
  send,
  setupIssuer,
  testEnv,
  uniqueIssuer,
  type Network,
} from '../helpers/gateway'
import { makeKey, type TestKey } from '../helpers/keys'
import { mint } from '../helpers/tokens'

afterEach(() => vi.restoreAllMocks())

const SETTINGS: JwksSettings = {
  refetchCooldownMs: 30_000,
  maxStaleMs: 3_600_000,
  fetchTimeoutMs: 1000,
  isolateTtlMs: 300_000,
}

function issuerConfig(issuer: string): IssuerConfig {
  return {
    issuer,
    self: false,
    jwksUri: `${issuer}/jwks.json`,
    audiences: ['api'],
    algorithms: ['EdDSA'],
    tokenTypes: ['at+jwt'],
    tenant: null,
    tenants: null,
    scopeClaim: 'scope',
    scopeFormat: 'space',
  }
}

/** A KeyStore harness with a controllable clock and a countable source. */
function harness(keys: TestKey[]) {
  const clock = { now: 1_700_000_000_000 }
  const served = { keys: keys.map((k) => k.jwk) as unknown[], down: false, calls: 0 }
  const pending: Promise<unknown>[] = []
  const deps: KeyStoreDeps = {
    kv: env.JWKS_CACHE,
    settings: SETTINGS,
    now: () => clock.now,
    waitUntil: (p) => void pending.push(p),
    source: async () => {
      served.calls++
      await Promise.resolve()
      if (served.down) throw new Error('source down')
      return served.keys
    },
  }
  return { clock, served, deps, settle: () => Promise.all(pending.splice(0)) }
}

async function reasonOf(promise: Promise<unknown>): Promise<AuthError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(AuthError)
  return err as AuthError
}

/** Two third-party issuers, each with one key, both trusted by one gateway env. */
async function twoIssuers(net: Network) {
  const keyA = await makeKey()
  const keyB = await makeKey()
  const a = uniqueIssuer('a')
  const b = uniqueIssuer('b')
  net.jwks.set(a, [keyA])
  net.jwks.set(b, [keyB])
  const { config } = await setupIssuer(net, [keyA], { issuer: a })
  const withBoth = {
    ...config,
    issuers: [
      ...(config.issuers as object[]),
      { issuer: b, audiences: ['api'], jwks_uri: `${b}/jwks.json`, tenant: 'acme' },
    ],
  }
  return { keyA, keyB, a, b, gw: testEnv(withBoth) }
}

describe('KeyStore layers', () => {
  it('loads from the source once, writes KV, then serves from the isolate', async () => {
    const key = await makeKey()
    const iss = issuerConfig(uniqueIssuer())
    const h = harness([key])
    const store = new KeyStore()
    expect((await store.getKey(iss, key.kid, h.deps)).kid).toBe(key.kid)
    await h.settle()
    const stored = await env.JWKS_CACHE.get<StoredJwks>(jwksKvKey(iss.issuer), 'json')
    expect(stored?.keys).toHaveLength(1)
    expect(stored?.fetched_at).toBe(h.clock.now)
    const kvGet = vi.spyOn(h.deps.kv, 'get')
    await store.getKey(iss, key.kid, h.deps)
    expect(kvGet).not.toHaveBeenCalled()
    expect(h.served.calls).toBe(1)
  })

  it('lets a cold isolate start from KV without calling the source', async () => {
    const key = await makeKey()
    const iss = issuerConfig(uniqueIssuer())
    const warm = harness([key])
    await new KeyStore().getKey(iss, key.kid, warm.deps)
    await warm.settle()
    const cold = harness([key])
    cold.clock.now = warm.clock.now + 1000
    expect((await new KeyStore().getKey(iss, key.kid, cold.deps)).kid).toBe(key.kid)
    expect(cold.served.calls).toBe(0)
  })

  it('refetches at most once per cooldown under a flood of random kids', async () => {
    const key = await makeKey()
    const iss = issuerConfig(uniqueIssuer())
    const h = harness([key])
    const store = new KeyStore()
    await store.getKey(iss, key.kid, h.deps)
    h.clock.now += SETTINGS.refetchCooldownMs // the next unknown kid may refetch once
    const flood = Array.from({ length: 200 }, () =>
      reasonOf(store.getKey(iss, crypto.randomUUID(), h.deps)),
    )
    const errors = await Promise.all(flood)
    expect(errors.every((e) => e.reason === 'unknown_kid')).toBe(true)
    expect(h.served.calls).toBe(2)
    for (let i = 0; i < 200; i++) await reasonOf(store.getKey(iss, crypto.randomUUID(), h.deps))
    expect(h.served.calls).toBe(2)
    h.clock.now += SETTINGS.refetchCooldownMs
    await reasonOf(store.getKey(iss, crypto.randomUUID(), h.deps))
    expect(h.served.calls).toBe(3)
    // The real key is never disturbed by the flood.
    expect((await store.getKey(iss, key.kid, h.deps)).kid).toBe(key.kid)
  })

  it('picks up a key the issuer added, on its first unknown kid after the cooldown', async () => {
    const first = await makeKey()
    const second = await makeKey()
    const iss = issuerConfig(uniqueIssuer())
    const h = harness([first])
    const store = new KeyStore()
    await store.getKey(iss, first.kid, h.deps)
    h.served.keys = [first.jwk, second.jwk]
    h.clock.now += SETTINGS.refetchCooldownMs
    expect((await store.getKey(iss, second.kid, h.deps)).kid).toBe(second.kid)
  })

  it('keeps known keys working while the source is down, up to the max stale age', async () => {
    const key = await makeKey()
    const iss = issuerConfig(uniqueIssuer())
    const h = harness([key])
    const store = new KeyStore()
    await store.getKey(iss, key.kid, h.deps)
    await h.settle()
    await env.JWKS_CACHE.delete(jwksKvKey(iss.issuer))
    h.served.down = true
    h.clock.now += SETTINGS.isolateTtlMs + 1 // background revalidation fails
    expect((await store.getKey(iss, key.kid, h.deps)).kid).toBe(key.kid)
    await h.settle()
    expect(h.served.calls).toBe(2)
    const unknown = await reasonOf(store.getKey(iss, 'rotated-in-while-down', h.deps))
    expect(unknown.reason).toBe('key_unavailable')
    expect(unknown.status).toBe(503)
    expect(unknown.options.retryAfterSeconds).toBeGreaterThan(0)
    h.clock.now += SETTINGS.maxStaleMs
    expect((await reasonOf(store.getKey(iss, key.kid, h.deps))).reason).toBe('key_unavailable')
  })

  it('answers 503, not 401, when an issuer has never been reachable', async () => {
    const iss = issuerConfig(uniqueIssuer())
    const h = harness([])
    h.served.down = true
    const err = await reasonOf(new KeyStore().getKey(iss, 'any', h.deps))
    expect(err.reason).toBe('key_unavailable')
  })

  it('skips private, symmetric and weak keys published in a JWKS', async () => {
    const good = await makeKey()
    const iss = issuerConfig(uniqueIssuer())
    const h = harness([good])
    const priv = await crypto.subtle.exportKey('jwk', good.privateKey)
    h.served.keys = [
      { ...priv, kid: 'private' },
      { kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' },
      { kty: 'OKP', crv: 'Ed25519', x: good.jwk.x, kid: 'enc', use: 'enc' },
      good.jwk,
    ]
    const store = new KeyStore()
    for (const kid of ['private', 'hmac', 'enc']) {
      expect((await reasonOf(store.getKey(iss, kid, h.deps))).reason).toBe('unknown_kid')
    }
    expect((await store.getKey(iss, good.kid, h.deps)).kid).toBe(good.kid)
  })
  it('re-reads our own keys from KV within SELF_ISSUER_REVALIDATE_MS, well before the isolate TTL', async () => {
    const key = await makeKey()
    const iss = { ...issuerConfig(uniqueIssuer('self')), self: true }
    const h = harness([])
    const put = (keys: unknown[]) =>
      env.JWKS_CACHE.put(
        jwksKvKey(iss.issuer),
        JSON.stringify({ v: 1, fetched_at: h.clock.now, keys } satisfies StoredJwks),
      )
    await put([key.jwk])
    const store = new KeyStore()
    expect((await store.getKey(iss, key.kid, h.deps)).kid).toBe(key.kid)
    // Emergency removal written by another isolate's KeyManager: only KV changes here.
    await put([])
    h.clock.now += SELF_ISSUER_REVALIDATE_MS + 1
    expect(SELF_ISSUER_REVALIDATE_MS + 1).toBeLessThan(SETTINGS.isolateTtlMs)
    expect(store.peekKey(iss, key.kid, SETTINGS, h.clock.now)).toBeUndefined()
    await store.getKey(iss, key.kid, h.deps).catch(() => null) // due: revalidates in the background
    await h.settle()
    expect((await reasonOf(store.getKey(iss, key.kid, h.deps))).reason).toBe('unknown_kid')
    expect(h.served.calls).toBe(0)
  })
})

describe('key cache through the gateway', () => {
  let net: Network
  beforeEach(() => {
    net = installNetwork()
  })

  it('caches the JWKS in KV and in the isolate: the second request reads neither', async () => {
    const key = await makeKey()
    const { issuer, config } = await setupIssuer(net, [key])
    const reads: string[] = []
    const kv = env.JWKS_CACHE
    const countingKv = {
      get: (name: string, type: 'json') => {
        reads.push(name)
        return kv.get(name, type)
      },
      put: kv.put.bind(kv),
    }
    const gw = testEnv(config, { JWKS_CACHE: countingKv })
    expect((await send(gw, '/api/echo/a', { token: await mint(key, { issuer }) })).status).toBe(200)
    expect(reads).toEqual([jwksKvKey(issuer)])
    expect(await kv.get(jwksKvKey(issuer))).not.toBeNull()
    expect((await send(gw, '/api/echo/b', { token: await mint(key, { issuer }) })).status).toBe(200)
    expect(reads).toHaveLength(1)
    expect(net.jwksFetches.get(issuer)).toBe(1)
  })

  it('one issuer flooded with random kids leaves another issuer untouched', async () => {
    const { keyA, a, b, gw } = await twoIssuers(net)
    expect((await send(gw, '/api/echo/x', { token: await mint(keyA, { issuer: a }) })).status).toBe(
      200,
    )
    const flood = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const fake = await makeKey('EdDSA', crypto.randomUUID())
        return (await send(gw, '/api/echo/x', { token: await mint(fake, { issuer: b }) })).status
      }),
    )
    expect(new Set(flood)).toEqual(new Set([401]))
    expect(net.jwksFetches.get(b)).toBe(1)
    expect((await send(gw, '/api/echo/x', { token: await mint(keyA, { issuer: a }) })).status).toBe(
      200,
    )
    expect(net.jwksFetches.get(a)).toBe(1)
    expect(net.originCalls).toHaveLength(2)
  })

  it('rejects a token whose kid belongs to another issuer', async () => {
    const logs = captureLogs()
    const { keyA, a, b, gw } = await twoIssuers(net)
    // a's key is loaded in this isolate; b's JWKS does not list it.
    expect((await send(gw, '/api/echo/x', { token: await mint(keyA, { issuer: a }) })).status).toBe(
      200,
    )
    const before = net.originCalls.length
    const res = await send(gw, '/api/echo/x', { token: await mint(keyA, { issuer: b }) })
    expect(res.status).toBe(401)
    expect(logs.lastReason()).toBe('unknown_kid')
    expect(net.jwksFetches.get(b)).toBe(1)
    expect(net.originCalls).toHaveLength(before)
  })

  it('stops accepting a cached token once it expires, while its key stays cached', async () => {
    const logs = captureLogs()
    const key = await makeKey()
    const { issuer, env: gw } = await setupIssuer(net, [key])
    const start = Date.now()
    const token = await mint(key, { issuer, expiresIn: 30 })
    const exp = Math.floor(start / 1000) + 30
    expect((await send(gw, '/api/echo/x', { token })).status).toBe(200) // verified and cached
    try {
      // Still inside exp + clock_skew_seconds (60): the cache may answer.
      vi.useFakeTimers({ toFake: ['Date'], now: (exp + 60 - 2) * 1000 })
      expect((await send(gw, '/api/echo/x', { token })).status).toBe(200)
      // Past it, well inside isolate_ttl_seconds (300): the key is still held, the token is not.
      vi.setSystemTime((exp + 60 + 1) * 1000)
      const res = await send(gw, '/api/echo/x', { token })
      expect(res.status).toBe(401)
      expect(logs.lastReason()).toBe('expired')
    } finally {
      vi.useRealTimers()
    }
    expect(net.jwksFetches.get(issuer)).toBe(1)
    expect(net.originCalls).toHaveLength(2)
  })

  it('answers 503 with Retry-After when the JWKS source is down and the key unknown', async () => {
    const key = await makeKey()
    const { issuer, env: gw } = await setupIssuer(net, [key])
    net.down.add(issuer)
    const res = await send(gw, '/api/echo/x', { token: await mint(key, { issuer }) })
    expect(res.status).toBe(503)
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(net.originCalls).toHaveLength(0)
  })
})
