// CORS per route and rate limits per identity (issue #14), on the real Worker with the real
// local Durable Objects and rate limiting binding: preflights answered at the edge without a token
// and never forwarded, grants exactly as configured, origin CORS headers replaced, 429 with
// Retry-After and RateLimit fields, origin untouched.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ConfigError } from '../../src/config/config'
import { servicesFor } from '../../src/http/services'
import { authConfig, authEnv, webSession } from '../helpers/auth'
import { captureLogs, installNetwork, send, testEnv, type Network } from '../helpers/gateway'

let net: Network
beforeEach(() => {
  net = installNetwork()
})
afterEach(() => vi.restoreAllMocks())

const gw = authEnv()
const SPA = 'https://spa.test'

describe('CORS per route', () => {
  it('answers a preflight at the edge with the configured grants: no token, no origin call', async () => {
    const res = await send(gw, '/api/cors/items', {
      method: 'OPTIONS',
      headers: {
        origin: SPA,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    })
    expect(res.status).toBe(204)
    expect(Object.fromEntries(res.headers)).toMatchObject({
      'access-control-allow-origin': SPA,
      'access-control-allow-methods': 'GET, HEAD, POST, PUT, PATCH, DELETE',
      'access-control-allow-headers': 'authorization, content-type, dpop',
      'access-control-max-age': '600',
      vary: 'Origin',
    })
    expect(res.headers.get('access-control-allow-credentials')).toBeNull()
    expect(net.originCalls).toHaveLength(0)
  })

  it('grants nothing to an origin not on the list, and logs why', async () => {
    const logs = captureLogs()
    const res = await send(gw, '/api/cors/items', {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.test', 'access-control-request-method': 'GET' },
    })
    expect(res.status).toBe(403)
    expect(res.headers.get('access-control-allow-origin')).toBeNull()
    expect(res.headers.get('vary')).toBe('Origin')
    expect(logs.lastReason()).toBe('origin_not_allowed')
    expect(net.originCalls).toHaveLength(0)
  })

  it('adds the grant to the origin’s answer, replacing the CORS headers the origin set', async () => {
    net.origin = () =>
      new Response('[]', {
        headers: {
          'access-control-allow-origin': '*',
          'access-control-allow-credentials': 'true',
          vary: 'Accept-Encoding',
          'x-total': '0',
        },
      })
    const s = await webSession(gw, ['echo:read'])
    const res = await send(gw, '/api/cors/items', { token: s.access, headers: { origin: SPA } })
    expect(res.status).toBe(200)
    expect(res.headers.get('access-control-allow-origin')).toBe(SPA)
    expect(res.headers.get('access-control-allow-credentials')).toBeNull()
    expect(res.headers.get('access-control-expose-headers')).toBe('x-total')
    expect(res.headers.get('vary')).toBe('Accept-Encoding, Origin')
    // Another origin's request is served, but its script is granted nothing.
    const other = await send(gw, '/api/cors/items', {
      token: s.access,
      headers: { origin: 'https://evil.test' },
    })
    expect(other.headers.get('access-control-allow-origin')).toBeNull()
    expect(other.headers.get('vary')).toContain('Origin')
  })

  it('lets the SPA read the gateway’s own 401, so it can refresh', async () => {
    const res = await send(gw, '/api/cors/items', { headers: { origin: SPA } })
    expect(res.status).toBe(401)
    expect(res.headers.get('access-control-allow-origin')).toBe(SPA)
    expect(res.headers.get('www-authenticate')).toContain('Bearer')
  })

  it('still requires a token for OPTIONS that is not a preflight, and for routes without cors', async () => {
    expect((await send(gw, '/api/cors/items', { method: 'OPTIONS' })).status).toBe(401)
    const res = await send(gw, '/api/echo/x', {
      method: 'OPTIONS',
      headers: { origin: SPA, 'access-control-request-method': 'GET' },
    })
    expect(res.status).toBe(401)
    expect(net.originCalls).toHaveLength(0)
  })

  it('refuses credentials with a wildcard origin in the configuration', () => {
    const config = authConfig()
    const routes = (config.routes as Record<string, unknown>[]).map((r) =>
      r.prefix === '/api/cors' ? { ...r, cors: { origins: ['*'], credentials: true } } : r,
    )
    const result = servicesFor(testEnv({ ...config, routes }))
    expect(result).toBeInstanceOf(ConfigError)
    expect((result as ConfigError).field).toBe('GATEHOUSE.routes["/api/cors"].cors.credentials')
  })
})

describe('rate limits per identity', () => {
  it('answers the 6th request in 10 s on /api/limited with 429, Retry-After and RateLimit fields', async () => {
    const s = await webSession(gw, ['echo:read'])
    for (let i = 0; i < 5; i++) {
      const ok = await send(gw, '/api/limited/x', { token: s.access })
      expect(ok.status, `request ${i + 1}`).toBe(200)
      expect(ok.headers.get('ratelimit-policy')).toBe('"gatehouse";q=5;w=10')
    }
    const calls = net.originCalls.length
    const logs = captureLogs()
    const limited = await send(gw, '/api/limited/x', { token: s.access })
    expect(limited.status).toBe(429)
    const retryAfter = Number(limited.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(10)
    expect(limited.headers.get('ratelimit')).toMatch(/^"gatehouse";r=0;t=\d+$/)
    expect(logs.lastReason()).toBe('rate_limited')
    expect(net.originCalls).toHaveLength(calls)
    // Counted per subject: another user is not affected.
    const other = await webSession(gw, ['echo:read'])
    expect((await send(gw, '/api/limited/x', { token: other.access })).status).toBe(200)
  })

  it('counts exactly and globally without a binding, across isolates, with what remains', async () => {
    const s = await webSession(gw, ['echo:read'])
    const isolates = [gw, testEnv(authConfig()), testEnv(authConfig())]
    const remaining: (string | null)[] = []
    for (let i = 0; i < 3; i++) {
      const res = await send(isolates[i] as typeof gw, '/api/exact/x', { token: s.access })
      expect(res.status).toBe(200)
      remaining.push(res.headers.get('ratelimit'))
    }
    expect(remaining.map((r) => /r=(\d+)/.exec(r ?? '')?.[1])).toEqual(['2', '1', '0'])
    const limited = await send(testEnv(authConfig()), '/api/exact/x', { token: s.access })
    expect(limited.status).toBe(429)
  })

  it('lets requests through, logged, when the counter cannot answer', async () => {
    const s = await webSession(gw, ['echo:read'])
    const noBinding = testEnv(authConfig(), { RATE_LIMIT_DEMO: undefined })
    const logs = captureLogs()
    expect((await send(noBinding, '/api/limited/x', { token: s.access })).status).toBe(200)
    expect(logs.lines.some((l) => l.event === 'rate_limit_unavailable')).toBe(true)
  })

  it('requires the ip key on a route without tokens, and 10 or 60 s with a binding', () => {
    const config = authConfig()
    const withRoute = (patch: Record<string, unknown>, prefix: string) =>
      servicesFor(
        testEnv({
          ...config,
          routes: (config.routes as Record<string, unknown>[]).map((r) =>
            r.prefix === prefix ? { ...r, ...patch } : r,
          ),
        }),
      )
    const a = withRoute(
      { rate_limit: { key: 'subject', limit: 1, period_seconds: 10 } },
      '/api/public',
    )
    expect((a as ConfigError).field).toMatch(/rate_limit\.key$/)
    const b = withRoute(
      { rate_limit: { key: 'subject', limit: 1, period_seconds: 30, binding: 'RATE_LIMIT_DEMO' } },
      '/api/limited',
    )
    expect((b as ConfigError).field).toMatch(/rate_limit\.period_seconds$/)
  })
})
