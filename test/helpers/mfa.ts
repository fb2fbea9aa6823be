// Helpers for the second-factor tests: a config with a WebAuthn relying party and a step-up
// route, TOTP codes computed for an enrolled secret, and the enrolment calls every test repeats.

import { expect } from 'vitest'
import { base32Decode, totpCode, TOTP_PERIOD_SECONDS } from '../../src/factors/totp'
import { APP_ORIGIN, authConfig, json, testIp, type TestUser } from './auth'
import { ORIGIN, send, testEnv } from './gateway'
import { claimsOf } from './dpop'

export const RP_ID = 'app.test'
export const PASSKEY_ORIGIN = APP_ORIGIN
export const MFA_MAX_AGE = 300

/** The auth test config with a relying party and /api/stepup (acr mfa, 300 s), plus `extra`. */
export function mfaConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const config = authConfig({
    mfa: { rp_id: RP_ID, rp_name: 'Gatehouse test', origins: [PASSKEY_ORIGIN] },
  })
  const routes = config.routes as Record<string, unknown>[]
  routes.push({
    prefix: '/api/stepup',
    origin: ORIGIN,
    origin_secret: 'ORIGIN_SECRET_TEST',
    auth: 'token',
    tier: 'critical',
    read_scopes: ['echo:read'],
    acr_values: ['mfa'],
    max_auth_age_seconds: MFA_MAX_AGE,
  })
  return { ...config, ...extra }
}

export function mfaEnv(extra: Record<string, unknown> = {}) {
  return testEnv(mfaConfig(extra))
}

export type Gateway = ReturnType<typeof mfaEnv>

const nowSeconds = () => Math.floor(Date.now() / 1000)

/** The TOTP code of a base32 secret `steps` periods from now. */
export async function codeFor(secret: string, steps = 0): Promise<string> {
  const bytes = base32Decode(secret)
  if (bytes === null) throw new Error('not a base32 secret')
  return totpCode(bytes, Math.floor(nowSeconds() / TOTP_PERIOD_SECONDS) + steps)
}

export interface EnrolledTotp {
  readonly factorId: string
  readonly secret: string
  readonly recoveryCodes: string[] | undefined
}

/** Enrols and confirms an authenticator app with `access`; the confirming code is this step's. */
export async function enrolTotp(gw: Gateway, access: string): Promise<EnrolledTotp> {
  const started = await send(gw, '/auth/factors/totp', { ...json({}), token: access })
  expect(started.status).toBe(200)
  const body = (await started.json()) as { factor_id: string; secret: string }
  const confirmed = await send(gw, '/auth/factors/totp/confirm', {
    ...json({ factor_id: body.factor_id, code: await codeFor(body.secret) }),
    token: access,
  })
  expect(confirmed.status).toBe(200)
  const done = (await confirmed.json()) as { recovery_codes?: string[] }
  return { factorId: body.factor_id, secret: body.secret, recoveryCodes: done.recovery_codes }
}

/** A web password login from its own network; returns the raw answer. */
export function passwordLogin(gw: Gateway, user: TestUser, ip = testIp()): Promise<Response> {
  return send(
    gw,
    '/auth/login',
    json(
      { tenant: user.tenant, username: user.username, password: user.password },
      { origin: APP_ORIGIN, 'cf-connecting-ip': ip },
    ),
  )
}

/** The second step of a login. */
export function secondStep(
  gw: Gateway,
  answer: Record<string, unknown>,
  ip = testIp(),
): Promise<Response> {
  return send(gw, '/auth/login/mfa', json(answer, { origin: APP_ORIGIN, 'cf-connecting-ip': ip }))
}

/** The claims of the access token in a token answer. */
export async function accessClaims(res: Response): Promise<Record<string, unknown>> {
  const body = (await res.clone().json()) as { access_token: string }
  return claimsOf(body.access_token)
}
