// Refresh rotation against the real D1 (and the real RevocationShard for the session kill):
// rotation, reuse detection, exactly-once under parallel refreshes and lost responses,
// lifetimes, CSRF without consuming, device binding, scope never widening.

import { env } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createShardLocator } from '../../src/revocation/revocation-shard'
import { rotateRefreshToken } from '../../src/sessions/refresh-store'
import { hashRefreshToken, newRefreshToken } from '../../src/sessions/refresh-token'
import { changePassword, findUserById, setUserStatus } from '../../src/accounts/user-store'
import {
  APP_ORIGIN,
  PUBLIC_URL,
  REFRESH_COOKIE,
  accessTokenOf,
  authEnv,
  cookieToken,
  createTestUser,
  login,
  refreshMobile,
  refreshWeb,
  sessionIdOf,
  webSession,
} from '../helpers/auth'
import { captureLogs, installNetwork, send } from '../helpers/gateway'
import { sessionDb, userDb } from '../helpers/shards'

const getRevocationShard = createShardLocator(env.REVOCATIONS)

const gw = authEnv()
beforeEach(() => {
  installNetwork()
})
afterEach(() => vi.restoreAllMocks())

async function liveTokens(sid: string): Promise<number> {
  const row = await sessionDb(sid)
    .prepare('SELECT COUNT(*) AS n FROM refresh_tokens WHERE sid = ?1 AND used_at IS NULL')
    .bind(sid)
    .first<{ n: number }>()
  return row?.n ?? -1
}

async function sessionRevoked(sid: string): Promise<string | null> {
  const row = await sessionDb(sid)
    .prepare('SELECT revoked_reason FROM sessions WHERE sid = ?1')
    .bind(sid)
    .first<{ revoked_reason: string | null }>()
  return row?.revoked_reason ?? null
}

/** Moves a session's clock back, as if `seconds` had passed since its tokens were used. */
async function age(sid: string, seconds: number): Promise<void> {
  await sessionDb(sid)
    .prepare(
      'UPDATE refresh_tokens SET used_at = used_at - ?2 WHERE sid = ?1 AND used_at IS NOT NULL',
    )
    .bind(sid, seconds)
    .run()
}

describe('rotation', () => {
  it('rotates on every use: a new token each time, the old one consumed', async () => {
    const { refresh, sid } = await webSession(gw)
    const first = await refreshWeb(gw, refresh)
    expect(first.status).toBe(200)
    expect(first.headers.get('cache-control')).toBe('no-store')
    const second = cookieToken(first)
    expect(second).not.toBe(refresh)
    expect(sessionIdOf(second)).toBe(sid)
    expect(await liveTokens(sid)).toBe(1)
    const third = await refreshWeb(gw, second)
    expect(third.status).toBe(200)
    expect(cookieToken(third)).not.toBe(second)
  })

  it('never puts the refresh token in a browser JSON body', async () => {
    const { refresh } = await webSession(gw)
    const res = await refreshWeb(gw, refresh)
    const body = (await res.json()) as Record<string, unknown>
    expect(body.refresh_token).toBeUndefined()
    expect(JSON.stringify(body)).not.toContain('ghr1.')
  })

  it('revokes the whole session when a rotated token is reused outside the window', async () => {
    const logs = captureLogs()
    const { user, refresh, sid } = await webSession(gw)
    const successor = cookieToken(await refreshWeb(gw, refresh))
    await age(sid, 60)
    const reuse = await refreshWeb(gw, refresh)
    expect(reuse.status).toBe(401)
    expect(await reuse.json()).toEqual({
      error: 'invalid_grant',
      error_description: 'The credentials are invalid',
    })
    expect(await sessionRevoked(sid)).toBe('refresh_reuse')
    expect((await refreshWeb(gw, successor)).status).toBe(401)
    const verdict = await getRevocationShard(PUBLIC_URL, user.tenant, user.id).check({
      jti: null,
      sid,
      iat: null,
    })
    expect(verdict).toEqual({ revoked: true, by: 'sid' })
    expect(
      logs.lines.some((l) => l.event === 'security_event' && l.type === 'refresh_reuse_detected'),
    ).toBe(true)
  })

  it('treats a grandparent token as reuse even inside the window', async () => {
    const { refresh, sid } = await webSession(gw)
    const second = cookieToken(await refreshWeb(gw, refresh))
    expect((await refreshWeb(gw, second)).status).toBe(200)
    expect((await refreshWeb(gw, refresh)).status).toBe(401)
    expect(await sessionRevoked(sid)).toBe('refresh_reuse')
  })
})

describe('exactly once', () => {
  it.each([2, 10])(
    'gives %i parallel refreshes of one token the same successor and leaves one live token',
    async (n) => {
      const { refresh, sid } = await webSession(gw)
      const answers = await Promise.all(Array.from({ length: n }, () => refreshWeb(gw, refresh)))
      expect(answers.map((a) => a.status)).toEqual(Array(n).fill(200))
      const successors = new Set(answers.map(cookieToken))
      expect(successors.size).toBe(1)
      expect(await liveTokens(sid)).toBe(1)
      expect(await sessionRevoked(sid)).toBeNull()
      expect((await refreshWeb(gw, [...successors][0] as string)).status).toBe(200)
    },
  )

  it('answers a retry after a lost response with the same successor inside the window', async () => {
    const { refresh, sid } = await webSession(gw)
    const lost = cookieToken(await refreshWeb(gw, refresh))
    await age(sid, 5)
    const retry = await refreshWeb(gw, refresh)
    expect(retry.status).toBe(200)
    expect(cookieToken(retry)).toBe(lost)
    expect(await liveTokens(sid)).toBe(1)
  })

  it('treats the same retry outside the window as reuse', async () => {
    const { refresh, sid } = await webSession(gw)
    await refreshWeb(gw, refresh)
    await age(sid, 11)
    expect((await refreshWeb(gw, refresh)).status).toBe(401)
    expect(await sessionRevoked(sid)).toBe('refresh_reuse')
  })

  it('treats a retry from another browser inside the window as theft', async () => {
    const web = await webSession(gw)
    expect(
      (await refreshWeb(gw, web.refresh, { origin: APP_ORIGIN, 'user-agent': 'tab-one' })).status,
    ).toBe(200)
    const other = await refreshWeb(gw, web.refresh, {
      origin: APP_ORIGIN,
      'user-agent': 'other-machine',
    })
    expect(other.status).toBe(401)
    expect(await sessionRevoked(web.sid)).toBe('refresh_reuse')
  })
})

describe('lifetimes and standing', () => {
  it('refuses a session past its absolute or idle expiry', async () => {
    for (const column of ['absolute_expires_at', 'idle_expires_at']) {
      const { refresh, sid } = await webSession(gw)
      await sessionDb(sid)
        .prepare(`UPDATE sessions SET ${column} = ?2 WHERE sid = ?1`)
        .bind(sid, Math.floor(Date.now() / 1000) - 1)
        .run()
      expect((await refreshWeb(gw, refresh)).status).toBe(401)
    }
  })

  it('never extends a session past its absolute lifetime', async () => {
    const { refresh, sid } = await webSession(gw)
    const soon = Math.floor(Date.now() / 1000) + 120
    await sessionDb(sid)
      .prepare('UPDATE sessions SET absolute_expires_at = ?2 WHERE sid = ?1')
      .bind(sid, soon)
      .run()
    const res = await refreshWeb(gw, refresh)
    expect(res.status).toBe(200)
    expect(
      Number(/Max-Age=(\d+)/.exec(res.headers.getSetCookie()[0] ?? '')?.[1]),
    ).toBeLessThanOrEqual(120)
    const row = await sessionDb(sid)
      .prepare('SELECT idle_expires_at FROM sessions WHERE sid = ?1')
      .bind(sid)
      .first<{ idle_expires_at: number }>()
    expect(row?.idle_expires_at).toBeLessThanOrEqual(soon)
  })

  it('stops refreshing for a disabled user and after a password change', async () => {
    const a = await webSession(gw)
    await setUserStatus(userDb(a.user.id), a.user.id, 'disabled')
    expect((await refreshWeb(gw, a.refresh)).status).toBe(401)
    expect(await sessionRevoked(a.sid)).toBe('user_disabled')
    const b = await webSession(gw)
    const stored = (await findUserById(userDb(b.user.id), b.user.id))?.password
    if (stored === undefined) throw new Error('test user vanished')
    // The admin API's own statement: same second as the login, the version still differs.
    await changePassword(userDb(b.user.id), b.user.id, stored, Math.floor(Date.now() / 1000))
    expect((await refreshWeb(gw, b.refresh)).status).toBe(401)
    expect(await sessionRevoked(b.sid)).toBe('password_changed')
  })

  it('ends a session whose login raced a password change, even within the same second', async () => {
    // The login verified the old password (credential version 0); the change lands before the
    // session row, stamped with the very same second — a timestamp comparison cannot tell.
    const s = await webSession(gw)
    const now = Math.floor(Date.now() / 1000)
    await userDb(s.user.id)
      .prepare(
        'UPDATE users SET credential_version = credential_version + 1, password_changed_at = ?2 WHERE id = ?1',
      )
      .bind(s.user.id, now)
      .run()
    await sessionDb(s.sid)
      .prepare('UPDATE sessions SET created_at = ?2 WHERE sid = ?1')
      .bind(s.sid, now)
      .run()
    expect((await refreshWeb(gw, s.refresh)).status).toBe(401)
    expect(await sessionRevoked(s.sid)).toBe('password_changed')
  })

  it('never widens scope, and narrows it when the user loses one', async () => {
    const user = await createTestUser({ scopes: ['echo:read'] })
    const token = cookieToken(await login(gw, user))
    await userDb(user.id)
      .prepare("UPDATE users SET scopes = 'echo:read echo:write gatehouse:admin' WHERE id = ?1")
      .bind(user.id)
      .run()
    const widened = await refreshWeb(gw, token)
    expect(((await widened.json()) as Record<string, string>).scope).toBe('echo:read')
    await userDb(user.id).prepare("UPDATE users SET scopes = '' WHERE id = ?1").bind(user.id).run()
    const narrowed = await refreshWeb(gw, cookieToken(widened))
    expect(((await narrowed.json()) as Record<string, string>).scope).toBe('')
  })
})

describe('browser and device binding', () => {
  it('refuses a foreign Origin, a cross-site fetch and a missing Origin without consuming the token', async () => {
    const { refresh, sid } = await webSession(gw)
    for (const headers of [
      { origin: 'https://evil.test' },
      { origin: APP_ORIGIN, 'sec-fetch-site': 'cross-site' },
      {},
    ]) {
      const res = await refreshWeb(gw, refresh, headers as Record<string, string>)
      expect(res.status).toBe(403)
    }
    expect(await liveTokens(sid)).toBe(1)
    const unused = await sessionDb(sid)
      .prepare('SELECT used_at FROM refresh_tokens WHERE sid = ?1')
      .bind(sid)
      .first()
    expect(unused?.used_at).toBeNull()
    expect((await refreshWeb(gw, refresh)).status).toBe(200)
  })

  it('refuses two refresh cookies at once', async () => {
    const { refresh } = await webSession(gw)
    const res = await send(gw, '/auth/refresh', {
      method: 'POST',
      headers: {
        origin: APP_ORIGIN,
        cookie: `${REFRESH_COOKIE}=${refresh}; ${REFRESH_COOKIE}=ghr1.x.y`,
      },
    })
    expect(res.status).toBe(400)
  })

  it('binds a mobile session to its device: its own device refreshes in the body', async () => {
    const user = await createTestUser()
    const res = await login(gw, user, { client: 'mobile', device_id: 'phone-1' }, {})
    const token = ((await res.json()) as Record<string, string>).refresh_token as string
    const ok = await refreshMobile(gw, token, 'phone-1')
    expect(ok.status).toBe(200)
    expect(((await ok.json()) as Record<string, string>).refresh_token).toMatch(/^ghr1\./)
  })

  it('treats a current mobile token presented from another device as theft and ends the session', async () => {
    const user = await createTestUser()
    const res = await login(gw, user, { client: 'mobile', device_id: 'phone-1' }, {})
    const token = ((await res.json()) as Record<string, string>).refresh_token as string
    expect((await refreshMobile(gw, token, 'phone-2')).status).toBe(401)
    expect(await sessionRevoked(sessionIdOf(token))).toBe('refresh_reuse')
    // The owner's own device cannot bring the session back.
    expect((await refreshMobile(gw, token, 'phone-1')).status).toBe(401)
  })

  it('treats a mobile token smuggled into the browser cookie as theft', async () => {
    const user = await createTestUser()
    const res = await login(gw, user, { client: 'mobile', device_id: 'phone-1' }, {})
    const token = ((await res.json()) as Record<string, string>).refresh_token as string
    expect((await refreshWeb(gw, token)).status).toBe(401)
    expect(await sessionRevoked(sessionIdOf(token))).toBe('refresh_reuse')
  })

  it('treats a rotated mobile token presented from another device as theft', async () => {
    const user = await createTestUser()
    const res = await login(gw, user, { client: 'mobile', device_id: 'phone-1' }, {})
    const token = ((await res.json()) as Record<string, string>).refresh_token as string
    expect((await refreshMobile(gw, token, 'phone-1')).status).toBe(200)
    expect((await refreshMobile(gw, token, 'phone-2')).status).toBe(401)
    expect(await sessionRevoked(sessionIdOf(token))).toBe('refresh_reuse')
  })

  it("treats a web session's cookie token presented in a mobile-style body as theft", async () => {
    const logs = captureLogs()
    const s = await webSession(gw)
    const res = await refreshMobile(gw, s.refresh, 'phone-1')
    expect(res.status).toBe(401)
    expect(logs.lastReason()).toBe('invalid_grant')
    expect(await sessionRevoked(s.sid)).toBe('refresh_reuse')
    expect(await liveTokens(s.sid)).toBe(0)
    // The browser that owns the session cannot bring it back either.
    expect((await refreshWeb(gw, s.refresh)).status).toBe(401)
  })

  it('issues no successor in a session revoked before the rotation commits', async () => {
    const s = await webSession(gw)
    // A logout marks the session row revoked while the parent token is still unused: the
    // guarded rotation consumes nothing and stores no successor.
    await sessionDb(s.sid)
      .prepare("UPDATE sessions SET revoked_at = ?2, revoked_reason = 'logout' WHERE sid = ?1")
      .bind(s.sid, Math.floor(Date.now() / 1000))
      .run()
    expect(await liveTokens(s.sid)).toBe(1)
    const now = Math.floor(Date.now() / 1000)
    const successor = newRefreshToken(s.sid)
    const { context, rotated } = await rotateRefreshToken(
      sessionDb(s.sid),
      {
        parentHash: await hashRefreshToken(s.refresh),
        successorHash: await hashRefreshToken(successor),
        sid: s.sid,
        now,
        idleLimit: now + 3600,
        sealed: 'sealed',
        sealedUntil: now + 30,
        fingerprint: 'fp',
        country: null,
      },
      { client: 'web', deviceId: null, proofJkt: null, bearerAllowed: true },
    )
    expect(rotated).toBe(false)
    // The state it read in the same transaction shows why: the session is revoked.
    expect(context?.session.revokedAt).not.toBeNull()
    expect(context?.token.usedAt).toBeNull()
    const row = await sessionDb(s.sid)
      .prepare('SELECT COUNT(*) AS n FROM refresh_tokens WHERE sid = ?1 AND token_hash = ?2')
      .bind(s.sid, await hashRefreshToken(successor))
      .first<{ n: number }>()
    expect(row?.n).toBe(0)
    expect((await refreshWeb(gw, successor)).status).toBe(401)
  })

  it('answers garbage refresh tokens with invalid_grant', async () => {
    for (const token of ['', 'x', 'ghr1.a.b', `ghr1.${'A'.repeat(22)}.${'B'.repeat(43)}`]) {
      const res = await refreshWeb(gw, token)
      expect(res.status).toBe(401)
    }
  })
})

describe('logout', () => {
  it('ends the session with the access token or the refresh cookie, and clears the cookie', async () => {
    const user = await createTestUser()
    const res = await login(gw, user)
    const access = await accessTokenOf(res)
    const token = cookieToken(res)
    const out = await send(gw, '/auth/logout', { method: 'POST', token: access })
    expect(out.status).toBe(204)
    expect(out.headers.getSetCookie()[0]).toContain('Max-Age=0')
    expect((await refreshWeb(gw, token)).status).toBe(401)
    const b = await webSession(gw)
    expect(
      (
        await send(gw, '/auth/logout', {
          method: 'POST',
          headers: { origin: APP_ORIGIN, cookie: `${REFRESH_COOKIE}=${b.refresh}` },
        })
      ).status,
    ).toBe(204)
    expect(await sessionRevoked(b.sid)).toBe('logout')
  })
})
