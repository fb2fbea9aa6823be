// Second factors and step-up (#17) in real Chromium against the real `npm start` stack, through
// the demo page and gatehouse/client at http://localhost:<port>/demo (WebAuthn refuses IP
// origins): a passkey on a CDP virtual authenticator (CTAP2, internal, resident key, user
// verified) registered, then used alone to log in and to step up; an authenticator app (TOTP,
// codes computed with node:crypto per RFC 6238) enrolled, then asked for after the password; recovery codes;
// a factor added to an account that has one only after a step-up. Each test has its own user,
// made through the admin API, so no test depends on another's factors.

import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { createUser, type CreatedUser } from '../helpers/stack/attack-kit'
import {
  GATEWAY_BY_NAME,
  act,
  addVirtualAuthenticator,
  base32Decode,
  currentTotpStep,
  gatewayCalls,
  logInOnDemoPage,
  openDemoPage,
  readStatus,
  recordWire,
  submitLogin,
  totpCode,
  useChromium,
} from '../helpers/stack/browser'
import { GATEWAY, originCount } from '../helpers/stack/stack'

const RECOVERY_CODE_COUNT = 10

const newContext = useChromium()

async function newPage(): Promise<Page> {
  return (await newContext()).newPage()
}

/** The page's HTML (its status attributes included): where no code or secret may be left. */
const pageText = (page: Page) => page.evaluate(() => document.documentElement.outerHTML)

/** Logs a fresh user in with the password on the demo page at localhost. */
async function passwordSession(label: string): Promise<{ page: Page; user: CreatedUser }> {
  const user = await createUser(label)
  const page = await newPage()
  await logInOnDemoPage(page, { user, base: GATEWAY_BY_NAME })
  return { page, user }
}

/**
 * Enrols an authenticator app on the page: reads the secret it shows, confirms with the current
 * code. Resolves to the secret and the time step that code used (each step works once).
 */
async function enrolTotp(page: Page): Promise<{ secret: Buffer; step: number }> {
  expect(await act(page, '#totp-enroll')).toMatchObject({ outcome: 'ok', totp: 'pending' })
  const shown = (await page.locator('#totp-secret').textContent()) ?? ''
  const uri = (await page.locator('#totp-uri').textContent()) ?? ''
  expect(shown).toMatch(/^[A-Z2-7]{32}$/)
  expect(uri).toMatch(/^otpauth:\/\/totp\//)
  expect(new URL(uri).searchParams.get('secret')).toBe(shown)
  const secret = base32Decode(shown)
  const step = currentTotpStep()
  await page.fill('#totp-form input[name=code]', totpCode(secret, step))
  const confirmed = await act(page, '#totp-confirm')
  expect(confirmed).toMatchObject({ outcome: 'ok', httpStatus: '200', totp: 'active' })
  // The secret leaves the page once the factor is active.
  expect(await pageText(page)).not.toContain(shown)
  return { secret, step }
}

/** The recovery codes the page shows (once). */
const shownRecoveryCodes = (page: Page) => page.locator('#recovery-codes li').allTextContents()

describe('second factors in Chromium through the demo page', () => {
  it('points to localhost for passkeys when opened at an IP origin', async () => {
    const page = await newPage()
    expect(await openDemoPage(page)).toMatchObject({ passkeys: 'unavailable', mfa: 'none' })
    expect(await page.locator('#origin-note').isVisible()).toBe(true)
    expect(await page.locator('#localhost-link').getAttribute('href')).toBe(
      `${GATEWAY_BY_NAME}/demo`,
    )

    expect(await openDemoPage(page, GATEWAY_BY_NAME)).toMatchObject({ passkeys: 'available' })
    expect(await page.locator('#origin-note').isVisible()).toBe(false)
    expect(GATEWAY).not.toBe(GATEWAY_BY_NAME)
  })

  it('registers a passkey, logs in with it alone and passes /api/stepup without a prompt', async () => {
    const { page } = await passwordSession('passkey')
    const authenticator = await addVirtualAuthenticator(page)

    const added = await act(page, '#passkey-add')
    expect(added).toMatchObject({ outcome: 'ok', factors: '1' })
    // The first factor comes with recovery codes, shown once.
    expect(added.recoveryCodes).toBe(String(RECOVERY_CODE_COUNT))
    expect(await shownRecoveryCodes(page)).toHaveLength(RECOVERY_CODE_COUNT)
    expect(await act(page, '#recovery-done')).toMatchObject({ recoveryCodes: '0' })
    expect(await shownRecoveryCodes(page)).toEqual([])
    const [credential, ...others] = await authenticator.credentials()
    expect(others).toEqual([])
    expect(credential).toMatchObject({ isResidentCredential: true, rpId: 'localhost' })

    expect(await act(page, '#logout')).toMatchObject({ outcome: 'ok', session: 'none' })
    const wire = await recordWire(page)
    const loggedIn = await act(page, '#passkey-login')
    expect(loggedIn).toMatchObject({ outcome: 'ok', session: 'active', tokenType: 'DPoP' })
    expect(loggedIn.acr).toBe('mfa')
    const amr = (loggedIn.amr ?? '').split(' ')
    expect(amr).toContain('mfa')
    expect(amr).not.toContain('pwd')
    expect(amr.filter((m) => m === 'hwk' || m === 'swk')).toHaveLength(1)

    const before = await originCount()
    const called = await act(page, '#call-stepup')
    expect(called).toMatchObject({ action: 'stepup', outcome: 'ok', httpStatus: '200' })
    expect(called.stepUp).toBe('none')
    expect(await originCount()).toBe(before + 1)
    await expect
      .poll(() => gatewayCalls(wire))
      .toEqual([
        'POST /auth/passkeys/login/options 200',
        'POST /auth/passkeys/login 200',
        'GET /api/stepup/hello 200',
      ])
  })

  it('asks a password-only session to step up on /api/stepup and retries once after the passkey', async () => {
    const { page } = await passwordSession('stepup')
    await addVirtualAuthenticator(page)
    // The first factor needs no step-up; the session stays a password session (acr pwd).
    expect(await act(page, '#passkey-add')).toMatchObject({ outcome: 'ok', acr: 'pwd' })
    const wire = await recordWire(page)

    const before = await originCount()
    const asked = await act(page, '#call-stepup')
    expect(asked).toMatchObject({
      action: 'stepup',
      outcome: 'pending',
      httpStatus: '401',
      stepUp: 'required',
      session: 'active',
    })
    // The page read the challenge's acr_values and max_age (RFC 9470 §3) from WWW-Authenticate.
    expect(JSON.parse((await page.locator('#output').textContent()) ?? '')).toEqual({
      acr_values: ['mfa'],
      max_age: 300,
    })
    expect(await page.locator('#factor-prompt').isVisible()).toBe(true)
    expect(await originCount()).toBe(before) // refused at the edge

    const passed = await act(page, '#prompt-passkey')
    expect(passed).toMatchObject({
      action: 'stepup',
      outcome: 'ok',
      httpStatus: '200',
      stepUp: 'passed',
      acr: 'mfa',
      session: 'active',
    })
    expect(await page.locator('#factor-prompt').isVisible()).toBe(false)
    expect(await originCount()).toBe(before + 1)
    await expect
      .poll(() => gatewayCalls(wire))
      .toEqual([
        'GET /api/stepup/hello 401',
        'POST /auth/step-up/options 200',
        'POST /auth/step-up 200',
        'GET /api/stepup/hello 200',
      ])

    // The step-up belongs to the session: a refreshed token still passes.
    expect(await act(page, '#refresh')).toMatchObject({ outcome: 'ok', acr: 'mfa' })
    expect(await act(page, '#call-stepup')).toMatchObject({ outcome: 'ok', httpStatus: '200' })
    expect(await originCount()).toBe(before + 2)
  })

  it('enrols an authenticator app, then asks for its code after the password', async () => {
    const { page, user } = await passwordSession('totp')
    const { secret, step } = await enrolTotp(page)
    const codes = await shownRecoveryCodes(page)
    expect(codes).toHaveLength(RECOVERY_CODE_COUNT)
    expect(await act(page, '#logout')).toMatchObject({ session: 'none', recoveryCodes: '0' })

    const asked = await submitLogin(page, user)
    expect(asked).toMatchObject({
      action: 'login',
      outcome: 'pending',
      httpStatus: '403',
      mfa: 'required',
      session: 'none',
    })
    expect((asked.mfaFactors ?? '').split(' ').sort()).toEqual(['recovery_code', 'totp'])
    expect(await page.locator('#factor-prompt').isVisible()).toBe(true)
    expect(await page.locator('#prompt-passkey').isVisible()).toBe(false)

    // A wrong code is refused and leaves the login waiting for another answer.
    const near = [-1, 0, 1, 2, 3].map((d) => totpCode(secret, step + d))
    const wrongCode = ['000000', '111111', '222222'].find((c) => !near.includes(c))!
    await page.fill('#prompt-form input[name=code]', wrongCode)
    expect(await act(page, '#prompt-code')).toMatchObject({
      action: 'mfa',
      outcome: 'error',
      httpStatus: '401',
      mfa: 'required',
      session: 'none',
    })

    // The next step's code: the confirmation used this step's, and each step works once.
    await page.fill('#prompt-form input[name=code]', totpCode(secret, step + 1))
    const done = await act(page, '#prompt-code')
    expect(done).toMatchObject({ action: 'mfa', outcome: 'ok', mfa: 'none', session: 'active' })
    expect(done.acr).toBe('mfa')
    expect((done.amr ?? '').split(' ')).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa']))
    expect(await page.locator('#factor-prompt').isVisible()).toBe(false)
    expect(await act(page, '#call-stepup')).toMatchObject({ outcome: 'ok', httpStatus: '200' })

    // No code or secret in the status attributes or the page once it is done.
    const html = await pageText(page)
    for (const code of codes) expect(html).not.toContain(code)
    const status = JSON.stringify(await readStatus(page))
    expect(status).not.toContain(totpCode(secret, step + 1))

    // A recovery code stands in for the app, once.
    expect(await act(page, '#logout')).toMatchObject({ session: 'none' })
    expect(await submitLogin(page, user)).toMatchObject({ mfa: 'required' })
    await page.fill('#prompt-form input[name=code]', codes[0]!)
    const recovered = await act(page, '#prompt-recovery')
    expect(recovered).toMatchObject({ action: 'mfa', outcome: 'ok', session: 'active', acr: 'mfa' })
    expect(await act(page, '#factors-list')).toMatchObject({ outcome: 'ok', factors: '1' })
    expect(await page.locator('#factor-summary').textContent()).toContain(
      `${RECOVERY_CODE_COUNT - 1} recovery code(s) left`,
    )
  })

  it('adds a passkey to an account with an authenticator app only after a step-up', async () => {
    const { page } = await passwordSession('second')
    const { secret, step } = await enrolTotp(page)
    await act(page, '#recovery-done')
    await addVirtualAuthenticator(page)
    const wire = await recordWire(page)

    // The session is a password session (acr pwd): a second factor needs a fresh MFA first.
    const asked = await act(page, '#passkey-add')
    expect(asked).toMatchObject({
      action: 'passkey-add',
      outcome: 'pending',
      httpStatus: '401',
      stepUp: 'required',
    })
    await page.fill('#prompt-form input[name=code]', totpCode(secret, step + 1))
    const added = await act(page, '#prompt-code')
    expect(added).toMatchObject({
      action: 'passkey-add',
      outcome: 'ok',
      stepUp: 'passed',
      acr: 'mfa',
      factors: '2',
      recoveryCodes: '0', // codes come with the first factor only
    })
    // Refused (at the options or the registration), stepped up with the code, then done anew.
    await expect
      .poll(() => gatewayCalls(wire).slice(-3))
      .toEqual([
        'POST /auth/passkeys/register/options 200',
        'POST /auth/passkeys/register 200',
        'GET /auth/factors 200',
      ])
    const calls = gatewayCalls(wire)
    expect(calls[0]).toMatch(/^POST \/auth\/passkeys\/register(\/options)? 401$/)
    expect(calls.filter((c) => c.startsWith('POST /auth/step-up'))).toEqual([
      'POST /auth/step-up 200',
    ])

    // Removing the app, with the MFA still fresh, needs no prompt.
    const totp = page.locator('#factor-list li[data-factor-type="totp"] button.remove-factor')
    const before = Number((await readStatus(page)).seq)
    await totp.click()
    await page.waitForFunction(
      (n) => Number(document.getElementById('status')?.dataset.seq) > n,
      before,
      { polling: 25 },
    )
    expect(await readStatus(page)).toMatchObject({
      action: 'factor-remove',
      outcome: 'ok',
      factors: '1',
    })
  })
})
