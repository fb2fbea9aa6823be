// The identity assertion (docs/ASSERTION.md) as an origin receives it, verified with a standard
// JWT library (jose) the way an origin in any language would: the claim set, the request and
// body binding, both signing modes with the EdDSA JWKS, the legacy header modes, and the
// headers a client may not set.

import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ConfigError } from '../../src/config/config'
import { servicesFor } from '../../src/http/services'
import { authConfig, authEnv, webSession } from '../helpers/auth'
import { dpopKey, makeProof } from '../helpers/dpop'
import {
  ORIGIN,
  ORIGIN_SECRET,
  captureLogs,
  installNetwork,
  send,
  setupIssuer,
  testConfig,
  testEnv,
  uniqueIssuer,
  type Network,
} from '../helpers/gateway'
import { makeKey } from '../helpers/keys'
import { mint } from '../helpers/tokens'

let net: Network
beforeEach(() => {
  net = installNetwork()
})
afterEach(() => vi.restoreAllMocks())

const PUBLIC_URL = 'https://gatehouse.test'
const secret = new TextEncoder().encode(ORIGIN_SECRET)

/** authConfig with extra fields on the /api/echo route (and a small bound-body limit). */
function gatewayWith(route: Record<string, unknown>) {
  const config = authConfig()
  const routes = (config.routes as Record<string, unknown>[]).map((r) =>
    r.prefix === '/api/echo' ? { ...r, ...route } : r,
  )
  return testEnv({ ...config, routes })
}

function lastCall() {
  const call = net.originCalls.at(-1)
  if (call === undefined) throw new Error('the origin was not called')
  return call
}

async function verifyHs256(assertion: string | null): Promise<JWTPayload> {
  if (assertion === null) throw new Error('no assertion')
  const { payload, protectedHeader } = await jwtVerify(assertion, secret, {
    algorithms: ['HS256'],
    issuer: PUBLIC_URL,
    audience: ORIGIN,
    typ: 'gatehouse-assertion+jwt',
  })
  expect(protectedHeader.kid).toBeUndefined()
  return payload
}

const gw = authEnv()

describe('the assertion an origin receives', () => {
  it('names the caller and binds method, origin URL and the absence of a body (HS256)', async () => {
    const s = await webSession(gw, ['echo:read', 'echo:write'])
    const res = await send(gw, '/api/echo/orders?id=7&x=%2F', { token: s.access })
    expect(res.status).toBe(200)
    const call = lastCall()
    const claims = await verifyHs256(call.headers.get('gatehouse-assertion'))
    expect(claims).toMatchObject({
      htm: 'GET',
      htu: `${ORIGIN}/api/echo/orders?id=7&x=%2F`,
      body: 'none',
      sub: s.user.id,
      tid: 'acme',
      scope: 'echo:read echo:write',
      sid: s.sid,
      client_id: 'gatehouse-web',
      rev: 'skipped',
    })
    expect(claims.jti).toBe(`${res.headers.get('x-request-id')}.0`)
    expect((claims.exp as number) - (claims.iat as number)).toBe(30)
    expect(claims.token_iss).toBeUndefined()
    expect(claims.cnf).toBeUndefined()
    // The legacy signature is gone; the plain headers remain as unsigned conveniences.
    expect(call.headers.get('x-auth-signature')).toBeNull()
    expect(call.headers.get('x-auth-subject')).toBe(s.user.id)
  })

  it('sets every unsigned X-Auth-* convenience to what the assertion says, on every request', async () => {
    const s = await webSession(gw, ['echo:read', 'echo:write'])
    // Twice: the second request is answered from the verified-token cache.
    for (let i = 0; i < 2; i++) {
      const res = await send(gw, '/api/echo/x', { token: s.access })
      expect(res.status).toBe(200)
      const headers = lastCall().headers
      const x = Object.fromEntries([...headers].filter(([name]) => name.startsWith('x-auth-')))
      expect(x).toEqual({
        'x-auth-client': 'gatehouse-web',
        'x-auth-issuer': PUBLIC_URL,
        'x-auth-revocation': 'skipped; tier=low',
        'x-auth-scopes': 'echo:read echo:write',
        'x-auth-session': s.sid,
        'x-auth-subject': s.user.id,
        'x-auth-tenant': 'acme',
      })
      expect(headers.get('x-request-id')).toBe(res.headers.get('x-request-id'))
    }
  })

  it('binds a body by its RFC 9530 digest, and forwards it unchanged', async () => {
    const s = await webSession(gw, ['echo:read', 'echo:write'])
    const body = JSON.stringify({ amount: 100, currency: 'EUR' })
    await send(gw, '/api/echo/pay', { token: s.access, method: 'POST', body })
    const call = lastCall()
    const claims = await verifyHs256(call.headers.get('gatehouse-assertion'))
    const digest = new Uint8Array(
      await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body)),
    )
    const expected = `sha-256=:${btoa(String.fromCharCode(...digest))}:`
    expect(claims).toMatchObject({ htm: 'POST', body: 'bound', body_digest: expected })
    expect(call.headers.get('content-digest')).toBe(expected)
    expect(call.body).toBe(body)
  })

  it('streams a body over the limit unbound on a best-effort route, losing nothing', async () => {
    const small = gatewayWith({ max_bound_body_bytes: 10 })
    const s = await webSession(small, ['echo:read', 'echo:write'])
    const body = 'x'.repeat(5000) + 'END'
    // Without Content-Length (a stream): the limit is found while reading.
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < body.length; i += 1000)
          c.enqueue(new TextEncoder().encode(body.slice(i, i + 1000)))
        c.close()
      },
    })
    await send(small, '/api/echo/upload', {
      token: s.access,
      method: 'POST',
      body: stream,
      duplex: 'half',
    } as RequestInit)
    const call = lastCall()
    const claims = await verifyHs256(call.headers.get('gatehouse-assertion'))
    expect(claims.body).toBe('unbound')
    expect(claims.body_digest).toBeUndefined()
    expect(call.headers.get('content-digest')).toBeNull()
    expect(call.body).toBe(body)
  })

  it('refuses a body over the limit with 413 on a route that requires binding', async () => {
    const strict = gatewayWith({ max_bound_body_bytes: 10, body_binding: 'required' })
    const s = await webSession(strict, ['echo:read', 'echo:write'])
    const logs = captureLogs()
    const res = await send(strict, '/api/echo/upload', {
      token: s.access,
      method: 'POST',
      body: 'x'.repeat(11),
    })
    expect(res.status).toBe(413)
    expect(logs.lastReason()).toBe('payload_too_large')
    expect(net.originCalls).toHaveLength(0)
    expect(
      (
        await send(strict, '/api/echo/upload', {
          token: s.access,
          method: 'POST',
          body: 'x'.repeat(10),
        })
      ).status,
    ).toBe(200)
  })

  it('replaces a client’s assertion and Content-Digest with its own', async () => {
    const s = await webSession(gw, ['echo:read', 'echo:write'])
    const headers = {
      'gatehouse-assertion': 'forged.assertion.value',
      'content-digest': 'sha-256=:AAAA:',
      'Gatehouse-Other': 'x',
    }
    await send(gw, '/api/echo/x', { token: s.access, headers })
    const call = lastCall()
    await verifyHs256(call.headers.get('gatehouse-assertion'))
    expect(call.headers.get('content-digest')).toBeNull()
    expect(call.headers.get('gatehouse-other')).toBeNull()
  })

  it('is signed with EdDSA and verifiable with the published JWKS on an eddsa route', async () => {
    const eddsa = gatewayWith({ assertion_signing: 'eddsa', assertion_audience: 'orders-api' })
    const s = await webSession(eddsa, ['echo:read', 'echo:write'])
    await send(eddsa, '/api/echo/x', { token: s.access })
    const assertion = lastCall().headers.get('gatehouse-assertion') as string
    const jwks = await send(eddsa, '/.well-known/origin-assertion-jwks.json')
    expect(jwks.status).toBe(200)
    const document = (await jwks.json()) as { keys: { kid: string; d?: string }[] }
    expect(document.keys.every((k) => k.d === undefined)).toBe(true)
    const { payload, protectedHeader } = await jwtVerify(
      assertion,
      createLocalJWKSet(document as never),
      {
        algorithms: ['EdDSA'],
        issuer: PUBLIC_URL,
        audience: 'orders-api',
        typ: 'gatehouse-assertion+jwt',
      },
    )
    expect(document.keys.map((k) => k.kid)).toContain(protectedHeader.kid)
    expect(payload.sub).toBe(s.user.id)
    // An HS256 verifier with the origin secret must not accept it, nor the reverse.
    await expect(jwtVerify(assertion, secret, { algorithms: ['HS256'] })).rejects.toThrow()
  })

  it('answers 404 for the assertion JWKS when no route signs with EdDSA', async () => {
    expect((await send(gw, '/.well-known/origin-assertion-jwks.json')).status).toBe(404)
  })

  it('keeps the legacy signed headers in headers mode, and sends both in both mode', async () => {
    for (const [identity, assertion, signature] of [
      ['headers', false, true],
      ['both', true, true],
    ] as const) {
      const g = gatewayWith({ identity })
      const s = await webSession(g, ['echo:read', 'echo:write'])
      await send(g, '/api/echo/x', { token: s.access })
      const call = lastCall()
      expect(call.headers.get('gatehouse-assertion') !== null, identity).toBe(assertion)
      expect(call.headers.get('x-auth-signature')?.startsWith('v2='), identity).toBe(signature)
    }
  })

  it('names a third-party issuer in token_iss and a DPoP key in cnf', async () => {
    const key = await makeKey('EdDSA')
    const { issuer, env: thirdParty } = await setupIssuer(net, [key])
    const token = await mint(key, { issuer, scope: 'echo:read' })
    await send(thirdParty, '/api/echo/x', { token })
    const claims = await jwtVerify(
      lastCall().headers.get('gatehouse-assertion') as string,
      secret,
      {
        algorithms: ['HS256'],
      },
    )
    expect(claims.payload).toMatchObject({ token_iss: issuer, tid: 'acme' })

    const dk = await dpopKey()
    const user = await webSession(gw, ['echo:read'])
    const login = await send(gw, '/auth/login', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        dpop: await makeProof(dk, { htu: '/auth/login' }),
      },
      body: JSON.stringify({
        tenant: user.user.tenant,
        username: user.user.username,
        password: user.user.password,
        client: 'mobile',
        device_id: 'd',
      }),
    })
    const access = ((await login.json()) as { access_token: string }).access_token
    await send(gw, '/api/echo/x', {
      headers: {
        authorization: `DPoP ${access}`,
        dpop: await makeProof(dk, { htm: 'GET', htu: '/api/echo/x', accessToken: access }),
      },
    })
    expect((await verifyHs256(lastCall().headers.get('gatehouse-assertion'))).cnf).toEqual({
      jkt: dk.jkt,
    })
  })

  it('signs anonymous requests on auth = "none" routes without identity claims', async () => {
    await send(gw, '/api/public/x')
    const claims = await verifyHs256(lastCall().headers.get('gatehouse-assertion'))
    expect(claims.sub).toBeUndefined()
    expect(claims.rev).toBeUndefined()
    expect(claims.body).toBe('none')
  })

  it('gives every attempt its own jti', async () => {
    let attempts = 0
    net.origin = () => {
      attempts++
      if (attempts === 1) throw new TypeError('Network connection lost.')
      return Response.json({ ok: true })
    }
    const s = await webSession(gw, ['echo:read'])
    const res = await send(gw, '/api/echo/x', { token: s.access })
    expect(res.status).toBe(200)
    const jtis = await Promise.all(
      net.originCalls.map(
        async (c) => (await verifyHs256(c.headers.get('gatehouse-assertion'))).jti,
      ),
    )
    expect(jtis).toEqual([
      `${res.headers.get('x-request-id')}.0`,
      `${res.headers.get('x-request-id')}.1`,
    ])
  })

  it('requires KEY_ENCRYPTION_SECRET for an EdDSA route, naming the field', () => {
    const issuer = uniqueIssuer()
    const config = testConfig({
      issuers: [{ issuer }],
      routes: [
        {
          prefix: '/api/x',
          origin: ORIGIN,
          auth: 'none',
          origin_secret: 'ORIGIN_SECRET_TEST',
          assertion_signing: 'eddsa',
        },
      ],
    })
    const result = servicesFor(testEnv(config, { KEY_ENCRYPTION_SECRET: undefined }))
    expect(result).toBeInstanceOf(ConfigError)
    expect((result as ConfigError).field).toBe('GATEHOUSE.routes["/api/x"].assertion_signing')
  })
})
