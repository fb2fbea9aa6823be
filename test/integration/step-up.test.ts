// Step-up at the edge (RFC 9470), on the real Worker: a route demanding acr "mfa" and an auth age
// refuses a token that falls short with 401 insufficient_user_authentication naming the level,
// logs why and never reaches the origin; POST /auth/step-up with a second factor gives the same
// session a token that passes, and the session keeps it through refresh. Tokens signed by a
// trusted third-party key isolate the edge check: only acr or auth_time is wrong.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { accessTokenOf, createTestUser, json, refreshWeb, webSession } from '../helpers/auth'
import { claimsOf, dpopKey, makeProof } from '../helpers/dpop'
import {
  captureLogs,
  expectRefused,
  installNetwork,
  send,
  testEnv,
  type Network,
} from '../helpers/gateway'
import { makeKey, type TestKey } from '../helpers/keys'
import { codeFor, enrolTotp, mfaConfig, mfaEnv, MFA_MAX_AGE, PASSKEY_ORIGIN } from '../helpers/mfa'
import { SoftAuthenticator } from '../helpers/soft-authenticator'
import { mint, nowSeconds } from '../helpers/tokens'

let net: Network
beforeEach(() => {
  net = installNetwork()
})
afterEach(() => vi.restoreAllMocks())

const gw = mfaEnv()

function expectStepUpChallenge(res: Response, scheme = 'Bearer') {
  const challenge = res.headers.get('www-authenticate') ?? ''
  expect(challenge.startsWith(`${scheme} realm="gatehouse"`)).toBe(true)
  expect(challenge).toContain('error="insufficient_user_authentication"')
  expect(challenge).toContain('acr_values="mfa"')
  expect(challenge).toContain(`max_age=${MFA_MAX_AGE}`)
}

/** The config's token routes, each accepting every configured issuer (self only by default). */
function acceptingAll(config: Record<string, unknown>): Record<string, unknown>[] {
  const names = (config.issuers as { issuer: string }[]).map((i) => i.issuer)
  return (config.routes as Record<string, unknown>[]).map((route) =>
    route.auth === 'token' ? { ...route, issuers: [...names, 'https://idp.step-up.test'] } : route,
  )
}

describe('a step-up route at the edge', () => {
  const issuer = 'https://idp.step-up.test'
  let key: TestKey
  let env: ReturnType<typeof testEnv>
  beforeEach(async () => {
    key = await makeKey('EdDSA')
    net.jwks.set(issuer, [key])
    const config = mfaConfig()
    const issuers = config.issuers as Record<string, unknown>[]
    env = testEnv({
      ...config,
      issuers: [
        ...issuers,
        {
          issuer,
          jwks_uri: `${issuer}/jwks.json`,
          audiences: ['api'],
          algorithms: ['EdDSA'],
          tenant: 'acme',
        },
      ],
      routes: acceptingAll(config),
    })
  })
  const token = (claims: Record<string, unknown>) =>
    mint(key, { issuer, scope: 'echo:read', claims })

  it('passes acr mfa authenticated within max_auth_age', async () => {
    const res = await send(env, '/api/stepup/x', {
      token: await token({ acr: 'mfa', auth_time: nowSeconds() - 100 }),
    })
    expect(res.status).toBe(200)
    expect(net.originCalls).toHaveLength(1)
  })

  for (const [name, claims, detail] of [
    ['acr pwd', { acr: 'pwd', auth_time: nowSeconds() - 10 }, 'acr pwd is not accepted'],
    ['no acr', { auth_time: nowSeconds() - 10 }, 'the token has no acr'],
    ['auth_time too old', { acr: 'mfa', auth_time: nowSeconds() - 400 }, 'authenticated'],
    ['no auth_time', { acr: 'mfa' }, 'the token has no auth_time'],
  ] as const) {
    it(`refuses ${name}: 401 with the level in the challenge, origin untouched`, async () => {
      const logs = captureLogs()
      const res = await expectRefused(
        net,
        env,
        '/api/stepup/x',
        { token: await token(claims) },
        401,
      )
      expectStepUpChallenge(res)
      expect(await res.json()).toMatchObject({ error: 'insufficient_user_authentication' })
      expect(logs.lastReason()).toBe('insufficient_user_authentication')
      const line = [...logs.lines].reverse().find((l) => l.event === 'request')
      expect(String(line?.detail)).toContain(detail)
      expect(logs.lines.some((l) => l.type === 'step_up_required')).toBe(true)
    })
  }

  it('leaves routes without a level alone', async () => {
    const res = await send(env, '/api/echo/x', { token: await token({ acr: 'pwd' }) })
    expect(res.status).toBe(200)
  })

  it('applies step_up_scopes where a route requires the scope', async () => {
    const config = mfaConfig({
      step_up_scopes: { 'echo:write': { acr_values: ['mfa'] } },
    })
    const issuers = config.issuers as Record<string, unknown>[]
    const scoped = testEnv({
      ...config,
      issuers: [
        ...issuers,
        {
          issuer,
          jwks_uri: `${issuer}/jwks.json`,
          audiences: ['api'],
          algorithms: ['EdDSA'],
          tenant: 'acme',
        },
      ],
      routes: acceptingAll(config),
    })
    const pwd = await mint(key, { issuer, scope: 'echo:read echo:write', claims: { acr: 'pwd' } })
    // GET needs echo:read only: no level; POST needs echo:write: acr mfa.
    expect((await send(scoped, '/api/echo/x', { token: pwd })).status).toBe(200)
    const res = await expectRefused(net, scoped, '/api/echo/x', { method: 'POST', token: pwd }, 401)
    expect(res.headers.get('www-authenticate')).toContain('acr_values="mfa"')
    expect(res.headers.get('www-authenticate')).not.toContain('max_age')
  })
})

describe('POST /auth/step-up', () => {
  it('with a TOTP code gives the same session a token that passes, kept through refresh', async () => {
    const session = await webSession(gw)
    const totp = await enrolTotp(gw, session.access)
    const refused = await expectRefused(net, gw, '/api/stepup/x', { token: session.access }, 401)
    expectStepUpChallenge(refused)
    const logs = captureLogs()
    const res = await send(gw, '/auth/step-up', {
      ...json({ otp: await codeFor(totp.secret, 1) }),
      token: session.access,
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(res.headers.getSetCookie()).toEqual([])
    const body = (await res.json()) as Record<string, unknown>
    expect(body.token_type).toBe('Bearer')
    expect(body.refresh_token).toBeUndefined()
    const claims = claimsOf(body.access_token as string)
    expect(claims.sid).toBe(session.sid)
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa'])
    expect(claims.acr).toBe('mfa')
    expect(logs.lines.some((l) => l.type === 'step_up_succeeded')).toBe(true)
    const passed = await send(gw, '/api/stepup/x', { token: body.access_token as string })
    expect(passed.status).toBe(200)
    expect(net.originCalls).toHaveLength(1)
    // The session remembers: a refresh carries the step-up's amr and auth_time.
    const refreshed = await refreshWeb(gw, session.refresh)
    const again = claimsOf(await accessTokenOf(refreshed))
    expect(again.amr).toEqual(['pwd', 'otp', 'mfa'])
    expect(again.auth_time).toBe(claims.auth_time)
  })

  it('with a passkey (options, then the assertion) names the key in amr', async () => {
    const session = await webSession(gw)
    const authenticator = await SoftAuthenticator.create()
    const options = await send(gw, '/auth/passkeys/register/options', {
      ...json({}),
      token: session.access,
    })
    const { challenge_token, options: creation } = (await options.json()) as {
      challenge_token: string
      options: Parameters<SoftAuthenticator['register']>[0]
    }
    const registered = await send(gw, '/auth/passkeys/register', {
      ...json({
        challenge_token,
        credential: await authenticator.register(creation, PASSKEY_ORIGIN),
      }),
      token: session.access,
    })
    expect(registered.status).toBe(200)
    const start = await send(gw, '/auth/step-up/options', { ...json({}), token: session.access })
    expect(start.status).toBe(200)
    const offer = (await start.json()) as {
      factors: string[]
      challenge_token: string
      passkey_options: Parameters<SoftAuthenticator['authenticate']>[0]
    }
    expect(offer.factors).toEqual(['passkey', 'recovery_code'])
    const assertion = await authenticator.authenticate(offer.passkey_options, PASSKEY_ORIGIN)
    const res = await send(gw, '/auth/step-up', {
      ...json({ challenge_token: offer.challenge_token, passkey: assertion }),
      token: session.access,
    })
    expect(res.status).toBe(200)
    expect(claimsOf(await accessTokenOf(res)).amr).toEqual(['pwd', 'hwk', 'mfa'])
    // The challenge was single-use.
    const replay = await send(gw, '/auth/step-up', {
      ...json({ challenge_token: offer.challenge_token, passkey: assertion }),
      token: session.access,
    })
    expect(replay.status).toBe(401)
  })

  it('keeps a DPoP session bound: the challenge uses the DPoP scheme, the new token keeps cnf', async () => {
    const key = await dpopKey()
    const user = await createTestUser()
    const login = await send(
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
        { dpop: await makeProof(key, { htu: '/auth/login' }) },
      ),
    )
    expect(login.status).toBe(200)
    const access = await accessTokenOf(login)
    const dpop = (method: string, htu: string) =>
      makeProof(key, { htm: method, htu, accessToken: access })
    const totpStart = await send(gw, '/auth/factors/totp', {
      ...json({}),
      headers: {
        'content-type': 'application/json',
        authorization: `DPoP ${access}`,
        dpop: await dpop('POST', '/auth/factors/totp'),
      },
    })
    expect(totpStart.status).toBe(200)
    const { factor_id, secret } = (await totpStart.json()) as { factor_id: string; secret: string }
    const confirm = await send(gw, '/auth/factors/totp/confirm', {
      ...json({ factor_id, code: await codeFor(secret) }),
      headers: {
        'content-type': 'application/json',
        authorization: `DPoP ${access}`,
        dpop: await dpop('POST', '/auth/factors/totp/confirm'),
      },
    })
    expect(confirm.status).toBe(200)
    const refused = await expectRefused(
      net,
      gw,
      '/api/stepup/x',
      {
        headers: { authorization: `DPoP ${access}`, dpop: await dpop('GET', '/api/stepup/x') },
      },
      401,
    )
    expectStepUpChallenge(refused, 'DPoP')
    const res = await send(gw, '/auth/step-up', {
      ...json({ otp: await codeFor(secret, 1) }),
      headers: {
        'content-type': 'application/json',
        authorization: `DPoP ${access}`,
        dpop: await dpop('POST', '/auth/step-up'),
      },
    })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { access_token: string; token_type: string }
    expect(body.token_type).toBe('DPoP')
    expect(claimsOf(body.access_token).cnf).toEqual({ jkt: key.jkt })
  })

  it('accepts one TOTP code once even when two step-ups race with it', async () => {
    const session = await webSession(gw)
    const totp = await enrolTotp(gw, session.access)
    const code = await codeFor(totp.secret, 1)
    const attempt = () =>
      send(gw, '/auth/step-up', { ...json({ otp: code }), token: session.access })
    const statuses = (await Promise.all([attempt(), attempt(), attempt()])).map((r) => r.status)
    expect(statuses.sort()).toEqual([200, 401, 401])
  })

  it('refuses a wrong code (401, origin untouched) and an account without factors (403)', async () => {
    const session = await webSession(gw)
    const none = await send(gw, '/auth/step-up', {
      ...json({ otp: '123456' }),
      token: session.access,
    })
    expect(none.status).toBe(403)
    expect(await none.json()).toMatchObject({ error: 'mfa_enrollment_required' })
    await enrolTotp(gw, session.access)
    const logs = captureLogs()
    const wrong = await send(gw, '/auth/step-up', {
      ...json({ otp: '000000' }),
      token: session.access,
    })
    expect(wrong.status).toBe(401)
    expect(logs.lastReason()).toBe('invalid_grant')
    expect(logs.lines.find((l) => l.type === 'mfa_failed')).toMatchObject({ flow: 'step_up' })
    expect(net.originCalls).toHaveLength(0)
  })

  it('refuses a revoked session', async () => {
    const session = await webSession(gw)
    const totp = await enrolTotp(gw, session.access)
    const out = await send(gw, '/auth/logout', {
      method: 'POST',
      headers: {
        origin: 'https://app.test',
        cookie: `__Secure-gatehouse_refresh=${session.refresh}`,
      },
    })
    expect(out.status).toBeLessThan(300)
    const logs = captureLogs()
    const res = await send(gw, '/auth/step-up', {
      ...json({ otp: await codeFor(totp.secret, 1) }),
      token: session.access,
    })
    expect(res.status).toBe(401)
    // Refused at the token's revocation check, before any factor is looked at.
    expect(logs.lastReason()).toBe('revoked')
    expect(logs.lines.some((l) => l.type === 'mfa_failed')).toBe(false)
  })
})
