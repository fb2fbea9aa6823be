// DPoP (RFC 9449) from login to origin, on the real Worker with real keys: issuing bound tokens
// at login and refresh, the refresh token bound to the same key, and every check at the edge.
// Each refusal asserts the status, the challenge, the logged reason and an untouched origin;
// each proof is valid except for the one property under test.

import { env } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { accessTokenHash } from '../../src/verify/dpop-proof'
import {
  APP_ORIGIN,
  authConfig,
  authEnv,
  cookieToken,
  createTestUser,
  json,
  sessionIdOf,
  type TestUser,
} from '../helpers/auth'
import { claimsOf, dpopKey, makeProof, type DpopKey } from '../helpers/dpop'
import { captureLogs, installNetwork, send, testEnv, type Network } from '../helpers/gateway'
import { brokenDb, sessionDb } from '../helpers/shards'

let net: Network
beforeEach(() => {
  net = installNetwork()
})
afterEach(() => vi.restoreAllMocks())

const gw = authEnv()

interface BoundSession {
  readonly user: TestUser
  readonly key: DpopKey
  readonly access: string
  readonly refresh: string
  readonly body: Record<string, unknown>
}

/** A mobile login with a proof by `key`. */
async function boundLogin(gateway = gw, key?: DpopKey): Promise<BoundSession> {
  const user = await createTestUser()
  const k = key ?? (await dpopKey())
  const res = await send(
    gateway,
    '/auth/login',
    json(mobileLogin(user, 'dev-1'), { dpop: await makeProof(k, { htu: '/auth/login' }) }),
  )
  expect(res.status).toBe(200)
  const body = (await res.json()) as Record<string, unknown>
  return {
    user,
    key: k,
    access: body.access_token as string,
    refresh: body.refresh_token as string,
    body,
  }
}

/** A mobile login body for a test user (device id `d`). */
function mobileLogin(user: TestUser, deviceId = 'd'): Record<string, string> {
  return {
    tenant: user.tenant,
    username: user.username,
    password: user.password,
    client: 'mobile',
    device_id: deviceId,
  }
}

function refreshMobile(token: string, proof: string | null, gateway = gw): Promise<Response> {
  return send(
    gateway,
    '/auth/refresh',
    json({ refresh_token: token, device_id: 'dev-1' }, proof === null ? {} : { dpop: proof }),
  )
}

/** A resource request with the DPoP scheme (or another) and the given proof header(s). */
function call(
  path: string,
  access: string,
  proof: string | string[] | null,
  o: { scheme?: string; method?: string; gateway?: typeof gw } = {},
): Promise<Response> {
  const headers = new Headers({ authorization: `${o.scheme ?? 'DPoP'} ${access}` })
  for (const p of proof === null ? [] : Array.isArray(proof) ? proof : [proof]) {
    headers.append('dpop', p)
  }
  return send(o.gateway ?? gw, path, { method: o.method ?? 'GET', headers })
}

async function liveUnused(token: string): Promise<boolean> {
  const sid = sessionIdOf(token)
  const row = await sessionDb(sid)
    .prepare('SELECT COUNT(*) AS n FROM refresh_tokens WHERE sid = ?1 AND used_at IS NULL')
    .bind(sid)
    .first<{ n: number }>()
  return row?.n === 1
}

/** Asserts a refusal at a resource: status, DPoP challenge, logged reason, origin untouched. */
async function expectDpopRefusal(
  res: Response,
  logs: ReturnType<typeof captureLogs>,
  reason: string,
  wire: string,
  detail?: RegExp,
): Promise<void> {
  expect(res.status).toBe(401)
  const challenge = res.headers.get('www-authenticate') ?? ''
  expect(challenge).toMatch(/^DPoP realm="gatehouse", algs="ES256 EdDSA"/)
  expect(challenge).toContain(`error="${wire}"`)
  const line = [...logs.lines].reverse().find((l) => l.event === 'request')
  expect(line?.reason).toBe(reason)
  if (detail !== undefined) expect(String(line?.detail)).toMatch(detail)
  expect(net.originCalls).toHaveLength(0)
}

describe('issuing (RFC 9449 §5)', () => {
  it('binds the access token and the session to the proof key at login and refresh', async () => {
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const s = await boundLogin(gw, await dpopKey(alg))
      expect(s.body.token_type).toBe('DPoP')
      expect(claimsOf(s.access).cnf).toEqual({ jkt: s.key.jkt })
      const res = await refreshMobile(s.refresh, await makeProof(s.key, { htu: '/auth/refresh' }))
      expect(res.status).toBe(200)
      const body = (await res.json()) as Record<string, string>
      expect(body.token_type).toBe('DPoP')
      expect(claimsOf(body.access_token as string).cnf).toEqual({ jkt: s.key.jkt })
    }
  })

  it('refuses a bound refresh without a proof or with another key’s: nothing consumed, session alive, event recorded', async () => {
    const s = await boundLogin()
    const logs = captureLogs()
    const stranger = await dpopKey()
    for (const proof of [null, await makeProof(stranger, { htu: '/auth/refresh' })]) {
      const res = await refreshMobile(s.refresh, proof)
      expect(res.status).toBe(400)
      expect(res.headers.get('www-authenticate')).toBeNull()
      expect(((await res.json()) as { error: string }).error).toBe('invalid_dpop_proof')
      expect(await liveUnused(s.refresh)).toBe(true)
    }
    const events = logs.lines.filter(
      (l) => l.event === 'security_event' && l.type === 'refresh_dpop_refused',
    )
    expect(events.map((e) => e.reason)).toEqual(['proof_missing', 'foreign_key'])
    expect(
      logs.lines.some((l) => l.type === 'session_revoked' || l.type === 'refresh_reuse_detected'),
    ).toBe(false)
    // The key holder still refreshes: the session was never ended.
    const ok = await refreshMobile(s.refresh, await makeProof(s.key, { htu: '/auth/refresh' }))
    expect(ok.status).toBe(200)
  })

  it('binds a web session’s cookie the same way', async () => {
    const user = await createTestUser()
    const key = await dpopKey()
    const login = await send(
      gw,
      '/auth/login',
      json(
        { tenant: user.tenant, username: user.username, password: user.password },
        { origin: APP_ORIGIN, dpop: await makeProof(key, { htu: '/auth/login' }) },
      ),
    )
    expect(((await login.json()) as Record<string, string>).token_type).toBe('DPoP')
    const cookie = cookieToken(login)
    const refresh = (proof?: string) =>
      send(gw, '/auth/refresh', {
        method: 'POST',
        headers: {
          cookie: `__Secure-gatehouse_refresh=${cookie}`,
          origin: APP_ORIGIN,
          ...(proof ? { dpop: proof } : {}),
        },
      })
    expect((await refresh()).status).toBe(400)
    expect((await refresh(await makeProof(key, { htu: '/auth/refresh' }))).status).toBe(200)
  })

  it('issues bearer tokens without a proof, unless the client type requires DPoP', async () => {
    const user = await createTestUser()
    const body = mobileLogin(user)
    const bearer = await send(gw, '/auth/login', json(body))
    expect(((await bearer.json()) as Record<string, unknown>).token_type).toBe('Bearer')
    const strict = testEnv(authConfig({ dpop_required_for: ['mobile'] }))
    const logs = captureLogs()
    const refused = await send(strict, '/auth/login', json(body))
    expect(refused.status).toBe(400)
    expect(((await refused.json()) as { error: string }).error).toBe('invalid_dpop_proof')
    expect(logs.lastReason()).toBe('invalid_dpop_proof')
    const key = await dpopKey()
    const bound = await send(
      strict,
      '/auth/login',
      json(body, { dpop: await makeProof(key, { htu: '/auth/login' }) }),
    )
    expect(bound.status).toBe(200)
  })

  it('refuses a login proof for another URL or method, or an invalid one, with 400 and no token', async () => {
    const user = await createTestUser()
    const key = await dpopKey()
    const body = mobileLogin(user)
    const cases: Array<[string, string]> = [
      [await makeProof(key, { htu: '/auth/refresh' }), 'htu is not the request URL'],
      [await makeProof(key, { htu: '/auth/login', htm: 'GET' }), 'htm is not the request method'],
      [await makeProof(key, { htu: 'https://evil.test/auth/login' }), 'htu is not the request URL'],
      [await makeProof(key, { htu: '/auth/login', typ: 'JWT' }), 'typ is not dpop+jwt'],
      [
        await makeProof(key, { htu: '/auth/login', iat: Math.floor(Date.now() / 1000) - 120 }),
        'iat outside the window',
      ],
      [
        await makeProof(key, { htu: '/auth/login', jwk: { ...key.publicJwk, d: 'AAAA' } }),
        'jwk carries the private member d',
      ],
    ]
    const logs = captureLogs()
    for (const [proof, detail] of cases) {
      const res = await send(gw, '/auth/login', json(body, { dpop: proof }))
      expect(res.status, detail).toBe(400)
      expect(await res.text()).not.toContain('access_token')
      expect([...logs.lines].reverse().find((l) => l.event === 'request')?.detail).toBe(detail)
    }
  })

  it('asks for a server nonce when configured, and accepts the proof that carries it', async () => {
    const nonced = testEnv(authConfig({ use_dpop_nonce: true }))
    const user = await createTestUser()
    const key = await dpopKey()
    const body = mobileLogin(user)
    const first = await send(
      nonced,
      '/auth/login',
      json(body, { dpop: await makeProof(key, { htu: '/auth/login' }) }),
    )
    expect(first.status).toBe(400)
    expect(((await first.json()) as { error: string }).error).toBe('use_dpop_nonce')
    const nonce = first.headers.get('dpop-nonce')
    expect(nonce).toMatch(/^[0-9a-z]+\.[A-Za-z0-9_-]{22}$/)
    const forged = await send(
      nonced,
      '/auth/login',
      json(body, { dpop: await makeProof(key, { htu: '/auth/login', nonce: `${nonce}x` }) }),
    )
    expect(forged.status).toBe(400)
    const second = await send(
      nonced,
      '/auth/login',
      json(body, { dpop: await makeProof(key, { htu: '/auth/login', nonce: nonce as string }) }),
    )
    expect(second.status).toBe(200)
    expect(second.headers.get('dpop-nonce')).toBe(nonce)
  })

  it('lets a browser on an allowed origin send a proof and read the nonce and challenge', async () => {
    const pre = await send(gw, '/auth/login', {
      method: 'OPTIONS',
      headers: {
        origin: APP_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, dpop',
      },
    })
    expect(pre.status).toBe(204)
    expect(pre.headers.get('access-control-allow-headers')).toContain('dpop')
    const refused = await send(gw, '/auth/login', json({}, { origin: APP_ORIGIN, dpop: 'x' }))
    expect(refused.headers.get('access-control-expose-headers')).toBe(
      'DPoP-Nonce, WWW-Authenticate, Date',
    )
    // The client corrects its proofs' iat from the gateway's clock.
    expect(Date.parse(refused.headers.get('date') ?? '')).toBeGreaterThan(Date.now() - 60_000)
  })

  it('lists the proof algorithms in the RFC 8414 metadata', async () => {
    const res = await send(gw, '/.well-known/oauth-authorization-server')
    expect(
      ((await res.json()) as Record<string, unknown>).dpop_signing_alg_values_supported,
    ).toEqual(['ES256', 'EdDSA'])
  })
})

describe('enforcing at the edge (RFC 9449 §7)', () => {
  it('forwards a bound token with its proof on low, standard and DPoP-required routes', async () => {
    const s = await boundLogin()
    for (const path of ['/api/echo/x', '/api/standard/x', '/api/bound/x']) {
      const res = await call(
        path,
        s.access,
        await makeProof(s.key, { htm: 'GET', htu: path, accessToken: s.access }),
      )
      expect(res.status, path).toBe(200)
    }
    expect(net.originCalls).toHaveLength(3)
    // The origin sees the binding inside the signed identity.
    for (const call of net.originCalls) {
      expect(call.headers.get('x-auth-dpop-jkt')).toBe(s.key.jkt)
      // The proof stays at the gateway, with the credential it proves.
      expect(call.headers.get('dpop')).toBeNull()
    }
  })

  it('refuses a bound token presented as Bearer, everywhere', async () => {
    const s = await boundLogin()
    const logs = captureLogs()
    const proof = await makeProof(s.key, { htm: 'GET', htu: '/api/echo/x', accessToken: s.access })
    const res = await call('/api/echo/x', s.access, proof, { scheme: 'Bearer' })
    await expectDpopRefusal(res, logs, 'dpop_required', 'invalid_token', /sent as Bearer/)
  })

  it('refuses a missing proof, two proofs, and proofs for another method, URL or token', async () => {
    const s = await boundLogin()
    const other = await boundLogin(gw, s.key) // same key, another token
    const ok = (o: Parameters<typeof makeProof>[1] = {}) =>
      makeProof(s.key, { htm: 'GET', htu: '/api/echo/x', accessToken: s.access, ...o })
    const cases: Array<[string, string | string[] | null, string, RegExp]> = [
      ['no DPoP header', null, 'invalid_dpop_proof', /DPoP header missing/],
      ['two DPoP headers', [await ok(), await ok()], 'invalid_dpop_proof', /more than one/],
      ['another method', await ok({ htm: 'POST' }), 'invalid_dpop_proof', /htm/],
      ['another path', await ok({ htu: '/api/echo/y' }), 'invalid_dpop_proof', /htu/],
      [
        'another host',
        await ok({ htu: 'https://other.test/api/echo/x' }),
        'invalid_dpop_proof',
        /htu/,
      ],
      ['another token', await ok({ accessToken: other.access }), 'invalid_dpop_proof', /ath/],
      ['no ath', await ok({ ath: '' }), 'invalid_dpop_proof', /ath/],
      [
        'an old iat',
        await ok({ iat: Math.floor(Date.now() / 1000) - 300 }),
        'invalid_dpop_proof',
        /iat/,
      ],
      [
        'a future iat',
        await ok({ iat: Math.floor(Date.now() / 1000) + 300 }),
        'invalid_dpop_proof',
        /iat/,
      ],
      ['a kid in the header', await ok({ header: { kid: 'k' } }), 'invalid_dpop_proof', /kid/],
    ]
    for (const [name, proof, reason, detail] of cases) {
      const logs = captureLogs()
      const res = await call('/api/echo/x', s.access, proof)
      await expectDpopRefusal(res, logs, reason, 'invalid_dpop_proof', detail)
      expect(res.status, name).toBe(401)
      vi.restoreAllMocks()
      net = installNetwork()
    }
  })

  it('refuses a valid proof by another key than the token’s (cnf.jkt)', async () => {
    const s = await boundLogin()
    const thief = await dpopKey()
    const logs = captureLogs()
    const res = await call(
      '/api/echo/x',
      s.access,
      await makeProof(thief, { htm: 'GET', htu: '/api/echo/x', accessToken: s.access }),
    )
    await expectDpopRefusal(res, logs, 'dpop_binding_mismatch', 'invalid_token', /not the token/)
  })

  it('refuses a bearer token on a DPoP-required route, and the DPoP scheme with an unbound token', async () => {
    const user = await createTestUser()
    const login = await send(gw, '/auth/login', json(mobileLogin(user)))
    const access = ((await login.json()) as Record<string, string>).access_token as string
    let logs = captureLogs()
    await expectDpopRefusal(
      await call('/api/bound/x', access, null, { scheme: 'Bearer' }),
      logs,
      'dpop_required',
      'invalid_token',
      /bearer token on a DPoP route/,
    )
    vi.restoreAllMocks()
    net = installNetwork()
    logs = captureLogs()
    const key = await dpopKey()
    const proof = await makeProof(key, { htm: 'GET', htu: '/api/echo/x', accessToken: access })
    await expectDpopRefusal(
      await call('/api/echo/x', access, proof),
      logs,
      'dpop_binding_mismatch',
      'invalid_token',
      /unbound/,
    )
  })

  it('refuses a replayed proof: in the isolate on a low route, globally on a standard route', async () => {
    const s = await boundLogin()
    const low = await makeProof(s.key, { htm: 'GET', htu: '/api/echo/x', accessToken: s.access })
    expect((await call('/api/echo/x', s.access, low)).status).toBe(200)
    net.originCalls.length = 0
    let logs = captureLogs()
    await expectDpopRefusal(
      await call('/api/echo/x', s.access, low),
      logs,
      'dpop_replay',
      'invalid_dpop_proof',
    )
    // Standard: a second isolate (a fresh env: its own services and caches) still refuses it.
    const standard = await makeProof(s.key, {
      htm: 'GET',
      htu: '/api/standard/x',
      accessToken: s.access,
    })
    vi.restoreAllMocks()
    net = installNetwork()
    expect((await call('/api/standard/x', s.access, standard)).status).toBe(200)
    net.originCalls.length = 0
    logs = captureLogs()
    const otherIsolate = testEnv(authConfig())
    await expectDpopRefusal(
      await call('/api/standard/x', s.access, standard, { gateway: otherIsolate }),
      logs,
      'dpop_replay',
      'invalid_dpop_proof',
    )
  })

  it('fails closed on a critical route and open on a standard one when the replay store is down', async () => {
    const s = await boundLogin()
    const down = {
      idFromName: (name: string) => env.REVOCATIONS.idFromName(name),
      get: (id: DurableObjectId) => {
        const real = env.REVOCATIONS.get(id)
        return new Proxy(real, {
          get: (target, prop) =>
            prop === 'claimProof'
              ? () => Promise.reject(new Error('Durable Object unreachable'))
              : (Reflect.get(target, prop) as unknown),
        })
      },
    }
    const broken = testEnv(authConfig(), { REVOCATIONS: down })
    const critical = await makeProof(s.key, {
      htm: 'GET',
      htu: '/api/secure/x',
      accessToken: s.access,
    })
    const res = await call('/api/secure/x', s.access, critical, { gateway: broken })
    expect(res.status).toBe(503)
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(net.originCalls).toHaveLength(0)
    const standard = await makeProof(s.key, {
      htm: 'GET',
      htu: '/api/standard/x',
      accessToken: s.access,
    })
    expect((await call('/api/standard/x', s.access, standard, { gateway: broken })).status).toBe(
      200,
    )
  })

  it('enforces cnf.jkt on an access token of any issuer, and computes ath as SHA-256 of the token', async () => {
    expect(await accessTokenHash('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0')
    const s = await boundLogin()
    // The same token, forwarded by the thief without the key: every scheme fails.
    expect((await call('/api/echo/x', s.access, null, { scheme: 'Bearer' })).status).toBe(401)
    expect(net.originCalls).toHaveLength(0)
  })

  it('answers a refresh of a bound session on a down shard 503, with the proof checked first', async () => {
    const s = await boundLogin()
    const down = testEnv(authConfig(), {
      SESSIONS_0: brokenDb('prepare', env.SESSIONS_0),
      SESSIONS_1: brokenDb('prepare', env.SESSIONS_1),
    })
    const bad = await refreshMobile(s.refresh, 'not-a-proof', down)
    expect(bad.status).toBe(400)
    const res = await refreshMobile(
      s.refresh,
      await makeProof(s.key, { htu: '/auth/refresh' }),
      down,
    )
    expect(res.status).toBe(503)
    expect(await liveUnused(s.refresh)).toBe(true)
  })
})
