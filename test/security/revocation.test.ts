// Revocation variants: after a logout, an RFC 7009 revocation or an admin revocation, the very
// next request on a route that checks revocation (critical: /api/secure and the admin API) is
// refused; a `low` route keeps accepting until expiry, as DESIGN.md's tiers state, and says so to
// the origin. No re-encoding of a revoked token slips past either kind of route.

import { describe, expect, it } from 'vitest'
import {
  DEMO,
  SUBJECT,
  b64url,
  call,
  createUser,
  expectAccepted,
  expectRejected,
  postJson,
  sessionOf,
  split,
  tamper,
  unb64url,
  withBearer,
} from '../helpers/stack/attack-kit'

const logout = (token: string) =>
  call('/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${token}` } })

/** A fresh alice session whose access token already passed the critical route once. */
async function liveSession(device = 'revocation-phone') {
  const s = await sessionOf(DEMO.alice, device)
  await expectAccepted(SUBJECT.alice, () => withBearer('/api/secure/x', s.accessToken))
  return s
}

describe('logout', () => {
  it('refuses the logged-out token on the critical route at once', async () => {
    const s = await liveSession()
    expect((await logout(s.accessToken)).status).toBe(204)
    await expectRejected(401, () => withBearer('/api/secure/x', s.accessToken))
  })

  it('keeps serving the logged-out token on the low route, and tells the origin it did not check', async () => {
    const s = await liveSession()
    await logout(s.accessToken)
    const echo = await expectAccepted(SUBJECT.alice, () => withBearer('/api/echo/x', s.accessToken))
    expect(echo.headers['x-auth-revocation']).toBe('skipped; tier=low')
  })

  it('refuses the refresh token of a logged-out session', async () => {
    const s = await liveSession()
    await logout(s.accessToken)
    await expectRejected(401, () =>
      postJson('/auth/refresh', { refresh_token: s.refreshToken, device_id: 'revocation-phone' }),
    )
  })

  it('ends the session when logging out with the refresh token instead', async () => {
    const s = await liveSession()
    const res = await postJson('/auth/logout', {
      refresh_token: s.refreshToken,
      device_id: 'revocation-phone',
    })
    expect(res.status).toBe(204)
    await expectRejected(401, () => withBearer('/api/secure/x', s.accessToken))
  })

  it('leaves another session of the same user untouched', async () => {
    const a = await liveSession('phone-a')
    const b = await liveSession('phone-b')
    await logout(a.accessToken)
    await expectRejected(401, () => withBearer('/api/secure/x', a.accessToken))
    await expectAccepted(SUBJECT.alice, () => withBearer('/api/secure/x', b.accessToken))
  })

  it('is idempotent: a second logout with the same token changes nothing and reveals nothing', async () => {
    const s = await liveSession()
    await logout(s.accessToken)
    expect((await logout(s.accessToken)).status).toBe(204)
    await expectRejected(401, () => withBearer('/api/secure/x', s.accessToken))
  })

  it('refuses a logged-out admin token on the admin API (critical)', async () => {
    const s = await sessionOf(DEMO.admin, 'revocation-admin')
    expect((await withBearer('/admin/keys', s.accessToken)).status).toBe(200)
    await logout(s.accessToken)
    await expectRejected(401, () => withBearer('/admin/keys', s.accessToken))
  })
})

describe('RFC 7009 revocation', () => {
  const revoke = (token: string) =>
    call('/auth/revoke', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${encodeURIComponent(token)}`,
    })

  it('revokes one access token by jti; the session’s next token still works', async () => {
    const s = await liveSession()
    expect((await revoke(s.accessToken)).status).toBe(200)
    await expectRejected(401, () => withBearer('/api/secure/x', s.accessToken))
    const refreshed = await postJson('/auth/refresh', {
      refresh_token: s.refreshToken,
      device_id: 'revocation-phone',
    })
    const next = (JSON.parse(refreshed.body) as { access_token: string }).access_token
    await expectAccepted(SUBJECT.alice, () => withBearer('/api/secure/x', next))
  })

  it('ends the whole session when given the refresh token', async () => {
    const s = await liveSession()
    expect((await revoke(s.refreshToken)).status).toBe(200)
    await expectRejected(401, () => withBearer('/api/secure/x', s.accessToken))
  })

  it('answers 200 for garbage without revoking anything (nothing revealed)', async () => {
    const s = await liveSession()
    expect((await revoke('not-a-token')).status).toBe(200)
    await expectAccepted(SUBJECT.alice, () => withBearer('/api/secure/x', s.accessToken))
  })
})

describe('a revoked token re-encoded', () => {
  const variants: Array<[string, (token: string) => string]> = [
    ['with a padded signature', (tok) => `${tok}=`],
    [
      'with a non-canonical last signature character',
      (tok) => {
        const last = tok.at(-1) as string
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
        return tok.slice(0, -1) + alphabet[alphabet.indexOf(last) ^ 1]
      },
    ],
    [
      'with its header re-serialised with spaces',
      (tok) => {
        const t = split(tok)
        return `${b64url(JSON.stringify(t.header, null, 1))}.${t.p}.${t.s}`
      },
    ],
    [
      'with a fresh jti',
      (tok) => tamper(tok, { payload: { ...split(tok).payload, jti: crypto.randomUUID() } }),
    ],
    [
      'with its signature in standard base64',
      (tok) => {
        const t = split(tok)
        return `${t.h}.${t.p}.${unb64url(t.s).toString('base64')}`
      },
    ],
  ]
  const rows = variants.flatMap(([name, fn]) =>
    ['/api/secure/x', '/api/echo/x'].map((path) => [name, path, fn] as const),
  )

  it.each(rows)('refuses it %s on %s', async (_name, path, reencode) => {
    const s = await liveSession()
    await logout(s.accessToken)
    await expectRejected([400, 401], () => withBearer(path, reencode(s.accessToken)))
  })
})

describe('admin revocation', () => {
  it('revokes every token of a subject at once, on every critical route', async () => {
    const user = await createUser('revoked-subject', ['echo:read'])
    const a = await sessionOf(user, 'a')
    const b = await sessionOf(user, 'b')
    await expectAccepted(user.id, () => withBearer('/api/secure/x', a.accessToken))
    const admin = await sessionOf(DEMO.admin, 'revocation-admin-2')
    const res = await postJson(
      '/admin/revocations',
      { sub: user.id, tenant: 'demo' },
      { authorization: `Bearer ${admin.accessToken}` },
    )
    expect(res.status).toBe(200)
    await expectRejected(401, () => withBearer('/api/secure/x', a.accessToken))
    await expectRejected(401, () => withBearer('/api/secure/x', b.accessToken))
  })

  it('refuses the revocation API to a user without gatehouse:admin', async () => {
    const s = await sessionOf(DEMO.alice, 'revocation-phone')
    await expectRejected(403, () =>
      postJson(
        '/admin/revocations',
        { sub: SUBJECT.admin, tenant: 'demo' },
        { authorization: `Bearer ${s.accessToken}` },
      ),
    )
  })
})
