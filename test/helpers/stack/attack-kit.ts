// The black-box attacker's toolkit for the security suite: token surgery on compact JWS strings,
// keys the attacker generates, throwaway accounts, and the assertions every case ends with — a
// refusal for the reason it names (status, challenge and the gateway's logged reason) that left
// the demo origin's request counter untouched, or an acceptance the origin saw with exactly the
// expected identity (raw HTTP lives in raw-http.ts, the log in gateway-log.ts). The attacker knows
// no secret of the gateway: only what GET /.well-known/jwks.json publishes and tokens obtained by
// logging in. Tokens of a trusted issuer with one property wrong come from demo-idp.ts, whose key
// the local demo profile hands to tests.

import { createHmac } from 'node:crypto'
import { expect } from 'vitest'
import { expectLoggedReason } from './gateway-log'
import { DEMO, GATEWAY, originCount } from './stack'
import type { Answer } from './raw-http'

export { DEMO, GATEWAY, REFRESH_COOKIE, loginAs, loginAsBrowser, originCount } from './stack'
export { rawPath, rawSocket, type Answer } from './raw-http'
export {
  DEMO_IDP,
  demoIdpClaims,
  demoIdpHeader,
  mintDemoIdp,
  nowSeconds,
  signDemoIdpRaw,
  signDemoIdpSegments,
  type MintOptions,
} from './demo-idp'

/** The subjects the demo seed gives its users. */
export const SUBJECT = { alice: 'usr_3e3_demo_alice', admin: 'usr_28c_demo_admin' } as const

/** What the demo origin echoes for a request it served. */
export interface Echo {
  method: string
  path: string
  query: string
  headers: Record<string, string>
  gateway: { ok: boolean; identity?: { subject: string | null } } | null
}

async function answerOf(res: Response): Promise<Answer> {
  return { status: res.status, headers: res.headers, body: await res.text() }
}

/** fetch against the gateway, answer fully read. */
export async function call(path: string, init: RequestInit = {}): Promise<Answer> {
  return answerOf(await fetch(`${GATEWAY}${path}`, { redirect: 'manual', ...init }))
}

/** GET with `Authorization: Bearer <token>`. */
export function withBearer(path: string, token: string, init: RequestInit = {}): Promise<Answer> {
  const headers = new Headers(init.headers)
  headers.set('authorization', `Bearer ${token}`)
  return call(path, { ...init, headers })
}

// ---- the assertions every case ends with ----------------------------------------------------

const challenge = (error: string, description: string) =>
  `Bearer realm="gatehouse", error="${error}", error_description="${description}"`
const INVALID_TOKEN = challenge('invalid_token', 'The access token is invalid')

/**
 * What a client sees for each reason the suite names (status and exact WWW-Authenticate), written
 * out here rather than imported from src/lib/errors.ts: the black box checks the contract.
 */
const REFUSALS = {
  missing_token: { status: 401, challenge: 'Bearer realm="gatehouse"' },
  invalid_request: {
    status: 400,
    challenge: challenge('invalid_request', 'The request is malformed'),
  },
  token_too_large: {
    status: 400,
    challenge: challenge('invalid_request', 'The access token is too large'),
  },
  malformed: { status: 401, challenge: INVALID_TOKEN },
  header_not_allowed: { status: 401, challenge: INVALID_TOKEN },
  alg_not_allowed: { status: 401, challenge: INVALID_TOKEN },
  wrong_type: { status: 401, challenge: INVALID_TOKEN },
  unknown_issuer: { status: 401, challenge: INVALID_TOKEN },
  unknown_kid: { status: 401, challenge: INVALID_TOKEN },
  bad_signature: { status: 401, challenge: INVALID_TOKEN },
  expired: { status: 401, challenge: challenge('invalid_token', 'The access token expired') },
  not_yet_valid: { status: 401, challenge: INVALID_TOKEN },
  lifetime_too_long: { status: 401, challenge: INVALID_TOKEN },
  wrong_audience: { status: 401, challenge: INVALID_TOKEN },
  invalid_claims: { status: 401, challenge: INVALID_TOKEN },
  revoked: { status: 401, challenge: INVALID_TOKEN },
  wrong_tenant: { status: 401, challenge: INVALID_TOKEN },
  issuer_not_allowed: { status: 401, challenge: INVALID_TOKEN },
  insufficient_scope: {
    status: 403,
    challenge: challenge('insufficient_scope', 'The access token lacks the required scope'),
  },
  invalid_grant: { status: 401, challenge: 'Bearer realm="gatehouse"' },
  bad_request: { status: 400, challenge: null },
  // RFC 9449 §7.1: a DPoP request is answered with a DPoP challenge naming the proof algorithms.
  dpop_binding_mismatch: {
    status: 401,
    challenge:
      'DPoP realm="gatehouse", algs="ES256 EdDSA", error="invalid_token", error_description="The access token is invalid"',
  },
} as const
export type Refusal = keyof typeof REFUSALS

/**
 * Runs `act` and proves it was refused for `reason`: the status and the exact WWW-Authenticate
 * challenge of that reason (`scope` appends the insufficient_scope challenge's scope), the reason
 * (and, when given, a detail) in the gateway's log line for the request, and no request at the
 * demo origin. Returns the answer.
 */
export async function expectRefused(
  reason: Refusal,
  act: () => Promise<Answer>,
  o: { detail?: string | RegExp; scope?: string } = {},
): Promise<Answer> {
  const before = await originCount()
  const res = await act()
  const expected = REFUSALS[reason]
  expect({ status: res.status, challenge: res.headers.get('www-authenticate') }).toEqual({
    status: expected.status,
    challenge:
      o.scope === undefined ? expected.challenge : `${expected.challenge}, scope="${o.scope}"`,
  })
  await expectLoggedReason(res, reason, o.detail)
  expect(await originCount()).toBe(before)
  return res
}

/** Runs `act`, expects one of `statuses`, and proves the demo origin served no request. */
export async function expectRejected(
  statuses: number | readonly number[],
  act: () => Promise<Answer>,
): Promise<Answer> {
  const before = await originCount()
  const res = await act()
  expect([statuses].flat()).toContain(res.status)
  expect(await originCount()).toBe(before)
  return res
}

/**
 * Runs `act`, expects 200 from the origin, exactly one origin request, no refusal reason in the
 * gateway's log line, and the identity the origin saw (subject null: an anonymous request on a
 * public route). Returns the echo.
 */
export async function expectAccepted(
  subject: string | null,
  act: () => Promise<Answer>,
): Promise<Echo> {
  const before = await originCount()
  const res = await act()
  expect(res.status).toBe(200)
  expect(await originCount()).toBe(before + 1)
  await expectLoggedReason(res, null)
  const echo = JSON.parse(res.body) as Echo
  expect(echo.gateway?.ok).toBe(true)
  expect(echo.gateway?.identity?.subject ?? null).toBe(subject)
  if (subject === null) expect(echo.headers['x-auth-subject']).toBeUndefined()
  else expect(echo.headers['x-auth-subject']).toBe(subject)
  return echo
}

// ---- tokens ---------------------------------------------------------------------------------

export const b64url = (input: string | Uint8Array): string =>
  Buffer.from(input).toString('base64url')
export const unb64url = (input: string): Buffer => Buffer.from(input, 'base64url')

export interface Parts {
  h: string
  p: string
  s: string
  header: Record<string, unknown>
  payload: Record<string, unknown>
}

export function split(token: string): Parts {
  const [h = '', p = '', s = ''] = token.split('.')
  return {
    h,
    p,
    s,
    header: JSON.parse(unb64url(h).toString()) as Record<string, unknown>,
    payload: JSON.parse(unb64url(p).toString()) as Record<string, unknown>,
  }
}

/** Reassembles a token with a replaced header and/or payload JSON, keeping the signature. */
export function tamper(
  token: string,
  o: { header?: Record<string, unknown>; payload?: Record<string, unknown> },
): string {
  const t = split(token)
  const h = o.header ? b64url(JSON.stringify(o.header)) : t.h
  const p = o.payload ? b64url(JSON.stringify(o.payload)) : t.p
  return `${h}.${p}.${t.s}`
}

/** The gateway's published keys, as any client can fetch them. */
export async function publishedJwks(): Promise<{ text: string; keys: Record<string, string>[] }> {
  const res = await fetch(`${GATEWAY}/.well-known/jwks.json`)
  const text = await res.text()
  return { text, keys: (JSON.parse(text) as { keys: Record<string, string>[] }).keys }
}

const SIGN_PARAMS = {
  EdDSA: { name: 'Ed25519' },
  ES256: { name: 'ECDSA', hash: 'SHA-256' },
  RS256: { name: 'RSASSA-PKCS1-v1_5' },
  PS256: { name: 'RSA-PSS', saltLength: 32 },
} as const
const GEN_PARAMS = {
  EdDSA: { name: 'Ed25519' },
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  RS256: {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  },
  PS256: {
    name: 'RSA-PSS',
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  },
} as const
export type AttackerAlg = keyof typeof SIGN_PARAMS

/** A key pair the attacker generated; its public half is in no JWKS the gateway trusts. */
export async function attackerKey(alg: AttackerAlg): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(GEN_PARAMS[alg], true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair
}

/** Signs arbitrary header and payload JSON with an attacker key. */
export async function forge(
  alg: AttackerAlg,
  key: CryptoKey,
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
): Promise<string> {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`
  const sig = await crypto.subtle.sign(SIGN_PARAMS[alg], key, new TextEncoder().encode(input))
  return `${input}.${b64url(new Uint8Array(sig))}`
}

/** HMAC-signs header.payload with `secret` (the classic RS/ED → HS key-confusion attack). */
export function hmacSign(
  hash: 'SHA-256' | 'SHA-384' | 'SHA-512',
  secret: Uint8Array,
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
): string {
  // node:crypto, not WebCrypto: only it accepts the empty key of the kid → /dev/null attack.
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`
  const algorithm = hash.replace('-', '').toLowerCase()
  return `${input}.${createHmac(algorithm, secret).update(input).digest('base64url')}`
}

// ---- accounts -------------------------------------------------------------------------------

let ipCounter = 0
/**
 * A fresh client address per caller. The local runtime passes a client's CF-Connecting-IP
 * through (Cloudflare's edge overwrites it in production), so login tests keep their per-IP
 * throttle counters apart and never block the suite's other logins from 127.0.0.1.
 */
export function freshIp(): string {
  ipCounter++
  return `198.18.${Math.floor(Math.random() * 250)}.${ipCounter % 250}`
}

/** POST JSON to a gateway endpoint. */
export function postJson(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return call(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
}

/** Logs in with arbitrary credentials (mobile unless `extra` says otherwise). */
export function tryLogin(
  credentials: { tenant?: string; username: string; password: string },
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<Answer> {
  return postJson(
    '/auth/login',
    { tenant: 'demo', client: 'mobile', device_id: 'security-suite', ...credentials, ...extra },
    { 'cf-connecting-ip': freshIp(), ...headers },
  )
}

let adminToken: Promise<string> | null = null
async function admin(): Promise<string> {
  adminToken ??= tryLogin(DEMO.admin).then((r) => {
    if (r.status !== 200) throw new Error(`admin login failed: ${r.status}`)
    return (JSON.parse(r.body) as { access_token: string }).access_token
  })
  return adminToken
}

export interface CreatedUser {
  readonly id: string
  readonly username: string
  readonly password: string
}

/** Creates a throwaway user through the admin API, so throttling never touches alice. */
export async function createUser(
  label: string,
  scopes: string[] = ['echo:read'],
  password = `pw-${crypto.randomUUID()}`,
): Promise<CreatedUser> {
  const username = `${label}-${crypto.randomUUID().slice(0, 8)}`
  const res = await postJson(
    '/admin/users',
    { tenant: 'demo', username, password, scopes },
    { authorization: `Bearer ${await admin()}` },
  )
  if (res.status !== 201) throw new Error(`create user failed: ${res.status} ${res.body}`)
  return { id: (JSON.parse(res.body) as { id: string }).id, username, password }
}

/** Logs a user in (mobile) and returns its access and refresh tokens. */
export async function sessionOf(
  user: { username: string; password: string },
  deviceId = 'security-suite',
): Promise<{ accessToken: string; refreshToken: string }> {
  const res = await tryLogin(user, { device_id: deviceId })
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.body}`)
  const body = JSON.parse(res.body) as { access_token: string; refresh_token: string }
  return { accessToken: body.access_token, refreshToken: body.refresh_token }
}
