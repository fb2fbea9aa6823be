// Refresh: rotation on every use, and theft detection — a rotated token presented again ends the
// session (its access tokens too); honest parallel refreshes both succeed; a forged cross-site
// request is refused before the token is read, so it cannot burn it; duplicated or renamed
// cookies, a wrong device, a wider scope or a spliced token never yield a session, least of all
// another user's.

import { describe, expect, it } from 'vitest'
import {
  DEMO,
  GATEWAY,
  REFRESH_COOKIE,
  SUBJECT,
  call,
  expectAccepted,
  expectRejected,
  loginAs,
  loginAsBrowser,
  postJson,
  rawSocket,
  sessionOf,
  split,
  withBearer,
  type Answer,
} from '../helpers/stack/attack-kit'

const refreshWeb = (cookie: string, headers: Record<string, string> = {}) =>
  call('/auth/refresh', { method: 'POST', headers: { cookie, origin: GATEWAY, ...headers } })
const refreshMobile = (token: string, device: string, extra: Record<string, unknown> = {}) =>
  postJson('/auth/refresh', { refresh_token: token, device_id: device, ...extra })
const nextCookie = (res: Answer) =>
  (res.headers.get('set-cookie') as string).split(';')[0] as string
const accessOf = (res: Answer) => (JSON.parse(res.body) as { access_token: string }).access_token

/** Proves a session is dead: its newest refresh token and its access token on a critical route. */
async function expectSessionEnded(newestCookie: string, accessToken: string) {
  await expectRejected(401, () => refreshWeb(newestCookie))
  await expectRejected(401, () => withBearer('/api/secure/x', accessToken))
}

describe('reuse and races', () => {
  it('ends the whole session when a rotated (grandparent) token is presented again', async () => {
    const s = await loginAsBrowser('alice')
    const first = await refreshWeb(s.refreshCookie)
    const second = await refreshWeb(nextCookie(first))
    expect(second.status).toBe(200)
    await expectRejected(401, () => refreshWeb(s.refreshCookie))
    await expectSessionEnded(nextCookie(second), accessOf(second))
  })

  it('ends the session when the parent is replayed from another browser inside the window', async () => {
    const s = await loginAsBrowser('alice')
    const honest = await refreshWeb(s.refreshCookie, { 'user-agent': 'Browser-A' })
    expect(honest.status).toBe(200)
    await expectRejected(401, () => refreshWeb(s.refreshCookie, { 'user-agent': 'Browser-B' }))
    await expectSessionEnded(nextCookie(honest), accessOf(honest))
  })

  it('ends a mobile session when a rotated token is replayed after its successor was used', async () => {
    const s = await sessionOf(DEMO.alice, 'reuse-phone')
    const a = await refreshMobile(s.refreshToken, 'reuse-phone')
    const b = await refreshMobile(
      (JSON.parse(a.body) as { refresh_token: string }).refresh_token,
      'reuse-phone',
    )
    expect(b.status).toBe(200)
    await expectRejected(401, () => refreshMobile(s.refreshToken, 'reuse-phone'))
    await expectRejected(401, () => withBearer('/api/secure/x', accessOf(b)))
  })

  it('lets two parallel refreshes of one token both succeed with the same successor', async () => {
    const s = await loginAsBrowser('alice')
    const [a, b] = await Promise.all([refreshWeb(s.refreshCookie), refreshWeb(s.refreshCookie)])
    expect([a?.status, b?.status]).toEqual([200, 200])
    expect(nextCookie(a as Answer)).toBe(nextCookie(b as Answer))
    await expectAccepted(SUBJECT.alice, () => withBearer('/api/secure/x', accessOf(b as Answer)))
    expect((await refreshWeb(nextCookie(a as Answer))).status).toBe(200)
  })
})

describe('cross-site requests are refused before the token is read', () => {
  it.each<[string, Record<string, string>]>([
    ['a foreign Origin', { origin: 'https://attacker.example' }],
    ['Origin null (sandboxed frame)', { origin: 'null' }],
    ['a cross-site fetch from an allowed Origin', { 'sec-fetch-site': 'cross-site' }],
    ['our Origin with a trailing slash', { origin: `${GATEWAY}/` }],
    ['our host over https', { origin: GATEWAY.replace('http:', 'https:') }],
    ['a sibling port', { origin: 'http://127.0.0.1:1' }],
  ])('refuses %s with 403 and leaves the token usable', async (_name, headers) => {
    const s = await loginAsBrowser('alice')
    await expectRejected(403, () => refreshWeb(s.refreshCookie, headers))
    expect((await refreshWeb(s.refreshCookie)).status).toBe(200)
  })

  it('refuses a cookie refresh without any Origin and leaves the token usable', async () => {
    const s = await loginAsBrowser('alice')
    await expectRejected(403, () =>
      call('/auth/refresh', { method: 'POST', headers: { cookie: s.refreshCookie } }),
    )
    expect((await refreshWeb(s.refreshCookie)).status).toBe(200)
  })

  it('refuses a cookie logout from a foreign Origin, leaving the session alive', async () => {
    const s = await loginAsBrowser('alice')
    await expectRejected(403, () =>
      call('/auth/logout', {
        method: 'POST',
        headers: { cookie: s.refreshCookie, origin: 'https://attacker.example' },
      }),
    )
    expect((await refreshWeb(s.refreshCookie)).status).toBe(200)
  })

  it('answers a foreign preflight without CORS grants', async () => {
    const res = await expectRejected(403, () =>
      call('/auth/refresh', {
        method: 'OPTIONS',
        headers: { origin: 'https://attacker.example', 'access-control-request-method': 'POST' },
      }),
    )
    expect(res.headers.get('access-control-allow-origin')).toBeNull()
  })
})

describe('cookie tricks', () => {
  it('refuses two refresh cookies in one Cookie header without consuming either', async () => {
    const a = await loginAsBrowser('alice')
    const b = await loginAsBrowser('alice')
    await expectRejected(400, () => refreshWeb(`${a.refreshCookie}; ${b.refreshCookie}`))
    expect((await refreshWeb(a.refreshCookie)).status).toBe(200)
    expect((await refreshWeb(b.refreshCookie)).status).toBe(200)
  })

  it('refuses refresh cookies split over two Cookie header lines', async () => {
    const a = await loginAsBrowser('alice')
    const b = await loginAsBrowser('alice')
    await expectRejected(400, () =>
      rawSocket('POST /auth/refresh HTTP/1.1', [
        `Cookie: ${a.refreshCookie}`,
        `Cookie: ${b.refreshCookie}`,
        `Origin: ${GATEWAY}`,
        'Connection: close',
      ]),
    )
    expect((await refreshWeb(a.refreshCookie)).status).toBe(200)
  })

  it.each([
    ['lower case', (v: string) => `${REFRESH_COOKIE.toLowerCase()}=${v}`],
    ['upper case', (v: string) => `${REFRESH_COOKIE.toUpperCase()}=${v}`],
    ['without the __Secure- prefix', (v: string) => `gatehouse_refresh=${v}`],
    ['with a __Host- prefix', (v: string) => `__Host-gatehouse_refresh=${v}`],
    ['with a quoted value', (v: string) => `${REFRESH_COOKIE}="${v}"`],
  ])(
    'ignores the refresh token under a cookie name in %s, without consuming it',
    async (_name, make) => {
      const s = await loginAsBrowser('alice')
      await expectRejected(401, () => refreshWeb(make(s.refreshToken)))
      expect((await refreshWeb(s.refreshCookie)).status).toBe(200)
    },
  )

  it('sets the refresh cookie HttpOnly, Secure, SameSite=Strict, on /auth only', async () => {
    const s = await loginAs('alice')
    const attributes = (s.setCookie[0] as string).split('; ').slice(1)
    expect(attributes).toEqual(
      expect.arrayContaining(['Path=/auth', 'HttpOnly', 'Secure', 'SameSite=Strict']),
    )
    await expectRejected(401, () =>
      call('/api/echo/x', {
        headers: { cookie: (s.setCookie[0] as string).split(';')[0] as string },
      }),
    )
  })
})

describe('binding, scope and fixation', () => {
  // A refresh token that reaches another device or transport has leaked (the device id is no
  // secret): the session ends, so the thief's copy and the owner's are both dead (L8).
  it('ends the session when a current mobile token arrives from another device id', async () => {
    const s = await sessionOf(DEMO.alice, 'phone-1')
    await expectRejected(401, () => refreshMobile(s.refreshToken, 'phone-2'))
    await expectRejected(401, () => refreshMobile(s.refreshToken, 'phone-1'))
    await expectRejected(401, () => withBearer('/api/secure/x', s.accessToken))
  })

  it('ends the session when a mobile token is carried in the browser cookie', async () => {
    const s = await sessionOf(DEMO.alice, 'phone-3')
    await expectRejected(401, () => refreshWeb(`${REFRESH_COOKIE}=${s.refreshToken}`))
    await expectRejected(401, () => refreshMobile(s.refreshToken, 'phone-3'))
  })

  it('ends the session when a browser token is carried in a mobile body', async () => {
    const s = await loginAsBrowser('alice')
    await expectRejected(401, () => refreshMobile(s.refreshToken, 'phone-4'))
    await expectRejected(401, () => refreshWeb(s.refreshCookie))
  })

  it.each([
    ['in the body', { scope: 'echo:read echo:write gatehouse:admin' }, ''],
    ['in the query', {}, '?scope=gatehouse:admin'],
  ])('never widens the scope asked for %s', async (_name, extra, query) => {
    const s = await sessionOf(DEMO.alice, 'scope-phone')
    const res = await postJson(`/auth/refresh${query}`, {
      refresh_token: s.refreshToken,
      device_id: 'scope-phone',
      ...extra,
    })
    expect(JSON.parse(res.body)).toMatchObject({ scope: 'echo:read echo:write' })
    await expectRejected(403, () => withBearer('/admin/keys', accessOf(res)))
  })

  it.each([
    ['alice’s secret under the admin’s session id', 'alice', 'admin'],
    ['the admin’s secret under alice’s session id', 'admin', 'alice'],
  ] as const)('refuses a spliced token: %s', async (_name, secretOf, sidOf) => {
    const secret = (await sessionOf(DEMO[secretOf], 'splice')).refreshToken.split('.')[2]
    const sid = (await sessionOf(DEMO[sidOf], 'splice')).refreshToken.split('.')[1]
    await expectRejected(401, () => refreshMobile(`ghr1.${sid}.${secret}`, 'splice'))
  })

  it('never turns alice’s login into the session of a refresh cookie she carried in', async () => {
    const admin = await loginAsBrowser('admin')
    const res = await call('/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: GATEWAY, cookie: admin.refreshCookie },
      body: JSON.stringify(DEMO.alice),
    })
    expect(split(accessOf(res)).payload.sub).toBe(SUBJECT.alice)
    expect(split(accessOf(res)).payload.sid).not.toBe(split(admin.accessToken).payload.sid)
    const adminRefresh = await refreshWeb(admin.refreshCookie)
    expect(split(accessOf(adminRefresh)).payload.sub).toBe(SUBJECT.admin)
    const aliceRefresh = await refreshWeb(nextCookie(res))
    await expectAccepted(SUBJECT.alice, () => withBearer('/api/echo/x', accessOf(aliceRefresh)))
  })

  it.each([
    ['a random ghr1 token', () => `ghr1.${'A'.repeat(22)}.${'B'.repeat(43)}`],
    ['an over-long token', () => `ghr1.${'A'.repeat(22)}.${'B'.repeat(200)}`],
    ['an empty token', () => ''],
    ['a JSON-shaped token', () => '{"sid":"x"}'],
  ])('refuses %s with 400 or 401', async (_name, make) => {
    await expectRejected([400, 401], () => refreshMobile(make(), 'garbage'))
  })
})
