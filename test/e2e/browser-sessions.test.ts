// Sessions across origins in real Chromium, against the real `npm start` stack: a page on
// another origin can neither refresh nor log in and leaves the victim's refresh token
// unconsumed; logout makes a `critical` route refuse the old access token at once (DESIGN.md
// § Tokens, § Risk tiers). Two tabs of one session (one rotation for both, a logout ending both):
// browser-dpop.test.ts.

import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { BrowserContext } from 'playwright-core'
import { call } from '../helpers/stack/attack-kit'
import {
  act,
  answeredCalls,
  gatewayCalls,
  logInOnDemoPage,
  readStoredKey,
  recordWire,
  sentRefreshToken,
  serveHtml,
  signInPage,
  useChromium,
} from '../helpers/stack/browser'
import { expectLoggedReason } from '../helpers/stack/gateway-log'
import { GATEWAY, REFRESH_COOKIE, originCount } from '../helpers/stack/stack'

const newContext = useChromium()

async function refreshCookieOf(context: BrowserContext): Promise<string | undefined> {
  return (await context.cookies(`${GATEWAY}/auth`)).find((c) => c.name === REFRESH_COOKIE)?.value
}

/**
 * A foreign page that tries, with the visitor's credentials, a cookie refresh, a JSON login
 * (preflighted) and a text/plain login (a "simple" request, no preflight), and records whether
 * script could read any answer. The login would plant the attacker's session (login CSRF).
 */
function attackerPage(gateway: string): string {
  return `<!doctype html><meta charset="utf-8"><title>elsewhere</title><script>
window.attack = (async () => {
  const gateway = ${JSON.stringify(gateway)}
  const login = JSON.stringify({ tenant: 'demo', username: 'admin', password: 'admin-demo-password' })
  const attempts = {
    refresh: ['/auth/refresh', {}],
    loginJson: ['/auth/login?attempt=json', { headers: { 'content-type': 'application/json' }, body: login }],
    loginSimple: ['/auth/login?attempt=simple', { headers: { 'content-type': 'text/plain' }, body: login }],
  }
  const seen = {}
  for (const [name, [path, init]] of Object.entries(attempts)) {
    try {
      const res = await fetch(gateway + path, { method: 'POST', credentials: 'include', ...init })
      seen[name] = { readable: true, status: res.status }
    } catch {
      seen[name] = { readable: false }
    }
  }
  return seen
})()
</script>`
}

describe('browser sessions across tabs and origins', () => {
  it.each([
    // 127.0.0.1 on another port is cross-origin but same-site: SameSite=Strict lets the cookie
    // travel, so the gateway's Origin check alone must refuse.
    { site: 'same-site', host: '127.0.0.1', cookieTravels: true },
    // localhost is another site: Chromium withholds the cookie and sends Sec-Fetch-Site cross-site.
    { site: 'cross-site', host: 'localhost', cookieTravels: false },
  ])(
    'refuses refresh and login from a $site page without consuming the victim token',
    async ({ host, cookieTravels }) => {
      const context = await newContext()
      const victim = await context.newPage()
      await logInOnDemoPage(victim)
      const before = await refreshCookieOf(context)
      expect(before).toBeDefined()
      const { port, server } = await serveHtml(attackerPage(GATEWAY))
      try {
        const evil = await context.newPage()
        // Within its 10 s reuse window the gateway hands the successor of a just-used token to
        // the same device again, so the victim's later refresh would pass even had the attack
        // consumed the token. With its own user agent (the device fingerprint of web clients),
        // a consumed token would make that refresh a reuse from another device: 401.
        const wire = await recordWire(evil, { userAgent: 'gatehouse-e2e-attacker' })
        await evil.goto(`http://${host}:${port}/`)
        const seen = await evil.evaluate(() => (window as unknown as { attack: unknown }).attack)
        expect(seen).toEqual({
          refresh: { readable: false },
          loginJson: { readable: false },
          loginSimple: { readable: false },
        })
        await expect
          .poll(() => gatewayCalls(wire).sort())
          .toEqual([
            'OPTIONS /auth/login?attempt=json 403', // preflight refused: the JSON login never left
            'POST /auth/login?attempt=simple 400', // not JSON: refused before any credential check
            'POST /auth/refresh 403',
          ])
        const [refresh] = await answeredCalls(wire, '/auth/refresh')
        expect(refresh!.headers['user-agent']).toBe('gatehouse-e2e-attacker')
        expect(sentRefreshToken(refresh!)).toBe(cookieTravels ? before : null)
        if (!cookieTravels) expect(refresh!.refreshCookieBlocked).toContain('SameSiteStrict')
      } finally {
        server.close()
      }

      expect(await refreshCookieOf(context)).toBe(before)
      const wireAfter = await recordWire(victim)
      expect(await act(victim, '#refresh')).toMatchObject({ outcome: 'ok', httpStatus: '200' })
      const [afterAttack] = await answeredCalls(wireAfter, '/auth/refresh')
      expect(afterAttack!.status).toBe(200)
      expect(sentRefreshToken(afterAttack!)).toBe(before)
      expect(await act(victim, '#call-critical')).toMatchObject({ httpStatus: '200' })
    },
  )

  it('makes a critical route refuse the old access token as soon as the page logs out', async () => {
    const context = await newContext()
    const page = await context.newPage()
    const accessToken = await logInOnDemoPage(page)
    expect(await act(page, '#call-critical')).toMatchObject({ outcome: 'ok', httpStatus: '200' })
    const refreshToken = await refreshCookieOf(context)
    expect(refreshToken).toBeDefined()
    // The token is DPoP-bound: only proofs by the page's key get it (or the cookie) past the
    // proof checks to the one under test. The test keeps a handle on the key past the logout.
    await readStoredKey(page)

    const out = await act(page, '#logout')
    expect(out).toMatchObject({ outcome: 'ok', httpStatus: '204', session: 'none' })
    expect(await refreshCookieOf(context)).toBeUndefined()

    const reached = await originCount()
    const target = `${GATEWAY}/api/secure/x`
    const ath = createHash('sha256').update(accessToken).digest('base64url')
    const api = await call('/api/secure/x', {
      headers: {
        authorization: `DPoP ${accessToken}`,
        dpop: await signInPage(page, { htm: 'GET', htu: target, ath }),
      },
    })
    expect(api.status).toBe(401)
    expect(api.headers.get('www-authenticate')).toMatch(/\berror="invalid_token"/)
    await expectLoggedReason(api, 'revoked')
    const refresh = await call('/auth/refresh', {
      method: 'POST',
      headers: {
        cookie: `${REFRESH_COOKIE}=${refreshToken}`,
        origin: GATEWAY,
        dpop: await signInPage(page, { htm: 'POST', htu: `${GATEWAY}/auth/refresh` }),
      },
    })
    expect(refresh.status).toBe(401)
    await expectLoggedReason(refresh, 'invalid_grant')
    // The page cannot get back in either: no token, no cookie, no key.
    expect(await act(page, '#call-critical')).toMatchObject({ outcome: 'error', httpStatus: '401' })
    expect(await originCount()).toBe(reached)
  })
})
