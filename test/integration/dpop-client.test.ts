// gatehouse/client (client/) against the real Worker in workerd, as a mobile client whose fetch
// goes straight into the app: proofs the gateway accepts, nonce challenges answered once,
// refresh before expiry and after `invalid_token`, a skewed client clock corrected from the
// gateway's Date, and tokens that never leave for another origin. Client and gateway share the
// isolate's clock, so a faked Date moves both. The browser half (cookie, IndexedDB, tabs) is
// proven in Chromium: test/e2e/browser-dpop.test.ts.

import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createGatehouseClient, type GatehouseClient, type KeyStore } from '../../client/index.js'
import { handleFetch } from '../../src/http/entry'
import {
  PUBLIC_URL,
  adminAccess,
  authConfig,
  authEnv,
  createTestUser,
  json,
  type TestUser,
} from '../helpers/auth'
import { claimsOf } from '../helpers/dpop'
import { installNetwork, send, testEnv, type Network } from '../helpers/gateway'

let net: Network
beforeEach(() => {
  net = installNetwork()
})
afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

const gw = authEnv()
/** The demo lifetime of an access token (the test config's default), and the client's margin. */
const ACCESS_TOKEN_TTL_MS = 900_000
const REFRESH_MARGIN_MS = 30_000

interface Wire {
  /** "METHOD /path status" of every request the client sent, in order. */
  readonly calls: string[]
  readonly requests: Request[]
}

/**
 * A fetch that hands the client's requests to the Worker; `date` adds the Date header that
 * Cloudflare's edge puts on every answer (workerd alone sends none).
 */
function intoGateway(gateway: typeof gw, wire: Wire, o: { date?: boolean } = {}) {
  return async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init)
    wire.requests.push(request.clone())
    const url = new URL(request.url)
    if (url.origin !== PUBLIC_URL) {
      wire.calls.push(`${request.method} ${url.href} elsewhere`)
      return new Response('elsewhere')
    }
    const ctx = createExecutionContext()
    let res = await handleFetch(request, gateway, ctx)
    await waitOnExecutionContext(ctx)
    wire.calls.push(`${request.method} ${url.pathname} ${res.status}`)
    if (o.date) {
      res = new Response(res.body, res)
      res.headers.set('date', new Date().toUTCString())
    }
    return res
  }
}

async function mobileClient(
  o: { gateway?: typeof gw; date?: boolean; now?: () => number; keyStore?: KeyStore } = {},
): Promise<{ client: GatehouseClient; user: TestUser; wire: Wire }> {
  const user = await createTestUser()
  const wire: Wire = { calls: [], requests: [] }
  const client = createGatehouseClient({
    baseUrl: PUBLIC_URL,
    client: 'mobile',
    deviceId: 'phone-1',
    tenant: user.tenant,
    fetch: intoGateway(o.gateway ?? gw, wire, o),
    ...(o.now ? { now: o.now } : {}),
    ...(o.keyStore ? { keyStore: o.keyStore } : {}),
  })
  return { client, user, wire }
}

async function logIn(client: GatehouseClient, user: TestUser) {
  return client.login({ username: user.username, password: user.password })
}

describe('gatehouse/client against the Worker', () => {
  it('binds its tokens to a non-extractable key and calls a DPoP-required route with proofs', async () => {
    let stored: CryptoKeyPair | null = null
    const keyStore: KeyStore = {
      load: async () => stored,
      save: async (pair) => {
        stored = pair
      },
      clear: async () => {
        stored = null
      },
    }
    const { client, user, wire } = await mobileClient({ keyStore })
    expect(await logIn(client, user)).toMatchObject({ tokenType: 'DPoP' })
    const pair = stored as CryptoKeyPair | null
    expect(pair?.privateKey.extractable).toBe(false)
    await expect(crypto.subtle.exportKey('jwk', pair!.privateKey)).rejects.toThrow()
    const token = client.accessToken() as string
    expect(claimsOf(token).cnf).toEqual({ jkt: await client.keyThumbprint() })

    const res = await client.fetch('/api/bound/hello?x=1', { method: 'POST', body: 'payload' })
    expect(res.status).toBe(200)
    expect(net.originCalls).toHaveLength(1)
    expect(net.originCalls[0]!.body).toBe('payload')
    expect(net.originCalls[0]!.headers.get('x-auth-dpop-jkt')).toBe(await client.keyThumbprint())
    const sent = wire.requests.at(-1)!
    expect(sent.headers.get('authorization')).toBe(`DPoP ${token}`)
    const proof = claimsOf(sent.headers.get('dpop') as string)
    expect(proof).toMatchObject({ htm: 'POST', htu: `${PUBLIC_URL}/api/bound/hello` })
    const header = JSON.parse(atob((sent.headers.get('dpop') as string).split('.')[0]!))
    expect(header).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: 'EC' } })
    expect(header.jwk).not.toHaveProperty('d')
    expect(wire.calls).toEqual(['POST /auth/login 200', 'POST /api/bound/hello 200'])
  })

  it('answers a nonce challenge once at login and at a resource, replaying the request body', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() })
    const nonced = testEnv(authConfig({ use_dpop_nonce: true }))
    const { client, user, wire } = await mobileClient({ gateway: nonced })
    await logIn(client, user)
    expect((await client.fetch('/api/bound/a')).status).toBe(200)
    // Two nonce windows later the client's nonce is stale: the gateway challenges once.
    vi.setSystemTime(Date.now() + 11 * 60_000)
    const res = await client.fetch('/api/bound/b', { method: 'POST', body: 'again' })
    expect(res.status).toBe(200)
    expect(wire.calls).toEqual([
      'POST /auth/login 400',
      'POST /auth/login 200',
      'GET /api/bound/a 200',
      'POST /api/bound/b 401',
      'POST /api/bound/b 200',
    ])
    expect(net.originCalls.map((c) => c.body)).toEqual(['', 'again'])
  })

  it('refreshes before the access token runs out, and once when the gateway says invalid_token', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() })
    const { client, user, wire } = await mobileClient()
    await logIn(client, user)
    const first = client.accessToken() as string
    vi.setSystemTime(Date.now() + ACCESS_TOKEN_TTL_MS - REFRESH_MARGIN_MS + 1_000)
    expect((await client.fetch('/api/secure/x')).status).toBe(200)
    const second = client.accessToken() as string
    expect(second).not.toBe(first)

    const revoked = await send(
      gw,
      '/admin/revocations',
      json({ jti: claimsOf(second).jti }, { authorization: `Bearer ${await adminAccess(gw)}` }),
    )
    expect(revoked.status).toBe(200)
    expect((await client.fetch('/api/secure/y')).status).toBe(200)
    expect(wire.calls).toEqual([
      'POST /auth/login 200',
      'POST /auth/refresh 200',
      'GET /api/secure/x 200',
      'GET /api/secure/y 401',
      'POST /auth/refresh 200',
      'GET /api/secure/y 200',
    ])
  })

  it('corrects a clock ten minutes slow from the gateway’s Date and retries the login once', async () => {
    const slow = () => Date.now() - 10 * 60_000
    const { client, user, wire } = await mobileClient({ date: true, now: slow })
    await logIn(client, user)
    expect((await client.fetch('/api/bound/x')).status).toBe(200)
    expect(wire.calls).toEqual([
      'POST /auth/login 400',
      'POST /auth/login 200',
      'GET /api/bound/x 200',
    ])
  })

  it('sends neither the token nor a proof to another origin', async () => {
    const { client, user, wire } = await mobileClient()
    await logIn(client, user)
    await client.fetch('https://elsewhere.test/collect')
    const sent = wire.requests.at(-1)!
    expect(sent.url).toBe('https://elsewhere.test/collect')
    expect(sent.headers.has('authorization')).toBe(false)
    expect(sent.headers.has('dpop')).toBe(false)
  })

  it('logs out by its token (with a proof), forgets token and key, and the session is over', async () => {
    const { client, user, wire } = await mobileClient()
    const causes: string[] = []
    client.onChange((_s, cause) => causes.push(cause))
    await logIn(client, user)
    expect((await client.refresh()).rotated).toBe(true)
    const token = client.accessToken() as string
    await client.logout()
    expect(client.session()).toBeNull()
    expect(client.accessToken()).toBeNull()
    expect(await client.keyThumbprint()).toBeNull()
    expect(causes).toEqual(['login', 'refresh', 'logout'])
    expect(wire.calls.at(-1)).toBe('POST /auth/logout 204')
    const logout = wire.requests.at(-1)!
    expect(logout.headers.get('authorization')).toBe(`DPoP ${token}`)
    expect(claimsOf(logout.headers.get('dpop') as string)).toMatchObject({ htm: 'POST' })
    const seen = await send(gw, '/auth/introspect', {
      ...json({ token }, { authorization: `Bearer ${await adminAccess(gw)}` }),
    })
    expect(await seen.json()).toEqual({ active: false })
  })

  it('ends its session when a refresh answers invalid_grant, and only then', async () => {
    const { client, user } = await mobileClient()
    const causes: string[] = []
    client.onChange((_s, cause) => causes.push(cause))
    await logIn(client, user)
    const sid = claimsOf(client.accessToken() as string).sid
    const ended = await send(
      gw,
      '/admin/revocations',
      json({ sid }, { authorization: `Bearer ${await adminAccess(gw)}` }),
    )
    expect(ended.status).toBe(200)
    expect(await client.refresh()).toEqual({ ok: false, status: 401, rotated: false })
    expect(client.session()).toBeNull()
    expect(causes).toEqual(['login', 'ended'])
  })
})
