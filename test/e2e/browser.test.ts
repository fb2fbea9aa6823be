// The browser contract of DESIGN.md § Tokens, proven in real Chromium against the real `npm start`
// stack through the demo page (GET /demo) and gatehouse/client: the refresh token lives only in
// an HttpOnly, Secure, SameSite=Strict, __Secure- cookie on Path=/auth; an invalid access token
// is refreshed transparently; the page runs under a nonce CSP with the library's modules. DPoP
// itself (keys, reloads, tabs, stolen tokens): browser-dpop.test.ts; refreshing before expiry
// needs the gateway's clock to move with the page's, so it is proven in workerd
// (test/integration/dpop-client.test.ts). Chromium treats http://127.0.0.1 as a secure context,
// so Secure cookies and Web Crypto work without TLS.

import { describe, expect, it } from 'vitest'
import { split } from '../helpers/stack/attack-kit'
import {
  act,
  answeredCalls,
  gatewayCalls,
  logInOnDemoPage,
  recordWire,
  sentRefreshToken,
  useChromium,
} from '../helpers/stack/browser'
import { GATEWAY, REFRESH_COOKIE, loginAs } from '../helpers/stack/stack'

/** The session's absolute lifetime in the demo profile (720 h), as cookie Max-Age. */
const SESSION_ABSOLUTE_LIFETIME_SECONDS = 720 * 3600

const newContext = useChromium()

async function newPage() {
  return (await newContext()).newPage()
}

describe('the demo page in Chromium', () => {
  it('keeps the refresh token in an HttpOnly, Secure, SameSite=Strict cookie on /auth only', async () => {
    const page = await newPage()
    const wire = await recordWire(page)
    const accessToken = await logInOnDemoPage(page)

    const cookies = await page.context().cookies()
    expect(cookies.map((c) => c.name)).toEqual([REFRESH_COOKIE])
    const cookie = cookies[0]!
    expect(cookie.name.startsWith('__Secure-')).toBe(true)
    expect(cookie).toMatchObject({
      domain: '127.0.0.1', // host-only: no Domain attribute
      path: '/auth',
      httpOnly: true,
      secure: true,
      sameSite: 'Strict',
    })
    const maxAge = cookie.expires - Date.now() / 1000
    expect(maxAge).toBeGreaterThan(0)
    expect(maxAge).toBeLessThanOrEqual(SESSION_ABSOLUTE_LIFETIME_SECONDS + 5)

    // Page script sees neither the cookie nor a stored token; the token is not in the DOM.
    const visible = await page.evaluate(() => ({
      cookie: document.cookie,
      local: localStorage.length,
      session: sessionStorage.length,
      html: document.documentElement.outerHTML,
    }))
    expect(visible).toMatchObject({ cookie: '', local: 0, session: 0 })
    expect(visible.html).not.toContain(accessToken)

    // The API call carries the DPoP-bound token and its proof; the cookie (Path=/auth) never
    // travels to /api.
    const status = await act(page, '#call-api')
    expect(status).toMatchObject({
      outcome: 'ok',
      httpStatus: '200',
      subject: 'usr_3e3_demo_alice',
    })
    const [apiCall] = await answeredCalls(wire, '/api/echo/hello')
    expect(apiCall!.headers.authorization).toBe(`DPoP ${accessToken}`)
    expect(apiCall!.headers.dpop).toBeTruthy()
    expect(sentRefreshToken(apiCall!)).toBeNull()

    // A refresh sends the cookie (Chromium's Origin header included) and rotates it.
    expect((await act(page, '#refresh')).httpStatus).toBe('200')
    const [refreshCall] = await answeredCalls(wire, '/auth/refresh')
    expect(sentRefreshToken(refreshCall!)).toBe(cookie.value)
    expect(refreshCall!.headers.origin).toBe(GATEWAY)
    const rotated = await page.context().cookies()
    expect(rotated.map((c) => c.name)).toEqual([REFRESH_COOKIE])
    expect(rotated[0]!.value).not.toBe(cookie.value)
  })

  it('serves the page under a CSP without inline-script allowances or framing', async () => {
    const res = await fetch(`${GATEWAY}/demo`)
    expect(res.status).toBe(200)
    const csp = res.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).not.toContain('unsafe-inline')
    expect(csp).not.toMatch(/https?:|\*/)
    // …and the nonce-bearing module, with the library modules it imports, still runs under it.
    const page = await newPage()
    await page.goto(`${GATEWAY}/demo`)
    await expect(page.waitForSelector('#status[data-ready="true"]')).resolves.toBeTruthy()
    const library = await fetch(`${GATEWAY}/demo/client/index.js`)
    expect(library.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(library.headers.get('x-content-type-options')).toBe('nosniff')
  })

  it('refreshes and retries once when the gateway says the access token is invalid', async () => {
    // The gateway's clock cannot be moved and its 900 s token lifetime cannot be shortened per
    // test, so the server-side invalidation here is a revocation of the token's jti by an admin
    // on the `critical` route: the gateway answers a revoked token exactly as an expired one
    // (401, `error="invalid_token"`), and that challenge is all the page acts on.
    const page = await newPage()
    const wire = await recordWire(page)
    const oldToken = await logInOnDemoPage(page)
    const admin = await loginAs('admin')
    const revoked = await fetch(`${GATEWAY}/admin/revocations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ jti: split(oldToken).payload.jti }),
    })
    expect(revoked.status).toBe(200)

    const status = await act(page, '#call-critical')
    expect(status).toMatchObject({
      outcome: 'ok',
      httpStatus: '200',
      subject: 'usr_3e3_demo_alice',
    })
    expect(status.refreshes).toBe('1')
    await expect
      .poll(() => gatewayCalls(wire))
      .toEqual([
        'POST /auth/login 200',
        'GET /api/secure/hello 401',
        'POST /auth/refresh 200',
        'GET /api/secure/hello 200',
      ])
    const [first, , retry] = wire.filter(
      (w) => w.target === '/api/secure/hello' || w.target === '/auth/refresh',
    )
    expect(first!.headers.authorization).toBe(`DPoP ${oldToken}`)
    expect(retry!.headers.authorization).not.toBe(`DPoP ${oldToken}`)
  })
})
