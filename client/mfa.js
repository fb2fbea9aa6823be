// Second factors in gatehouse/client (issue #17): the two answers that ask for more than a
// password — a login's 403 `mfa_required` and a resource's 401 `insufficient_user_authentication`
// (RFC 9470) — as typed errors, and the factor-management calls (/auth/factors, passkey
// registration, recovery codes) over the client's authorized requests. The mfa_token of a
// pending login stays inside the client: the errors carry only what an app shows.

import { runCeremony } from './webauthn.js'
import { GatehouseError, errorCode } from './wire.js'

/** RFC 9110 §11.2 auth-param: name=token or name="quoted string". */
const AUTH_PARAM = /([A-Za-z0-9_.-]+)=("(?:[^"\\]|\\.)*"|[^\s,]*)/g
const STEP_UP_ERROR = 'insufficient_user_authentication'

/** A password login that needs a second factor: finish it with `completeMfa`. */
export class MfaRequiredError extends GatehouseError {
  /**
   * @param {readonly string[]} factors what the user may answer with (`totp`, `passkey`,
   *   `recovery_code`)
   * @param {number} expiresAt when the pending login expires, epoch milliseconds (client clock)
   */
  constructor(factors, expiresAt) {
    super(403, 'mfa_required')
    this.name = 'MfaRequiredError'
    this.factors = factors
    this.expiresAt = expiresAt
  }
}

/** The gateway wants a stronger or fresher authentication for this request: `stepUp`, retry. */
export class StepUpRequiredError extends GatehouseError {
  /**
   * @param {readonly string[]} acrValues the `acr_values` the challenge names (e.g. `mfa`)
   * @param {number | null} maxAge the `max_age` it names, seconds, or null
   */
  constructor(acrValues, maxAge) {
    super(401, STEP_UP_ERROR)
    this.name = 'StepUpRequiredError'
    this.acrValues = acrValues
    this.maxAge = maxAge
  }
}

/**
 * The auth-params of a WWW-Authenticate value (every challenge's, merged; the first wins).
 * @param {string} header
 * @returns {Record<string, string>}
 */
function authParams(header) {
  /** @type {Record<string, string>} */
  const params = {}
  for (const [, name, raw] of header.matchAll(AUTH_PARAM)) {
    const key = /** @type {string} */ (name).toLowerCase()
    const value = /** @type {string} */ (raw)
    if (key in params) continue
    params[key] = value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value
  }
  return params
}

/**
 * A step-up challenge (RFC 9470 §3) read from a 401's WWW-Authenticate, or null when the answer
 * is not one. `body` is the parsed answer, for a caller that cannot read the header (CORS).
 * @param {Response} res
 * @param {unknown} [body]
 * @returns {StepUpRequiredError | null}
 */
export function stepUpChallenge(res, body) {
  if (res.status !== 401) return null
  const params = authParams(res.headers.get('www-authenticate') ?? '')
  const error = params.error ?? /** @type {{ error?: unknown } | null} */ (body)?.error
  if (error !== STEP_UP_ERROR) return null
  const acrValues = (params.acr_values ?? '').split(' ').filter((v) => v !== '')
  const maxAge = /^\d+$/.test(params.max_age ?? '') ? Number(params.max_age) : null
  return new StepUpRequiredError(acrValues, maxAge)
}

/**
 * The request body for one second-factor answer; `passkey` is the credential JSON.
 * @param {import('./index.js').FactorAnswer} answer
 * @param {Record<string, unknown> | null} passkey
 * @returns {Record<string, unknown>}
 */
export function factorBody(answer, passkey) {
  if ('otp' in answer && typeof answer.otp === 'string') return { otp: answer.otp }
  if ('recoveryCode' in answer && typeof answer.recoveryCode === 'string') {
    return { recovery_code: answer.recoveryCode }
  }
  if ('passkey' in answer && answer.passkey === true && passkey !== null) return { passkey }
  throw new TypeError('gatehouse: answer with { otp }, { recoveryCode } or { passkey: true }')
}

/** @param {import('./index.js').FactorAnswer} answer */
export const wantsPasskey = (answer) => 'passkey' in answer && answer.passkey === true

/**
 * @typedef {(input: string, init?: RequestInit) => Promise<Response>} Request
 *   the client's `request`: authorized, and rejecting with StepUpRequiredError
 */

/**
 * Calls a JSON endpoint of the gateway with the session; resolves to its answer (null for 204).
 * Rejects with StepUpRequiredError, or GatehouseError for any other refusal.
 * @param {Request} request @param {string} method @param {string} path @param {unknown} [body]
 * @returns {Promise<any>}
 */
export async function callJson(request, method, path, body) {
  /** @type {RequestInit} */
  const init = { method }
  if (body !== undefined) {
    init.headers = { 'content-type': 'application/json' }
    init.body = JSON.stringify(body)
  }
  const res = await request(path, init)
  if (res.status === 204) return null
  const json = await res.json().catch(() => null)
  if (!res.ok) throw new GatehouseError(res.status, errorCode({ status: res.status, body: json }))
  return json
}

/** @param {unknown} codes */
const recoveryCodes = (codes) =>
  Array.isArray(codes) && codes.every((c) => typeof c === 'string') ? codes : null

/**
 * The factor-management half of the client (README § Second factors and step-up).
 * @param {Request} request
 * @param {() => CredentialsContainer | undefined} credentials
 */
export function createFactorApi(request, credentials) {
  return {
    /** @type {import('./index.js').GatehouseClient['listFactors']} */
    async listFactors() {
      const body = await callJson(request, 'GET', 'auth/factors')
      /** @type {any[]} */
      const factors = Array.isArray(body?.factors) ? body.factors : []
      return {
        factors: factors.map((f) => ({
          id: f.id,
          type: f.type,
          label: f.label ?? null,
          createdAt: f.created_at ?? null,
          lastUsedAt: f.last_used_at ?? null,
        })),
        recoveryCodesRemaining: body?.recovery_codes_remaining ?? 0,
      }
    },

    /** @type {import('./index.js').GatehouseClient['enrollTotp']} */
    async enrollTotp(options = {}) {
      const body = await callJson(request, 'POST', 'auth/factors/totp', options)
      return { factorId: body.factor_id, secret: body.secret, otpauthUri: body.otpauth_uri }
    },

    /** @type {import('./index.js').GatehouseClient['confirmTotp']} */
    async confirmTotp(factorId, code) {
      const body = await callJson(request, 'POST', 'auth/factors/totp/confirm', {
        factor_id: factorId,
        code,
      })
      return { factorId: body.factor_id, recoveryCodes: recoveryCodes(body.recovery_codes) }
    },

    /** @type {import('./index.js').GatehouseClient['registerPasskey']} */
    async registerPasskey(options = {}) {
      const label = options.label
      const start = await callJson(
        request,
        'POST',
        'auth/passkeys/register/options',
        label === undefined ? {} : { label },
      )
      const credential = await runCeremony(credentials(), 'create', start.options)
      const body = await callJson(request, 'POST', 'auth/passkeys/register', {
        challenge_token: start.challenge_token,
        credential,
        ...(label === undefined ? {} : { label }),
      })
      return { factorId: body.factor_id, recoveryCodes: recoveryCodes(body.recovery_codes) }
    },

    /** @type {import('./index.js').GatehouseClient['removeFactor']} */
    async removeFactor(id) {
      await callJson(request, 'DELETE', `auth/factors/${encodeURIComponent(id)}`)
    },

    /** @type {import('./index.js').GatehouseClient['newRecoveryCodes']} */
    async newRecoveryCodes() {
      const body = await callJson(request, 'POST', 'auth/factors/recovery-codes')
      return recoveryCodes(body?.recovery_codes) ?? []
    },
  }
}
