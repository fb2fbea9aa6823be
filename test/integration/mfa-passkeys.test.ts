// Passkeys on the real Worker with a software authenticator (real keys, real signatures):
// registration on one's account, login with the passkey alone (discoverable, user verification
// required), a passkey as the second factor after a password, and every refusal — another
// origin, another RP ID, another challenge, a replayed challenge, a regressed counter, no user
// verification, another tenant — with its logged reason and no tokens.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createTestUser, json, testIp, webSession, type WebSession } from '../helpers/auth'
import { claimsOf } from '../helpers/dpop'
import { captureLogs, installNetwork, send } from '../helpers/gateway'
import { mfaEnv, passwordLogin, PASSKEY_ORIGIN, RP_ID, secondStep } from '../helpers/mfa'
import { SoftAuthenticator, type SoftOverrides } from '../helpers/soft-authenticator'

beforeEach(() => {
  installNetwork()
})
afterEach(() => vi.restoreAllMocks())

const gw = mfaEnv()

type CreationOptions = Parameters<SoftAuthenticator['register']>[0]
type RequestOptions = Parameters<SoftAuthenticator['authenticate']>[0] & {
  allowCredentials?: unknown[]
  userVerification?: string
}

/** Registers a new passkey on the session's account; returns the answer. */
async function register(
  session: WebSession,
  authenticator: SoftAuthenticator,
  o: SoftOverrides = {},
) {
  const res = await send(gw, '/auth/passkeys/register/options', {
    ...json({}),
    token: session.access,
  })
  expect(res.status).toBe(200)
  const { challenge_token, options } = (await res.json()) as {
    challenge_token: string
    options: CreationOptions & {
      rp: { id: string }
      authenticatorSelection: Record<string, unknown>
    }
  }
  expect(options.rp.id).toBe(RP_ID)
  expect(options.authenticatorSelection.residentKey).toBe('required')
  const credential = await authenticator.register(options, PASSKEY_ORIGIN, o)
  return send(gw, '/auth/passkeys/register', {
    ...json({ challenge_token, credential, label: 'Laptop' }),
    token: session.access,
  })
}

async function passkeyOptions(tenant = 'acme') {
  const res = await send(gw, '/auth/passkeys/login/options', json({ tenant }))
  expect(res.status).toBe(200)
  return (await res.json()) as { challenge_token: string; options: RequestOptions }
}

function passkeyLogin(body: Record<string, unknown>) {
  return send(
    gw,
    '/auth/passkeys/login',
    json(body, { origin: PASSKEY_ORIGIN, 'cf-connecting-ip': testIp() }),
  )
}

async function userWithPasskey(o: { backedUp?: boolean } = {}) {
  const session = await webSession(gw)
  const authenticator = await SoftAuthenticator.create({ backedUp: o.backedUp ?? false })
  const res = await register(session, authenticator)
  expect(res.status).toBe(200)
  const body = (await res.json()) as { factor_id: string; recovery_codes?: string[] }
  return { session, authenticator, body }
}

describe('registering a passkey', () => {
  it('stores an active factor; the first factor comes with 10 recovery codes', async () => {
    const { session, body } = await userWithPasskey()
    expect(body.factor_id).toMatch(/^fac_[0-9a-f]{32}$/)
    expect(body.recovery_codes).toHaveLength(10)
    const list = await send(gw, '/auth/factors', { token: session.access })
    expect(await list.json()).toMatchObject({
      factors: [{ id: body.factor_id, type: 'passkey', label: 'Laptop' }],
      recovery_codes_remaining: 10,
    })
  })

  for (const [name, overrides, reason] of [
    ['from another origin', { origin: 'https://evil.test' }, 'wrong_origin'],
    ['for another RP ID', { rpId: 'evil.test' }, 'wrong_rp_id'],
    ['answering another challenge', { challenge: 'AAAAAAAAAAAAAAAAAAAAAA' }, 'wrong_challenge'],
  ] as const) {
    it(`refuses an attestation ${name}`, async () => {
      const session = await webSession(gw)
      const logs = captureLogs()
      const res = await register(session, await SoftAuthenticator.create(), overrides)
      expect(res.status).toBe(401)
      const line = [...logs.lines].reverse().find((l) => l.event === 'request')
      expect(line?.reason).toBe('invalid_grant')
      expect(String(line?.detail)).toContain(reason)
      const list = await send(gw, '/auth/factors', { token: session.access })
      expect(((await list.json()) as { factors: unknown[] }).factors).toEqual([])
    })
  }
})

describe('logging in with a passkey alone', () => {
  it('issues tokens with amr hwk mfa for a device-bound passkey, swk for a synced one', async () => {
    for (const [backedUp, method] of [
      [false, 'hwk'],
      [true, 'swk'],
    ] as const) {
      const { session, authenticator } = await userWithPasskey({ backedUp })
      const { challenge_token, options } = await passkeyOptions()
      // Discoverable: the options name no credential, so they reveal no account.
      expect(options.allowCredentials ?? []).toEqual([])
      expect(options.userVerification).toBe('required')
      const res = await passkeyLogin({
        challenge_token,
        tenant: 'acme',
        credential: await authenticator.authenticate(options, PASSKEY_ORIGIN),
      })
      expect(res.status).toBe(200)
      const body = (await res.json()) as { access_token: string }
      const claims = claimsOf(body.access_token)
      expect(claims.sub).toBe(session.user.id)
      expect(claims.amr).toEqual([method, 'mfa'])
      expect(claims.acr).toBe('mfa')
    }
  })

  for (const [name, overrides, reason] of [
    ['from another origin', { origin: 'https://evil.test' }, 'wrong_origin'],
    ['for another RP ID', { rpId: 'evil.test' }, 'wrong_rp_id'],
    ['for another challenge', { challenge: 'AAAAAAAAAAAAAAAAAAAAAA' }, 'wrong_challenge'],
    ['without user verification', { userVerified: false }, 'user_not_verified'],
  ] as const) {
    it(`refuses an assertion ${name}`, async () => {
      const { authenticator } = await userWithPasskey()
      const { challenge_token, options } = await passkeyOptions()
      const logs = captureLogs()
      const res = await passkeyLogin({
        challenge_token,
        tenant: 'acme',
        credential: await authenticator.authenticate(options, PASSKEY_ORIGIN, overrides),
      })
      expect(res.status).toBe(401)
      expect(await res.json()).toMatchObject({ error: 'invalid_grant' })
      expect(logs.lines.find((l) => l.type === 'mfa_failed')).toMatchObject({
        flow: 'passkey_login',
        reason,
      })
    })
  }

  it('refuses a replayed challenge and a regressed counter (flagged as a security event)', async () => {
    const { authenticator } = await userWithPasskey()
    const first = await passkeyOptions()
    const assertion = await authenticator.authenticate(first.options, PASSKEY_ORIGIN)
    expect(
      (
        await passkeyLogin({
          challenge_token: first.challenge_token,
          tenant: 'acme',
          credential: assertion,
        })
      ).status,
    ).toBe(200)
    const replay = await passkeyLogin({
      challenge_token: first.challenge_token,
      tenant: 'acme',
      credential: assertion,
    })
    expect(replay.status).toBe(401)

    const second = await passkeyOptions()
    const logs = captureLogs()
    const cloned = await authenticator.authenticate(second.options, PASSKEY_ORIGIN, {
      counter: authenticator.counter - 1,
    })
    const res = await passkeyLogin({
      challenge_token: second.challenge_token,
      tenant: 'acme',
      credential: cloned,
    })
    expect(res.status).toBe(401)
    expect(logs.lines.some((l) => l.type === 'passkey_counter_regressed')).toBe(true)
  })

  it('refuses a passkey of another tenant’s user and a credential nobody registered', async () => {
    const { authenticator } = await userWithPasskey()
    const other = await passkeyOptions('other-tenant')
    const res = await passkeyLogin({
      challenge_token: other.challenge_token,
      tenant: 'other-tenant',
      credential: await authenticator.authenticate(other.options, PASSKEY_ORIGIN),
    })
    expect(res.status).toBe(401)
    const stranger = await SoftAuthenticator.create()
    const user = await createTestUser()
    stranger.userHandle = btoa(user.id).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')
    const options = await passkeyOptions()
    const unknown = await passkeyLogin({
      challenge_token: options.challenge_token,
      tenant: 'acme',
      credential: await stranger.authenticate(options.options, PASSKEY_ORIGIN),
    })
    expect(unknown.status).toBe(401)
  })
})

describe('the passkey login ceremony', () => {
  it('is counted per client network: the 22nd unfinished one in a row waits (429)', async () => {
    const ip = testIp()
    const ask = () =>
      send(gw, '/auth/passkeys/login/options', json({ tenant: 'acme' }, { 'cf-connecting-ip': ip }))
    for (let i = 0; i < 21; i++) expect((await ask()).status).toBe(200)
    const blocked = await ask()
    expect(blocked.status).toBe(429)
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0)
    // Another network is not affected.
    expect((await passkeyOptions()).challenge_token).toMatch(/^ghc1\./)
  })

  it('refuses an assertion whose user handle names no placed user, before any lookup', async () => {
    const authenticator = await SoftAuthenticator.create()
    authenticator.userHandle = btoa('legacy-user-id').replace(/=+$/, '')
    const { challenge_token, options } = await passkeyOptions()
    const logs = captureLogs()
    const res = await passkeyLogin({
      challenge_token,
      tenant: 'acme',
      credential: await authenticator.authenticate(options, PASSKEY_ORIGIN),
    })
    expect(res.status).toBe(401)
    const line = [...logs.lines].reverse().find((l) => l.event === 'request')
    expect(line?.detail).toBe('assertion names no placed user')
  })
})

describe('a passkey as the second factor', () => {
  it('finishes a password login: amr pwd hwk mfa', async () => {
    const { session, authenticator } = await userWithPasskey()
    const first = await passwordLogin(gw, session.user)
    expect(first.status).toBe(403)
    const body = (await first.json()) as {
      mfa_token: string
      factors: string[]
      passkey_options: RequestOptions
    }
    expect(body.factors).toEqual(['passkey', 'recovery_code'])
    expect(body.passkey_options.allowCredentials).toHaveLength(1)
    const res = await secondStep(gw, {
      mfa_token: body.mfa_token,
      passkey: await authenticator.authenticate(body.passkey_options, PASSKEY_ORIGIN),
    })
    expect(res.status).toBe(200)
    expect(claimsOf(((await res.json()) as { access_token: string }).access_token).amr).toEqual([
      'pwd',
      'hwk',
      'mfa',
    ])
  })
})
