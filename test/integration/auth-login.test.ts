// Login against the real D1 and KeyManager: token shape (RFC 9068), the web cookie and the
// mobile body, tokens that our verifier and an independent one (jose + our JWKS) accept,
// indistinguishable failures, throttling before the hash, and exact password comparison.

import { env } from 'cloudflare:test'
import { createLocalJWKSet, jwtVerify } from 'jose'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import * as argon2Module from '../../src/accounts/argon2'
import { PBKDF2_MAX_ITERATIONS, hashPasswordPbkdf2 } from '../../src/accounts/password-hash'
import { setUserStatus } from '../../src/accounts/user-store'
import { USER_GLOBAL_FAILURES_ALLOWED } from '../../src/accounts/login-throttle'
import {
  APP_ORIGIN,
  AUDIENCE,
  PUBLIC_URL,
  REFRESH_COOKIE,
  authEnv,
  cookieToken,
  createTestUser,
  json,
  login,
  testIp,
} from '../helpers/auth'
import { captureLogs, installNetwork, send, type Network } from '../helpers/gateway'
import { split } from '../helpers/tokens'
import { sessionDb, userDb } from '../helpers/shards'

let net: Network
const gw = authEnv()
beforeEach(() => {
  net = installNetwork()
})
afterEach(() => vi.restoreAllMocks())

/** Counts Argon2 runs (hash or verify) made by the Worker code. */
async function countHashes() {
  const instance = await argon2Module.argon2()
  const verify = vi.spyOn(instance, 'tryVerify')
  const hash = vi.spyOn(instance, 'hash')
  return () => verify.mock.calls.length + hash.mock.calls.length
}

describe('a successful login', () => {
  it('issues an RFC 9068 access token that the gateway and jose with our JWKS both accept', async () => {
    const user = await createTestUser({ scopes: ['echo:read'] })
    const res = await login(gw, user)
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = (await res.json()) as Record<string, unknown>
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'scope', 'token_type'])
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'echo:read' })
    const { header, payload } = split(body.access_token as string)
    expect(Object.keys(header).sort()).toEqual(['alg', 'kid', 'typ'])
    expect(header).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt' })
    expect(Object.keys(payload).sort()).toEqual(
      [
        'acr',
        'amr',
        'aud',
        'auth_time',
        'client_id',
        'exp',
        'iat',
        'iss',
        'jti',
        'scope',
        'sid',
        'sub',
        'tid',
      ].sort(),
    )
    // How the user authenticated (#17): a password alone.
    expect(payload).toMatchObject({ amr: ['pwd'], acr: 'pwd', auth_time: payload.iat })
    expect(payload).toMatchObject({
      iss: PUBLIC_URL,
      aud: AUDIENCE,
      sub: user.id,
      tid: 'acme',
      client_id: 'gatehouse-web',
    })
    expect((payload.exp as number) - (payload.iat as number)).toBe(900)

    const jwks = (await (await send(gw, '/.well-known/jwks.json')).json()) as { keys: [] }
    const verified = await jwtVerify(body.access_token as string, createLocalJWKSet(jwks), {
      issuer: PUBLIC_URL,
      audience: AUDIENCE,
      typ: 'at+jwt',
    })
    expect(verified.payload.sub).toBe(user.id)

    const api = await send(gw, '/api/echo/me', { token: body.access_token as string })
    expect(api.status).toBe(200)
    expect(net.originCalls.at(-1)?.headers.get('x-auth-subject')).toBe(user.id)
  })

  it('gives a browser the refresh token only in a hardened cookie', async () => {
    const user = await createTestUser()
    const res = await login(gw, user)
    const cookies = res.headers.getSetCookie()
    expect(cookies).toHaveLength(1)
    const cookie = cookies[0] as string
    expect(cookie.startsWith(`${REFRESH_COOKIE}=ghr1.`)).toBe(true)
    for (const attribute of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/auth']) {
      expect(cookie.split('; ')).toContain(attribute)
    }
    expect(cookie).not.toMatch(/Domain=/i)
    const maxAge = Number(/Max-Age=(\d+)/.exec(cookie)?.[1])
    expect(maxAge).toBeGreaterThan(0)
    expect(maxAge).toBeLessThanOrEqual(720 * 3600)
    expect(await res.text()).not.toContain(cookieToken(res))
  })

  it('gives a mobile app the refresh token in the body, and requires a device id', async () => {
    const user = await createTestUser()
    const res = await login(gw, user, { client: 'mobile', device_id: 'device-1' }, {})
    expect(res.status).toBe(200)
    expect(res.headers.getSetCookie()).toEqual([])
    const body = (await res.json()) as Record<string, string>
    expect(body.refresh_token).toMatch(/^ghr1\.[0-9a-f]{3}[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/)
    expect((await login(gw, user, { client: 'mobile' }, {})).status).toBe(400)
  })

  it('stores only the hash of the refresh token', async () => {
    const user = await createTestUser()
    const res = await login(gw, user, { client: 'mobile', device_id: 'd' }, {})
    const token = ((await res.json()) as Record<string, string>).refresh_token as string
    const sid = token.split('.')[1] as string
    const rows = await sessionDb(sid)
      .prepare('SELECT * FROM refresh_tokens WHERE sid = ?1')
      .bind(sid)
      .all()
    expect(rows.results).toHaveLength(1)
    expect(JSON.stringify(rows.results)).not.toContain(token.split('.')[2])
  })

  it('upgrades a PBKDF2 hash to Argon2id on login, and caps PBKDF2 iterations', async () => {
    const user = await createTestUser()
    const legacy = await hashPasswordPbkdf2(user.password, env.PASSWORD_PEPPER as string, 1000)
    await userDb(user.id)
      .prepare(
        'UPDATE users SET password_scheme = ?2, password_params = ?3, password_hash = ?4 WHERE id = ?1',
      )
      .bind(user.id, legacy.scheme, legacy.params, legacy.hash)
      .run()
    expect((await login(gw, user)).status).toBe(200)
    const row = await userDb(user.id)
      .prepare('SELECT password_scheme FROM users WHERE id = ?1')
      .bind(user.id)
      .first()
    expect(row?.password_scheme).toBe('argon2id')
    await expect(hashPasswordPbkdf2('x', 'pepper', PBKDF2_MAX_ITERATIONS + 1)).rejects.toThrow(
      RangeError,
    )
  })
})

describe('failed logins', () => {
  it('answers unknown user, wrong password and disabled account identically, one hash each', async () => {
    const user = await createTestUser()
    const disabled = await createTestUser()
    await setUserStatus(userDb(disabled.id), disabled.id, 'disabled')
    const hashes = await countHashes()
    const answers = []
    for (const attempt of [
      { ...user, username: 'nobody-here' },
      { ...user, password: 'wrong' },
      disabled,
    ]) {
      const before = hashes()
      const res = await login(gw, attempt, {}, { origin: APP_ORIGIN, 'cf-connecting-ip': testIp() })
      answers.push({
        status: res.status,
        body: await res.text(),
        hashes: hashes() - before,
        cookie: res.headers.getSetCookie(),
      })
    }
    expect(answers[0]).toEqual({
      status: 401,
      body: '{"error":"invalid_grant","error_description":"The credentials are invalid"}',
      hashes: 1,
      cookie: [],
    })
    expect(answers[1]).toEqual(answers[0])
    expect(answers[2]).toEqual(answers[0])
  })

  it('throttles a username from one network before hashing, with Retry-After, and lets the user back in later', async () => {
    const user = await createTestUser()
    const attacker = testIp()
    for (let i = 0; i < 6; i++) {
      const res = await login(
        gw,
        { ...user, password: `wrong-${i}` },
        {},
        { origin: APP_ORIGIN, 'cf-connecting-ip': attacker },
      )
      expect(res.status).toBe(401)
    }
    const hashes = await countHashes()
    const blocked = await login(gw, user, {}, { origin: APP_ORIGIN, 'cf-connecting-ip': attacker })
    expect(blocked.status).toBe(429)
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(hashes()).toBe(0)
    // Another address in the attacker's /64 is the same network: still blocked.
    const sibling = attacker.replace(/::1$/, '::beef')
    expect(
      (await login(gw, user, {}, { origin: APP_ORIGIN, 'cf-connecting-ip': sibling })).status,
    ).toBe(429)
    // The owner, from their own network, is not locked out by the attack.
    expect(
      (await login(gw, user, {}, { origin: APP_ORIGIN, 'cf-connecting-ip': testIp() })).status,
    ).toBe(200)
    // The block is temporary: once it has passed, the attacker's network may try again.
    for (const shard of [env.SESSIONS_0, env.SESSIONS_1]) {
      await shard.prepare('UPDATE login_throttle SET blocked_until = 0').run()
    }
    expect(
      (await login(gw, user, {}, { origin: APP_ORIGIN, 'cf-connecting-ip': attacker })).status,
    ).toBe(200)
  })

  it('blocks an account everywhere once failures from many networks pass the global ceiling', async () => {
    const user = await createTestUser()
    for (let i = 0; i < USER_GLOBAL_FAILURES_ALLOWED + 1; i++) {
      const res = await login(gw, { ...user, password: 'x' }, {}, { 'cf-connecting-ip': testIp() })
      expect(res.status).toBe(401)
    }
    expect((await login(gw, user, {}, { 'cf-connecting-ip': testIp() })).status).toBe(429)
  }, 60_000) // 102 Argon2id hashes: seconds on a loaded machine

  it('gives an account without a known client address the strict per-network budget', async () => {
    const logs = captureLogs()
    const user = await createTestUser()
    // No cf-connecting-ip: the network is unknown, so the account gets 5 free failures, not 100.
    for (let i = 0; i < 6; i++) {
      const res = await login(gw, { ...user, password: `wrong-${i}` }, {}, { origin: APP_ORIGIN })
      expect(res.status).toBe(401)
    }
    const hashes = await countHashes()
    const blocked = await login(gw, user, {}, { origin: APP_ORIGIN })
    expect(blocked.status).toBe(429)
    expect(logs.lastReason()).toBe('rate_limited')
    expect(blocked.headers.getSetCookie()).toEqual([])
    expect(hashes()).toBe(0)
  })

  it('throttles one client IP trying many usernames', async () => {
    const ip = testIp()
    for (let i = 0; i < 21; i++) {
      const res = await login(
        gw,
        { id: '', tenant: 'acme', username: `guess-${i}`, password: 'x' },
        {},
        { 'cf-connecting-ip': ip },
      )
      expect(res.status).toBe(401)
    }
    const user = await createTestUser()
    expect((await login(gw, user, {}, { 'cf-connecting-ip': ip })).status).toBe(429)
  })

  it('compares passwords exactly: no trimming, no truncation, any script', async () => {
    const password = `  ${'ü'.repeat(40)}${'🔑'.repeat(20)}${'x'.repeat(40)}\u0000end  `
    const user = await createTestUser({ password })
    const variants = [
      password.trim(),
      password.slice(0, 72),
      password.slice(0, -1),
      password.normalize('NFD'),
    ]
    for (const wrong of variants) {
      expect(
        (await login(gw, { ...user, password: wrong }, {}, { 'cf-connecting-ip': testIp() }))
          .status,
      ).toBe(401)
    }
    expect((await login(gw, user, {}, { 'cf-connecting-ip': testIp() })).status).toBe(200)
  })

  it('refuses oversized, non-JSON and malformed bodies without hashing', async () => {
    const hashes = await countHashes()
    const big = await send(
      gw,
      '/auth/login',
      json({ tenant: 'acme', username: 'a', password: 'p'.repeat(9000) }),
    )
    expect(big.status).toBe(413)
    const form = await send(gw, '/auth/login', {
      method: 'POST',
      body: 'username=a&password=b',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(form.status).toBe(400)
    for (const body of [
      '[]',
      '{"tenant":"acme"}',
      '{"tenant":1,"username":"a","password":"b"}',
      '{bad json',
    ]) {
      const res = await send(gw, '/auth/login', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      })
      expect(res.status).toBe(400)
      expect(await res.text()).not.toContain('bad json')
    }
    expect(hashes()).toBe(0)
  })

  it('refuses a browser login from a foreign origin or a cross-site fetch', async () => {
    const user = await createTestUser()
    expect((await login(gw, user, {}, { origin: 'https://evil.test' })).status).toBe(403)
  })

  it('matches allowed origins exactly, never by prefix', async () => {
    const logs = captureLogs()
    const user = await createTestUser()
    for (const origin of [
      'https://app.test.evil.test',
      `${APP_ORIGIN}:8443`,
      `${PUBLIC_URL}.evil.test`,
    ]) {
      const res = await login(gw, user, {}, { origin })
      expect(res.status, origin).toBe(403)
      expect(logs.lastReason(), origin).toBe('origin_not_allowed')
      expect(res.headers.getSetCookie(), origin).toEqual([])
      expect(res.headers.get('access-control-allow-origin'), origin).toBeNull()
    }
    expect((await login(gw, user, {}, { origin: APP_ORIGIN })).status).toBe(200)
    expect(
      (await login(gw, user, {}, { origin: APP_ORIGIN, 'sec-fetch-site': 'cross-site' })).status,
    ).toBe(403)
  })
})

describe('CORS on /auth', () => {
  const FOREIGN = ['https://evil.test', 'https://app.test.evil.test', 'http://app.test', 'null']

  it('grants an allowed origin, with credentials, on answers and preflights', async () => {
    const res = await login(gw, await createTestUser())
    expect(res.status).toBe(200)
    expect(res.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN)
    expect(res.headers.get('access-control-allow-credentials')).toBe('true')
    const preflight = await send(gw, '/auth/refresh', {
      method: 'OPTIONS',
      headers: { origin: APP_ORIGIN, 'access-control-request-method': 'POST' },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN)
  })

  it.each(FOREIGN)('grants nothing to the origin %s, refusals included', async (origin) => {
    const logs = captureLogs()
    const user = await createTestUser()
    for (const client of ['web', 'mobile']) {
      const res = await login(gw, user, { client, device_id: 'd-1' }, { origin })
      expect(res.headers.get('access-control-allow-origin'), client).toBeNull()
      expect(res.headers.get('access-control-allow-credentials'), client).toBeNull()
    }
    const preflight = await send(gw, '/auth/refresh', {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST' },
    })
    expect(preflight.status).toBe(403)
    expect(logs.lastReason()).toBe('origin_not_allowed')
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull()
    expect(net.originCalls).toHaveLength(0)
  })
})
