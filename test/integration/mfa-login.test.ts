// Login with a second factor, on the real Worker and the real local D1: TOTP enrolment and its
// confirmation, the password step answering 403 mfa_required with a single-use mfa_token, the
// second step with a TOTP code or a recovery code, each usable once, the throttle, the tokens'
// amr/acr/auth_time and their survival through refresh, and the admin reset across tenants.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  ADMIN_SCOPES,
  accessTokenOf,
  cookieToken,
  json,
  refreshWeb,
  testIp,
  webSession,
} from '../helpers/auth'
import { claimsOf, dpopKey, makeProof } from '../helpers/dpop'
import { captureLogs, installNetwork, send } from '../helpers/gateway'
import { accessClaims, codeFor, enrolTotp, mfaEnv, passwordLogin, secondStep } from '../helpers/mfa'

beforeEach(() => {
  installNetwork()
})
afterEach(() => vi.restoreAllMocks())

const gw = mfaEnv()
const now = () => Math.floor(Date.now() / 1000)

/** A user with an authenticator app enrolled; the confirming code's step is spent. */
async function userWithTotp() {
  const session = await webSession(gw)
  const totp = await enrolTotp(gw, session.access)
  return { ...session, totp }
}

async function mfaToken(res: Response): Promise<string> {
  expect(res.status).toBe(403)
  const body = (await res.json()) as { mfa_token: string }
  return body.mfa_token
}

describe('a password login', () => {
  it('without a second factor gets tokens saying so: amr pwd, acr pwd, auth_time now', async () => {
    const session = await webSession(gw)
    const claims = claimsOf(session.access)
    expect(claims.amr).toEqual(['pwd'])
    expect(claims.acr).toBe('pwd')
    expect(Math.abs((claims.auth_time as number) - now())).toBeLessThanOrEqual(5)
  })

  it('with a second factor answers 403 mfa_required with an mfa_token and no tokens', async () => {
    const { user } = await userWithTotp()
    const logs = captureLogs()
    const res = await passwordLogin(gw, user)
    expect(res.status).toBe(403)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(res.headers.getSetCookie()).toEqual([])
    const body = (await res.json()) as Record<string, unknown>
    expect(body.error).toBe('mfa_required')
    expect(body.access_token).toBeUndefined()
    expect(body.mfa_token).toMatch(/^ghc1\.[0-9a-f]{3}[A-Za-z0-9_-]{22}$/)
    expect(body.expires_in).toBe(300)
    expect(body.factors).toEqual(['totp', 'recovery_code'])
    expect(body.passkey_options).toBeUndefined()
    expect(logs.lastReason()).toBe('mfa_required')
    // The token is never logged.
    expect(JSON.stringify(logs.lines)).not.toContain(body.mfa_token as string)
  })

  it('still refuses a wrong password with the same answer as before (no factor hint)', async () => {
    const { user } = await userWithTotp()
    const res = await passwordLogin(gw, { ...user, password: 'wrong-password' })
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' })
  })
})

describe('the second step', () => {
  it('takes a fresh TOTP code and issues tokens with amr pwd otp mfa, acr mfa', async () => {
    const { user, totp } = await userWithTotp()
    const token = await mfaToken(await passwordLogin(gw, user))
    // The confirming code's time step is spent: the next step's code is within the window.
    const res = await secondStep(gw, { mfa_token: token, otp: await codeFor(totp.secret, 1) })
    expect(res.status).toBe(200)
    const claims = await accessClaims(res)
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa'])
    expect(claims.acr).toBe('mfa')
    expect(Math.abs((claims.auth_time as number) - now())).toBeLessThanOrEqual(5)
    expect(cookieToken(res)).toMatch(/^ghr1\./)
  })

  it('refuses a code whose time step was used already, even on a new mfa_token', async () => {
    const { user, totp } = await userWithTotp()
    const logs = captureLogs()
    const token = await mfaToken(await passwordLogin(gw, user))
    const res = await secondStep(gw, { mfa_token: token, otp: await codeFor(totp.secret, 0) })
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' })
    expect(logs.lastReason()).toBe('invalid_grant')
    const failed = logs.lines.find((l) => l.type === 'mfa_failed')
    expect(failed).toMatchObject({ flow: 'login', factor: 'otp', reason: 'wrong_answer' })
    // The code the step accepted once is refused the second time.
    const next = await codeFor(totp.secret, 1)
    expect((await secondStep(gw, { mfa_token: token, otp: next })).status).toBe(200)
    const again = await mfaToken(await passwordLogin(gw, user))
    expect((await secondStep(gw, { mfa_token: again, otp: next })).status).toBe(401)
  })

  it('refuses codes outside the ±1 step window', async () => {
    const { user, totp } = await userWithTotp()
    const token = await mfaToken(await passwordLogin(gw, user))
    for (const steps of [-2, 2, 3]) {
      const res = await secondStep(gw, { mfa_token: token, otp: await codeFor(totp.secret, steps) })
      expect(res.status, `step ${steps}`).toBe(401)
    }
  })

  it('consumes the mfa_token: the same token cannot log in twice', async () => {
    const { user, totp } = await userWithTotp()
    const token = await mfaToken(await passwordLogin(gw, user))
    expect(
      (await secondStep(gw, { mfa_token: token, otp: await codeFor(totp.secret, 1) })).status,
    ).toBe(200)
    const replay = await secondStep(gw, { mfa_token: token, recovery_code: totp.recoveryCodes![0] })
    expect(replay.status).toBe(401)
  })

  it('kills the mfa_token after 5 wrong answers', async () => {
    const { user, totp } = await userWithTotp()
    const token = await mfaToken(await passwordLogin(gw, user))
    for (let i = 0; i < 5; i++) {
      expect((await secondStep(gw, { mfa_token: token, otp: '000000' })).status).toBe(401)
    }
    const right = await secondStep(gw, { mfa_token: token, otp: await codeFor(totp.secret, 1) })
    expect(right.status).toBe(401)
  })

  it('is throttled per account and network like passwords: 429 with Retry-After', async () => {
    const { user, totp } = await userWithTotp()
    const ip = testIp()
    const logs = captureLogs()
    let token = await mfaToken(await passwordLogin(gw, user, ip))
    for (let i = 0; i < 5; i++) {
      expect((await secondStep(gw, { mfa_token: token, otp: '000000' }, ip)).status).toBe(401)
    }
    // That token is dead; a new one gets the sixth guess, and then the network is blocked.
    token = await mfaToken(await passwordLogin(gw, user, ip))
    expect((await secondStep(gw, { mfa_token: token, otp: '000000' }, ip)).status).toBe(401)
    const code = await codeFor(totp.secret, 1)
    const blocked = await secondStep(gw, { mfa_token: token, otp: code }, ip)
    expect(blocked.status).toBe(429)
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(logs.lines.some((l) => l.type === 'mfa_throttled')).toBe(true)
    // Refused before any check: the code was not spent, and the owner elsewhere is not blocked.
    const owner = await mfaToken(await passwordLogin(gw, user))
    expect((await secondStep(gw, { mfa_token: owner, otp: code })).status).toBe(200)
  })

  it('takes a recovery code once; amr says otp', async () => {
    const { user, totp } = await userWithTotp()
    expect(totp.recoveryCodes).toHaveLength(10)
    const code = totp.recoveryCodes![3] as string
    const logs = captureLogs()
    const res = await secondStep(gw, {
      mfa_token: await mfaToken(await passwordLogin(gw, user)),
      recovery_code: code.toUpperCase(),
    })
    expect(res.status).toBe(200)
    expect((await accessClaims(res)).amr).toEqual(['pwd', 'otp', 'mfa'])
    expect(logs.lines.some((l) => l.type === 'recovery_code_used')).toBe(true)
    const again = await secondStep(gw, {
      mfa_token: await mfaToken(await passwordLogin(gw, user)),
      recovery_code: code,
    })
    expect(again.status).toBe(401)
  })

  it('refuses a body with two answers or none', async () => {
    const { user, totp } = await userWithTotp()
    const token = await mfaToken(await passwordLogin(gw, user))
    const otp = await codeFor(totp.secret, 1)
    for (const body of [{ mfa_token: token }, { mfa_token: token, otp, recovery_code: 'x' }]) {
      expect((await secondStep(gw, body)).status).toBe(400)
    }
    expect((await secondStep(gw, { mfa_token: token, otp })).status).toBe(200)
  })
})

describe('tokens after a second factor', () => {
  it('keep amr, acr and auth_time through refresh; a refresh never upgrades them', async () => {
    const { user, totp } = await userWithTotp()
    const res = await secondStep(gw, {
      mfa_token: await mfaToken(await passwordLogin(gw, user)),
      otp: await codeFor(totp.secret, 1),
    })
    const first = await accessClaims(res)
    const refreshed = await refreshWeb(gw, cookieToken(res))
    expect(refreshed.status).toBe(200)
    const claims = claimsOf(await accessTokenOf(refreshed))
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa'])
    expect(claims.acr).toBe('mfa')
    expect(claims.auth_time).toBe(first.auth_time)

    const plain = await webSession(gw)
    const plainRefresh = await refreshWeb(gw, plain.refresh)
    const plainClaims = claimsOf(await accessTokenOf(plainRefresh))
    expect(plainClaims.amr).toEqual(['pwd'])
    expect(plainClaims.acr).toBe('pwd')
  })
})

describe('the admin reset', () => {
  it('removes every factor and recovery code inside the admin’s tenant only, ending sessions', async () => {
    const { user, access } = await userWithTotp()
    const other = await webSession(gw, ADMIN_SCOPES, 'other-tenant')
    const logs = captureLogs()
    const refused = await send(gw, `/admin/users/${user.id}/reset-factors`, {
      method: 'POST',
      token: other.access,
    })
    expect(refused.status).toBe(403)
    expect(logs.lastReason()).toBe('tenant_not_allowed')
    expect((await passwordLogin(gw, user)).status).toBe(403) // still needs its factor

    const admin = await webSession(gw, ADMIN_SCOPES, user.tenant)
    const reset = await send(gw, `/admin/users/${user.id}/reset-factors`, {
      method: 'POST',
      token: admin.access,
    })
    expect(reset.status).toBe(200)
    expect(await reset.json()).toEqual({ id: user.id, factors_removed: 1, sessions_ended: 1 })
    // The session that was open before the reset is gone: it cannot enrol a factor now.
    const enrol = await send(gw, '/auth/factors/totp', { ...json({}), token: access })
    expect(enrol.status).toBe(401)
    const event = logs.lines.find((l) => l.type === 'factors_reset')
    expect(event).toMatchObject({ user_id: user.id, actor: admin.user.id })
    const res = await passwordLogin(gw, user)
    expect(res.status).toBe(200)
    expect((await accessClaims(res)).amr).toEqual(['pwd'])
  })
})

describe('managing factors', () => {
  it('needs a fresh MFA to add a second factor, remove one or renew codes', async () => {
    const { access, totp, user } = await userWithTotp()
    // The session that enrolled the first factor is still a password session.
    for (const [path, init] of [
      ['/auth/factors/totp', json({})],
      ['/auth/factors/recovery-codes', json({})],
      [`/auth/factors/${totp.factorId}`, { method: 'DELETE' }],
    ] as const) {
      const res = await send(gw, path, { ...init, token: access })
      expect(res.status, path).toBe(401)
      const challenge = res.headers.get('www-authenticate') ?? ''
      expect(challenge).toContain('error="insufficient_user_authentication"')
      expect(challenge).toContain('acr_values="mfa"')
      expect(challenge).toContain('max_age=300')
    }
    const fresh = await secondStep(gw, {
      mfa_token: await mfaToken(await passwordLogin(gw, user)),
      otp: await codeFor(totp.secret, 1),
    })
    const mfaAccess = await accessTokenOf(fresh)
    const renewed = await send(gw, '/auth/factors/recovery-codes', {
      ...json({}),
      token: mfaAccess,
    })
    expect(renewed.status).toBe(200)
    const { recovery_codes: codes } = (await renewed.json()) as { recovery_codes: string[] }
    expect(codes).toHaveLength(10)
    // The old codes stopped working.
    const old = await secondStep(gw, {
      mfa_token: await mfaToken(await passwordLogin(gw, user)),
      recovery_code: totp.recoveryCodes![0],
    })
    expect(old.status).toBe(401)
    const list = await send(gw, '/auth/factors', { token: mfaAccess })
    expect(await list.json()).toMatchObject({
      factors: [{ id: totp.factorId, type: 'totp' }],
      recovery_codes_remaining: 10,
    })
    const removed = await send(gw, `/auth/factors/${totp.factorId}`, {
      method: 'DELETE',
      token: mfaAccess,
    })
    expect(removed.status).toBe(204)
    // Without a factor left the recovery codes go too.
    const after = await send(gw, '/auth/factors', { token: mfaAccess })
    expect(await after.json()).toEqual({ factors: [], recovery_codes_remaining: 0 })
    expect((await passwordLogin(gw, user)).status).toBe(200)
  })

  it('refuses a wrong confirmation code and an unknown factor id', async () => {
    const session = await webSession(gw)
    const started = await send(gw, '/auth/factors/totp', { ...json({}), token: session.access })
    const body = (await started.json()) as {
      factor_id: string
      secret: string
      otpauth_uri: string
    }
    expect(body.otpauth_uri).toMatch(/^otpauth:\/\/totp\/.+\?secret=[A-Z2-7]+&issuer=/)
    const wrong = await send(gw, '/auth/factors/totp/confirm', {
      ...json({ factor_id: body.factor_id, code: '000000' }),
      token: session.access,
    })
    expect(wrong.status).toBe(401)
    const unknown = await send(gw, '/auth/factors/totp/confirm', {
      ...json({ factor_id: 'fac_0000', code: await codeFor(body.secret) }),
      token: session.access,
    })
    expect(unknown.status).toBe(401)
    // Still pending: a password login is not asked for a second factor.
    expect((await passwordLogin(gw, session.user)).status).toBe(200)
  })
})

describe('the second step of a bound or browser login', () => {
  it('needs a proof by the key the password step used; the tokens are bound to it', async () => {
    const { user, totp } = await userWithTotp()
    const key = await dpopKey()
    const started = await send(
      gw,
      '/auth/login',
      json(
        {
          tenant: user.tenant,
          username: user.username,
          password: user.password,
          client: 'mobile',
          device_id: 'd1',
        },
        { dpop: await makeProof(key, { htu: '/auth/login' }), 'cf-connecting-ip': testIp() },
      ),
    )
    const token = await mfaToken(started)
    const code = await codeFor(totp.secret, 1)
    const logs = captureLogs()
    const unproven = await send(gw, '/auth/login/mfa', json({ mfa_token: token, otp: code }))
    expect(unproven.status).toBe(400)
    expect(logs.lastReason()).toBe('invalid_dpop_proof')
    const other = await dpopKey()
    const wrongKey = await send(
      gw,
      '/auth/login/mfa',
      json(
        { mfa_token: token, otp: code },
        { dpop: await makeProof(other, { htu: '/auth/login/mfa' }) },
      ),
    )
    expect(wrongKey.status).toBe(400) // a token endpoint answers 400, no challenge
    expect(logs.lastReason()).toBe('dpop_binding_mismatch')
    const res = await send(
      gw,
      '/auth/login/mfa',
      json(
        { mfa_token: token, otp: code },
        { dpop: await makeProof(key, { htu: '/auth/login/mfa' }) },
      ),
    )
    expect(res.status).toBe(200)
    const body = (await res.json()) as {
      access_token: string
      token_type: string
      refresh_token: string
    }
    expect(body.token_type).toBe('DPoP')
    expect(claimsOf(body.access_token).cnf).toEqual({ jkt: key.jkt })
    expect(body.refresh_token).toMatch(/^ghr1\./)
  })

  it('refuses a web second step from a page on a foreign origin (login CSRF)', async () => {
    const { user, totp } = await userWithTotp()
    const token = await mfaToken(await passwordLogin(gw, user))
    const logs = captureLogs()
    const res = await send(
      gw,
      '/auth/login/mfa',
      json(
        { mfa_token: token, otp: await codeFor(totp.secret, 1) },
        { origin: 'https://evil.test' },
      ),
    )
    expect(res.status).toBe(403)
    expect(logs.lastReason()).toBe('origin_not_allowed')
    expect(res.headers.getSetCookie()).toEqual([])
  })
})
