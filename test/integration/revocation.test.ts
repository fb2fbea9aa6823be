// Revocation with the real RevocationShard Durable Object: logout and admin revocations are seen
// by the very next request on standard and critical routes, low routes keep accepting a token
// until it expires (by design), account changes kill older tokens, and expired entries go.

import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createShardLocator } from '../../src/revocation/revocation-shard'
import {
  ADMIN_SCOPES,
  PUBLIC_URL,
  accessTokenOf,
  adminAccess,
  authConfig,
  authEnv,
  createTestUser,
  json,
  login,
  refreshWeb,
  webSession,
  type TestUser,
} from '../helpers/auth'
import { captureLogs, installNetwork, send, testEnv, type Network } from '../helpers/gateway'
import { split } from '../helpers/tokens'

const getRevocationShard = createShardLocator(env.REVOCATIONS)

const gw = authEnv()
let net: Network
beforeEach(() => {
  net = installNetwork()
})
afterEach(() => vi.restoreAllMocks())

async function statuses(token: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const route of ['echo', 'standard', 'secure']) {
    const before = net.originCalls.length
    out[route] = (await send(gw, `/api/${route}/x`, { token })).status
    // A refused request never reaches the origin; an accepted one reaches it exactly once.
    expect(net.originCalls.length - before, route).toBe(out[route] === 200 ? 1 : 0)
  }
  return out
}

async function adminPost(path: string, body: unknown): Promise<Response> {
  const token = await adminAccess(gw)
  return send(gw, path, { ...json(body), token })
}

describe('logout and revocation are seen on the very next request', () => {
  it('refuses the session access token on critical and standard routes after logout; low keeps it', async () => {
    const { access } = await webSession(gw)
    expect(await statuses(access)).toEqual({ echo: 200, standard: 200, secure: 200 })
    expect((await send(gw, '/auth/logout', { method: 'POST', token: access })).status).toBe(204)
    const calls = net.originCalls.length
    const after = await statuses(access)
    // Low routes do not check revocation: the token lives until its exp (≤ 15 min). Documented.
    expect(after).toEqual({ echo: 200, standard: 401, secure: 401 })
    expect(net.originCalls.length).toBe(calls + 1)
  })

  it('tells the origin what it did about revocation, inside the signed headers', async () => {
    const { access } = await webSession(gw)
    await statuses(access)
    const seen = net.originCalls.slice(-3).map((c) => c.headers.get('x-auth-revocation'))
    expect(seen).toEqual(['skipped; tier=low', 'checked', 'checked'])
  })

  it('revokes one token by jti alone, leaving the session’s other tokens alive', async () => {
    const s = await webSession(gw)
    const other = await accessTokenOf(await refreshWeb(gw, s.refresh))
    const res = await adminPost('/admin/revocations', { jti: split(s.access).payload.jti })
    expect(res.status).toBe(200)
    expect((await statuses(s.access)).secure).toBe(401)
    expect((await statuses(other)).secure).toBe(200)
  })

  it('revokes a session by sid: every access token of it and its refresh token', async () => {
    const s = await webSession(gw)
    const res = await adminPost('/admin/revocations', { sid: split(s.access).payload.sid })
    expect(res.status).toBe(200)
    expect(await statuses(s.access)).toMatchObject({ standard: 401, secure: 401 })
    expect((await refreshWeb(gw, s.refresh)).status).toBe(401)
  })

  it('revokes a subject: all sessions and every token issued so far', async () => {
    const user = await createTestUser()
    const tokens: string[] = []
    for (let i = 0; i < 2; i++) {
      tokens.push(await accessTokenOf(await login(gw, user)))
    }
    const res = await adminPost('/admin/revocations', { sub: user.id, tenant: user.tenant })
    expect(await res.json()).toMatchObject({ revoked: 'subject', sessions_ended: 2 })
    for (const t of tokens) expect((await statuses(t)).secure).toBe(401)
  })

  it('refuses a revoked token presented with a padded or re-encoded signature', async () => {
    const logs = captureLogs()
    const s = await webSession(gw)
    await adminPost('/admin/revocations', { jti: split(s.access).payload.jti })
    const calls = net.originCalls.length
    // The exact bytes are refused by the revocation check itself (a live, well-signed token)…
    for (const route of ['standard', 'secure']) {
      expect((await send(gw, `/api/${route}/x`, { token: s.access })).status).toBe(401)
      expect(logs.lastReason(), route).toBe('revoked')
    }
    // …and a re-encoded twin never gets past the parser to look like another, unrevoked token.
    for (const variant of [
      `${s.access}=`,
      `${s.access}==`,
      `${s.access.slice(0, -1)}${s.access.endsWith('A') ? 'B' : 'A'}`,
    ]) {
      expect((await send(gw, '/api/secure/x', { token: variant })).status).toBe(401)
      expect(['malformed', 'bad_signature', 'revoked']).toContain(logs.lastReason())
    }
    expect(net.originCalls.length).toBe(calls)
  })
})

describe('a subject-wide cut-off is enforced on its own', () => {
  async function cutOff(s: { user: TestUser; access: string }, at: (iat: number) => number) {
    const iat = split(s.access).payload.iat as number
    const shard = getRevocationShard(PUBLIC_URL, s.user.tenant, s.user.id)
    await shard.revokeSubjectBefore(at(iat), iat + 900)
  }

  it('refuses a token issued before the cut-off, although its session is not revoked', async () => {
    const logs = captureLogs()
    const s = await webSession(gw)
    await cutOff(s, (iat) => iat + 1)
    const before = net.originCalls.length
    for (const route of ['standard', 'secure']) {
      expect((await send(gw, `/api/${route}/x`, { token: s.access })).status, route).toBe(401)
      expect(logs.lastReason(), route).toBe('revoked')
    }
    expect(net.originCalls.length).toBe(before)
  })

  it('refuses a token issued in the very second of the cut-off', async () => {
    const logs = captureLogs()
    const s = await webSession(gw)
    await cutOff(s, (iat) => iat)
    const before = net.originCalls.length
    expect((await send(gw, '/api/secure/x', { token: s.access })).status).toBe(401)
    expect(logs.lastReason()).toBe('revoked')
    expect(net.originCalls.length).toBe(before)
  })

  it('accepts a token issued after the cut-off', async () => {
    const s = await webSession(gw)
    await cutOff(s, (iat) => iat - 1)
    expect((await send(gw, '/api/secure/x', { token: s.access })).status).toBe(200)
  })
})

describe('sensitive scopes raise the route tier', () => {
  it('checks revocation on a low route for a token with a sensitive scope', async () => {
    const logs = captureLogs()
    const plain = await webSession(gw)
    const admin = await webSession(gw, ADMIN_SCOPES)
    for (const s of [plain, admin]) {
      expect((await send(gw, '/auth/logout', { method: 'POST', token: s.access })).status).toBe(204)
    }
    // The control: /api/echo is tier low, so a logged-out ordinary token still passes there.
    const before = net.originCalls.length
    expect((await send(gw, '/api/echo/x', { token: plain.access })).status).toBe(200)
    expect(net.originCalls.at(-1)?.headers.get('x-auth-revocation')).toBe('skipped; tier=low')
    // gatehouse:admin is sensitive (critical): the same route checks, and refuses, its token.
    expect((await send(gw, '/api/echo/x', { token: admin.access })).status).toBe(401)
    expect(logs.lastReason()).toBe('revoked')
    const line = [...logs.lines].reverse().find((l) => l.event === 'request')
    expect(line?.tier).toBe('critical')
    expect(net.originCalls.length).toBe(before + 1)
  })

  it('tells the origin a sensitive token was checked on a low route', async () => {
    const admin = await webSession(gw, ADMIN_SCOPES)
    expect((await send(gw, '/api/echo/x', { token: admin.access })).status).toBe(200)
    expect(net.originCalls.at(-1)?.headers.get('x-auth-revocation')).toBe('checked')
  })
})

describe('a later, less sensitive scope never lowers the tier', () => {
  // echo:write raises to standard only; gatehouse:admin, granted first, raises to critical.
  const tiered = testEnv({
    ...authConfig(),
    sensitive_scopes: { 'gatehouse:admin': 'critical', 'echo:write': 'standard' },
  })

  it('keeps a low route critical for a token with a critical then a standard scope', async () => {
    const logs = captureLogs()
    const s = await webSession(tiered, ['gatehouse:admin', 'echo:write', 'echo:read'])
    expect(split(s.access).payload.scope).toMatch(/gatehouse:admin.*echo:write/)
    expect((await send(tiered, '/auth/logout', { method: 'POST', token: s.access })).status).toBe(
      204,
    )
    const before = net.originCalls.length
    expect((await send(tiered, '/api/echo/x', { token: s.access })).status).toBe(401)
    expect(logs.lastReason()).toBe('revoked')
    const line = [...logs.lines].reverse().find((l) => l.event === 'request')
    expect(line?.tier).toBe('critical')
    expect(net.originCalls.length).toBe(before)
  })
})

describe('account changes kill older tokens', () => {
  async function expectDead(user: TestUser, s: { access: string; refresh: string }) {
    expect((await statuses(s.access)).secure).toBe(401)
    expect((await refreshWeb(gw, s.refresh)).status).toBe(401)
    return user
  }

  it('disabling a user kills their tokens and sessions', async () => {
    const s = await webSession(gw)
    const res = await adminPost(`/admin/users/${s.user.id}/disable`, {})
    expect(res.status).toBe(200)
    await expectDead(s.user, s)
    expect((await login(gw, s.user)).status).toBe(401)
  })

  it('changing a password kills older tokens; the new password logs in', async () => {
    const s = await webSession(gw)
    const res = await adminPost(`/admin/users/${s.user.id}/password`, {
      password: 'a brand new passphrase',
    })
    expect(res.status).toBe(200)
    await expectDead(s.user, s)
    expect((await login(gw, s.user)).status).toBe(401)
    expect((await login(gw, { ...s.user, password: 'a brand new passphrase' })).status).toBe(200)
  })
})

describe('RevocationShard storage', () => {
  it('answers by jti, sid and subject cut-off, and the alarm deletes expired entries', async () => {
    const shard = getRevocationShard(PUBLIC_URL, 'acme', `cleanup-${crypto.randomUUID()}`)
    const now = Math.floor(Date.now() / 1000)
    await shard.revokeJti('gone-jti', now - 1)
    await shard.revokeSession('gone-sid', now - 1, 'test')
    await shard.revokeJti('live-jti', now + 600)
    await shard.revokeSubjectBefore(now - 100, now + 600)
    expect(await shard.check({ jti: 'live-jti', sid: null, iat: now })).toEqual({
      revoked: true,
      by: 'jti',
    })
    expect(await shard.check({ jti: 'gone-jti', sid: 'gone-sid', iat: now })).toEqual({
      revoked: false,
      by: null,
    })
    expect(await shard.check({ jti: null, sid: null, iat: now - 200 })).toEqual({
      revoked: true,
      by: 'subject',
    })
    expect(await shard.check({ jti: null, sid: null, iat: null })).toEqual({
      revoked: true,
      by: 'subject',
    })
    // Entries that are already expired schedule an alarm that is due at once.
    await runDurableObjectAlarm(shard)
    expect(await shard.size()).toMatchObject({ jti: 1, sid: 0, cutoff: 1 })
    const alarm = await runInDurableObject(shard, (_instance, state) => state.storage.getAlarm())
    expect(alarm).toBe((now + 600) * 1000)
  })

  it('kills a token issued in the same second as the cut-off', async () => {
    const shard = getRevocationShard(PUBLIC_URL, 'acme', `same-second-${crypto.randomUUID()}`)
    const now = Math.floor(Date.now() / 1000)
    await shard.revokeSubjectBefore(now - 10, now + 600)
    expect(await shard.check({ jti: null, sid: null, iat: now - 10 })).toEqual({
      revoked: true,
      by: 'subject',
    })
    expect(await shard.check({ jti: null, sid: null, iat: now - 9 })).toEqual({
      revoked: false,
      by: null,
    })
  })

  it('keeps the same subject id of two issuers in separate shards', async () => {
    const subject = `shared-${crypto.randomUUID()}`
    const now = Math.floor(Date.now() / 1000)
    const other = getRevocationShard('https://other-issuer.test', 'acme', subject)
    await other.revokeSubjectBefore(now + 60, now + 600)
    await other.revokeJti('shared-jti', now + 600)
    await other.revokeSession('shared-sid', now + 600, 'test')
    const ours = getRevocationShard(PUBLIC_URL, 'acme', subject)
    expect(await ours.check({ jti: 'shared-jti', sid: 'shared-sid', iat: now })).toEqual({
      revoked: false,
      by: null,
    })
    expect(await ours.size()).toEqual({ jti: 0, sid: 0, cutoff: 0 })
  })
})
