// A reload keeps the demo page's session (#18 item 7), proven in real Chromium against the real
// `npm start` stack: on load the page refreshes silently — the HttpOnly refresh cookie and the
// DPoP key in IndexedDB get a new access token, no login — shows the active session and calls
// the API with it; after a logout a reload shows no session and asks the gateway for nothing.

import { describe, expect, it } from 'vitest'
import { SUBJECT } from '../helpers/stack/attack-kit'
import {
  act,
  gatewayCalls,
  logInOnDemoPage,
  openDemoPage,
  readStatus,
  recordWire,
  useChromium,
} from '../helpers/stack/browser'

const newContext = useChromium()

async function newPage() {
  return (await newContext()).newPage()
}

/** Reloads the page and waits until its script has restored (or not) the session. */
async function reload(page: Awaited<ReturnType<typeof newPage>>) {
  await page.reload()
  await page.waitForSelector('#status[data-ready="true"]')
  return readStatus(page)
}

describe('the demo page across a reload', () => {
  it('shows the active session after a reload and calls the API without logging in again', async () => {
    const page = await newPage()
    const wire = await recordWire(page)
    await logInOnDemoPage(page)

    const restored = await reload(page)
    expect(restored).toMatchObject({
      action: 'restore',
      outcome: 'ok',
      session: 'active',
      tokenType: 'DPoP',
    })
    expect(await page.locator('#status').textContent()).toBe('Session restored')
    const call = await act(page, '#call-api')
    expect(call).toMatchObject({ outcome: 'ok', httpStatus: '200', subject: SUBJECT.alice })
    // One login only: the reload's token came from the refresh cookie.
    await expect
      .poll(() => gatewayCalls(wire))
      .toEqual(['POST /auth/login 200', 'POST /auth/refresh 200', 'GET /api/echo/hello 200'])
  })

  it('keeps the session over several reloads, one silent refresh each', async () => {
    const page = await newPage()
    const wire = await recordWire(page)
    await logInOnDemoPage(page)
    for (let i = 0; i < 2; i++) expect(await reload(page)).toMatchObject({ session: 'active' })
    await expect
      .poll(() => gatewayCalls(wire))
      .toEqual(['POST /auth/login 200', 'POST /auth/refresh 200', 'POST /auth/refresh 200'])
  })

  it('shows no session after a logout and a reload, and sends nothing on load', async () => {
    const page = await newPage()
    const wire = await recordWire(page)
    await logInOnDemoPage(page)
    expect(await act(page, '#logout')).toMatchObject({ outcome: 'ok', session: 'none' })

    const after = await reload(page)
    expect(after.session).toBe('none')
    expect(after.tokenType).toBeUndefined()
    expect(await page.locator('#status').textContent()).toBe('Logged out.')
    // The key went with the session: a reload has nothing to refresh with and does not try.
    await expect
      .poll(() => gatewayCalls(wire))
      .toEqual(['POST /auth/login 200', 'POST /auth/logout 204'])

    const call = await act(page, '#call-api')
    expect(call).toMatchObject({ outcome: 'error', httpStatus: '401', session: 'none' })
  })

  it('shows no session on a first visit', async () => {
    const page = await newPage()
    const wire = await recordWire(page)
    expect(await openDemoPage(page)).toMatchObject({ session: 'none', mfa: 'none' })
    expect(gatewayCalls(wire)).toEqual([])
  })
})
