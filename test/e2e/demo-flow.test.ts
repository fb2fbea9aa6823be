// The README walkthrough, against the real `npm start` stack: login (web and mobile), an API
// call the origin sees with a verified identity (the Gatehouse-Assertion), refresh, logout.

import { describe, expect, it } from 'vitest'
import { GATEWAY, loginAs, loginAsBrowser, originCount } from '../helpers/stack/stack'

describe('the demo profile from npm start', () => {
  it('logs alice in, proxies with an identity assertion the origin verifies, refreshes and logs out', async () => {
    const web = await loginAsBrowser('alice')
    expect(web.refreshToken).toMatch(/^ghr1\./)

    const before = await originCount()
    const api = await fetch(`${GATEWAY}/api/echo/hello?x=1`, {
      headers: { authorization: `Bearer ${web.accessToken}` },
    })
    expect(api.status).toBe(200)
    const echo = (await api.json()) as {
      path: string
      headers: Record<string, string>
      gateway: { ok: boolean; via: string; claims: { sub: string } }
    }
    expect(echo.path).toBe('/api/echo/hello')
    expect(echo.gateway).toMatchObject({
      ok: true,
      via: 'assertion',
      claims: { sub: 'usr_3e3_demo_alice' },
    })
    // The unsigned convenience beside it agrees.
    expect(echo.headers['x-auth-subject']).toBe('usr_3e3_demo_alice')
    expect(await originCount()).toBe(before + 1)

    const refreshed = await fetch(`${GATEWAY}/auth/refresh`, {
      method: 'POST',
      headers: { cookie: web.refreshCookie, origin: GATEWAY },
    })
    expect(refreshed.status).toBe(200)

    const mobile = await loginAs('alice', { client: 'mobile', device_id: 'e2e-phone' })
    expect(mobile.refreshToken).toMatch(/^ghr1\./)

    const out = await fetch(`${GATEWAY}/auth/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${web.accessToken}` },
    })
    expect(out.status).toBe(204)
    const secure = await fetch(`${GATEWAY}/api/secure/x`, {
      headers: { authorization: `Bearer ${web.accessToken}` },
    })
    expect(secure.status).toBe(401)
    expect(await originCount()).toBe(before + 1)
  })

  it('denies unknown paths and missing tokens without reaching the origin', async () => {
    const before = await originCount()
    expect((await fetch(`${GATEWAY}/nowhere`)).status).toBe(404)
    const res = await fetch(`${GATEWAY}/api/echo/x`)
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="gatehouse"')
    expect(await originCount()).toBe(before)
  })
})
