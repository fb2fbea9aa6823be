// The proxy through the real app: exactly one of each identity header with a signature the
// origin verifier accepts, nothing client-sent in the identity namespace, hop-by-hop and
// Connection-listed headers gone, path tricks refused before routing, and the proxy's own
// failures (404, 405, 502, 504, 500 on bad config) distinct from an origin's answers.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createIdentityVerifier } from '../../src/origin/verify-identity'
import {
  ORIGIN,
  ORIGIN_SECRET,
  captureLogs,
  installNetwork,
  send,
  setupIssuer,
  testConfig,
  testEnv,
  type Network,
} from '../helpers/gateway'
import { makeKey, type TestKey } from '../helpers/keys'
import { mint } from '../helpers/tokens'

let net: Network
let key: TestKey
let issuer: string
let gw: Awaited<ReturnType<typeof setupIssuer>>['env']

beforeEach(async () => {
  net = installNetwork()
  key = await makeKey('EdDSA')
  // The legacy HMAC-signed identity headers (identity = "headers", kept for one release); the
  // assertion these routes would send by default is tested in assertion.test.ts.
  const setup = await setupIssuer(net, [key], { tenant: 'demo' }, { routes: LEGACY_ROUTES })
  issuer = setup.issuer
  gw = setup.env
})
afterEach(() => vi.restoreAllMocks())

const LEGACY_ROUTES = [
  {
    prefix: '/api/public',
    origin: ORIGIN,
    auth: 'none',
    origin_secret: 'ORIGIN_SECRET_TEST',
    identity: 'headers',
  },
  {
    prefix: '/api/echo',
    origin: ORIGIN,
    auth: 'token',
    read_scopes: ['echo:read'],
    write_scopes: ['echo:write'],
    origin_secret: 'ORIGIN_SECRET_TEST',
    identity: 'headers',
  },
]

const IDENTITY = [
  'x-auth-issuer',
  'x-auth-subject',
  'x-auth-tenant',
  'x-auth-scopes',
  'x-auth-session',
  'x-auth-client',
]

function lastCall() {
  const call = net.originCalls.at(-1)
  if (call === undefined) throw new Error('origin was not called')
  return call
}

describe('identity headers', () => {
  it('forwards exactly one of each identity header, signed so the origin verifier accepts it', async () => {
    const token = await mint(key, {
      issuer,
      subject: 'alice',
      scope: 'echo:read echo:write',
      claims: { tid: 'demo', sid: 'sess-1', client_id: 'web-app' },
    })
    // One client value for every identity header: Headers joins a duplicate with ', ', so an
    // exact value below proves the origin got exactly one, the gateway's.
    const spoof = {
      'X-Auth-Subject': 'admin',
      x_auth_subject: 'admin',
      'X-AUTH-SCOPES': 'gatehouse:admin',
      'X-Auth-Tenant': 'other',
      'X-Auth-Session': 'forged-sid',
      'X-Auth-Client': 'forged-client',
      'X-Auth-Issuer': 'https://forged.test',
      'X-Auth-Revocation': 'checked',
      'X-Auth-Signature': 'v2=forged',
      'X-Auth-Nonce': 'forged-nonce-0123456789',
      'X-Auth-Timestamp': '1',
      'X-Auth-Anything-New': 'planted',
    }
    const res = await send(gw, '/api/echo/items?x=1', { token, headers: spoof })
    expect(res.status).toBe(200)
    const call = lastCall()
    expect(call.url).toBe(`${ORIGIN}/api/echo/items?x=1`)
    expect(call.headers.get('x-auth-subject')).toBe('alice')
    expect(call.headers.get('x-auth-tenant')).toBe('demo')
    expect(call.headers.get('x-auth-scopes')).toBe('echo:read echo:write')
    expect(call.headers.get('x-auth-session')).toBe('sess-1')
    expect(call.headers.get('x-auth-client')).toBe('web-app')
    expect(call.headers.get('x-auth-issuer')).toBe(issuer)
    expect(call.headers.get('x-auth-revocation')).toBe('skipped; tier=low')
    for (const name of ['x-auth-signature', 'x-auth-nonce', 'x-auth-timestamp']) {
      expect(call.headers.get(name), name).not.toMatch(/forged|,|^1$/)
    }
    // Nothing else in the identity namespace, in any spelling.
    const namespace = [...call.headers.keys()].filter((n) => /^x[-_]auth[-_]/.test(n)).sort()
    expect(namespace).toEqual(
      [
        ...IDENTITY,
        'x-auth-revocation',
        'x-auth-signature',
        'x-auth-timestamp',
        'x-auth-nonce',
      ].sort(),
    )
    const verify = createIdentityVerifier({ secrets: [ORIGIN_SECRET] })
    const result = await verify({
      method: 'GET',
      target: '/api/echo/items?x=1',
      headers: call.headers,
    })
    expect(result).toMatchObject({
      ok: true,
      identity: { subject: 'alice', tenant: 'demo', scopes: ['echo:read', 'echo:write'] },
    })
    expect(call.headers.get('x-request-id')).toBe(res.headers.get('x-request-id'))
    expect(call.headers.get('traceparent')).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/)
  })

  it('signs anonymous requests on public routes and strips client identity headers', async () => {
    const res = await send(gw, '/api/public/info', {
      headers: { 'x-auth-subject': 'admin', X_Auth_Tenant: 'x' },
    })
    expect(res.status).toBe(200)
    const call = lastCall()
    for (const name of IDENTITY) expect(call.headers.get(name)).toBeNull()
    expect(call.headers.get('x_auth_tenant')).toBeNull()
    const verify = createIdentityVerifier({ secrets: [ORIGIN_SECRET] })
    const result = await verify({
      method: 'GET',
      target: '/api/public/info',
      headers: call.headers,
    })
    expect(result).toMatchObject({ ok: true, identity: { subject: null } })
  })

  it('continues the caller trace with the gateway as the new parent span', async () => {
    const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
    await send(gw, '/api/public/x', { headers: { traceparent: parent } })
    const forwarded = lastCall().headers.get('traceparent') as string
    expect(forwarded.slice(0, 35)).toBe(parent.slice(0, 35))
    expect(forwarded).not.toBe(parent)
  })
})

describe('header hygiene', () => {
  it('drops hop-by-hop headers, anything Connection names, forwarding spoofs and overrides', async () => {
    const token = await mint(key, { issuer })
    await send(gw, '/api/echo/x', {
      token,
      headers: {
        connection: 'keep-alive, X-Secret-Hop, x_other_hop',
        'x-secret-hop': 'internal',
        'x-other-hop': 'internal',
        'keep-alive': 'timeout=5',
        'proxy-authorization': 'Basic abc',
        'x-forwarded-for': '10.0.0.1',
        'x-forwarded-host': 'admin.internal',
        forwarded: 'for=10.0.0.1',
        'x-real-ip': '10.0.0.1',
        'x-original-url': '/admin',
        'x-http-method-override': 'DELETE',
        'x-request-id': 'client-chosen',
        'x-custom': 'kept',
      },
    })
    const h = lastCall().headers
    for (const name of [
      'x-secret-hop',
      'x-other-hop',
      'keep-alive',
      'proxy-authorization',
      'forwarded',
      'x-real-ip',
      'x-original-url',
      'x-http-method-override',
    ]) {
      expect(h.get(name), name).toBeNull()
    }
    expect(h.get('x-forwarded-for')).not.toBe('10.0.0.1')
    expect(h.get('x-forwarded-host')).toBe('gatehouse.test')
    expect(h.get('x-request-id')).not.toBe('client-chosen')
    expect(h.get('x-custom')).toBe('kept')
  })

  it('does not forward Authorization unless the route opts in', async () => {
    const token = await mint(key, { issuer })
    await send(gw, '/api/echo/x', { token })
    expect(lastCall().headers.get('authorization')).toBeNull()
    const config = testConfig({
      issuers: [{ issuer }],
      routes: [
        {
          prefix: '/api/echo',
          origin: ORIGIN,
          auth: 'token',
          forward_authorization: true,
          origin_secret: 'ORIGIN_SECRET_TEST',
        },
      ],
    })
    await send(testEnv(config), '/api/echo/x', { token })
    expect(lastCall().headers.get('authorization')).toBe(`Bearer ${token}`)
  })

  it('keeps the gateway cookie from origins and stops origins from setting it', async () => {
    net.origin = () => {
      const headers = new Headers()
      headers.append('set-cookie', '__Secure-gatehouse_refresh=stolen; Path=/auth')
      headers.append('set-cookie', 'app=1; Path=/')
      return new Response('ok', { headers })
    }
    const res = await send(gw, '/api/public/x', {
      headers: { cookie: '__Secure-gatehouse_refresh=secret; app=1' },
    })
    expect(lastCall().headers.get('cookie')).toBe('app=1')
    expect(res.headers.getSetCookie()).toEqual(['app=1; Path=/'])
  })
})

describe('routing and paths', () => {
  it.each([
    '/api/public%2f..%2fecho/x',
    '/api/public/%252e%252e/echo',
    '/api/echo/a%5cb',
    '/api/echo/a;jsessionid=1',
    '/api/echo//x',
    '/api/echo/%00',
  ])('refuses %s with 400 before routing', async (path) => {
    const logs = captureLogs()
    const token = await mint(key, { issuer })
    const res = await send(gw, path, { token })
    expect(res.status).toBe(400)
    expect(logs.lastReason()).toBe('bad_path')
    expect(net.originCalls).toHaveLength(0)
  })

  it('denies paths no route claims, including lookalike prefixes and other cases', async () => {
    for (const path of ['/api/echoes', '/API/echo/x', '/api', '/other']) {
      expect((await send(gw, path)).status).toBe(404)
    }
    expect(net.originCalls).toHaveLength(0)
  })

  it('evaluates the path the runtime normalised, and forwards exactly that path', async () => {
    const logs = captureLogs()
    // The URL parser resolves dot segments before the Worker sees the request, so this is
    // /api/echo/x — a token route — not a public one.
    const res = await send(gw, '/api/public/../echo/x')
    expect(res.status).toBe(401)
    expect(logs.lastReason()).toBe('missing_token')
    expect(net.originCalls).toHaveLength(0)
    const token = await mint(key, { issuer })
    expect((await send(gw, '/api/public/../echo/x', { token })).status).toBe(200)
    expect(net.originCalls).toHaveLength(1)
    expect(lastCall().url).toBe(`${ORIGIN}/api/echo/x`)
    expect(lastCall().headers.get('x-auth-subject')).toBe('user-1')
  })

  it.each(['/api/public/x?a=%00', '/api/public/x?%00', '/api/echo/x?q=a%00b'])(
    'refuses an encoded NUL in the query, %s, with 400 bad_path',
    async (path) => {
      const logs = captureLogs()
      const token = await mint(key, { issuer })
      const res = await send(gw, path, { token })
      expect(res.status).toBe(400)
      expect(logs.lastReason()).toBe('bad_path')
      expect(net.originCalls).toHaveLength(0)
    },
  )

  it('answers 405 with Allow for a method the route does not accept', async () => {
    const config = testConfig({
      issuers: [{ issuer }],
      routes: [
        {
          prefix: '/api/public',
          origin: ORIGIN,
          auth: 'none',
          methods: ['GET', 'HEAD'],
          origin_secret: 'ORIGIN_SECRET_TEST',
        },
      ],
    })
    const res = await send(testEnv(config), '/api/public/x', { method: 'DELETE' })
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('GET, HEAD')
    expect(net.originCalls).toHaveLength(0)
  })
})

describe('proxy failures and bad configuration', () => {
  it('passes origin errors through unchanged', async () => {
    net.origin = () => new Response('teapot', { status: 418 })
    const res = await send(gw, '/api/public/x')
    expect(res.status).toBe(418)
    expect(await res.text()).toBe('teapot')
  })

  it('answers 502 when the origin is unreachable and 504 when it is too slow', async () => {
    net.origin = () => {
      throw new TypeError('connection refused')
    }
    expect((await send(gw, '/api/public/x')).status).toBe(502)
    const slow = testConfig({
      issuers: [{ issuer }],
      routes: [
        {
          prefix: '/api/public',
          origin: ORIGIN,
          auth: 'none',
          timeout_ms: 100,
          origin_secret: 'ORIGIN_SECRET_TEST',
        },
      ],
    })
    net.origin = () =>
      new Promise((resolve) => setTimeout(() => resolve(new Response('late')), 2000))
    expect((await send(testEnv(slow), '/api/public/x')).status).toBe(504)
  })

  it('refuses to serve with an invalid config and logs the field once', async () => {
    const logs = captureLogs()
    const broken = testConfig({ issuers: [{ issuer }] })
    ;(broken.routes as Record<string, unknown>[])[1]!.origin = 'not a url'
    const bad = testEnv(broken)
    for (const path of ['/api/public/x', '/healthz'])
      expect((await send(bad, path)).status).toBe(500)
    const errors = logs.lines.filter((l) => l.event === 'config_invalid')
    expect(errors).toHaveLength(1)
    expect(errors[0]?.field).toBe('GATEHOUSE.routes["/api/echo"].origin')
    expect(net.originCalls).toHaveLength(0)
  })

  it('refuses a config whose origin secret is missing, naming the field', async () => {
    const logs = captureLogs()
    const config = testConfig({ issuers: [{ issuer }] })
    ;(config.routes as Record<string, unknown>[])[0]!.origin_secret = 'MISSING_SECRET'
    expect((await send(testEnv(config), '/api/public/x')).status).toBe(500)
    expect(logs.lines.find((l) => l.event === 'config_invalid')?.field).toBe(
      'GATEHOUSE.routes["/api/public"].origin_secret',
    )
  })
})

describe('scopes per route and method', () => {
  it('refuses a token whose scope only starts with the required one (echo:readonly)', async () => {
    const logs = captureLogs()
    const token = await mint(key, { issuer, scope: 'echo:readonly echo:writer' })
    const before = net.originCalls.length
    const res = await send(gw, '/api/echo/x', { token })
    expect(res.status).toBe(403)
    expect(logs.lastReason()).toBe('insufficient_scope')
    expect(net.originCalls).toHaveLength(before)
  })

  it.each(['POST', 'PUT', 'DELETE'])(
    'refuses %s with only the read scope: writes need the write scopes',
    async (method) => {
      const logs = captureLogs()
      const token = await mint(key, { issuer, scope: 'echo:read' })
      const before = net.originCalls.length
      const res = await send(gw, '/api/echo/x', { method, token })
      expect(res.status).toBe(403)
      expect(logs.lastReason()).toBe('insufficient_scope')
      expect(net.originCalls).toHaveLength(before)
      const writer = await mint(key, { issuer, scope: 'echo:write' })
      expect((await send(gw, '/api/echo/x', { method, token: writer })).status).toBe(200)
    },
  )
})

describe('origin redirects', () => {
  /** Like real fetch: a redirect is followed unless the caller asked for `redirect: 'manual'`. */
  function followLikeFetch() {
    const network = vi.mocked(globalThis.fetch).getMockImplementation()!
    vi.mocked(globalThis.fetch).mockImplementation(async (input, init) => {
      const request = new Request(input as RequestInfo, init as RequestInit)
      const answered = await network(input, init)
      const location = answered.headers.get('location')
      const redirect = answered.status >= 300 && answered.status < 400 && location !== null
      if (redirect && request.redirect === 'follow') {
        return globalThis.fetch(new URL(location, request.url).href, init)
      }
      return answered
    })
  }

  it.each([301, 302, 303, 307, 308])(
    'passes a %i from the origin to the client and never follows it with identity headers',
    async (status) => {
      const elsewhere = 'https://elsewhere.origin.test/collect'
      net.origin = (request) =>
        new URL(request.url).origin === ORIGIN
          ? new Response(null, { status, headers: { location: elsewhere } })
          : Response.json({ leaked: true })
      followLikeFetch()
      const res = await send(gw, '/api/echo/x', { token: await mint(key, { issuer }) })
      expect(res.status).toBe(status)
      expect(net.originCalls.map((c) => new URL(c.url).origin)).toEqual([ORIGIN])
    },
  )
})
