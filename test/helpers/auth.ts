// Helpers for the auth-server tests: a config where Gatehouse is its own issuer, users created
// with the real password hashing in the real local D1, and login/refresh calls through the app.

import { env } from 'cloudflare:test'
import { hashPassword } from '../../src/accounts/password-hash'
import { createUser, normalizeUsername } from '../../src/accounts/user-store'
import { accountBucket, newUserId } from '../../src/storage/placement'
import { ORIGIN, send, testEnv } from './gateway'
import { TEST_STORAGE, bucketDb } from './shards'

export const PUBLIC_URL = 'https://gatehouse.test'
export const APP_ORIGIN = 'https://app.test'
export const AUDIENCE = 'gatehouse-test'
export const REFRESH_COOKIE = '__Secure-gatehouse_refresh'

export function authConfig(auth: Record<string, unknown> = {}): Record<string, unknown> {
  const route = (prefix: string, extra: Record<string, unknown>) => ({
    prefix,
    origin: ORIGIN,
    origin_secret: 'ORIGIN_SECRET_TEST',
    ...extra,
  })
  return {
    public_url: PUBLIC_URL,
    issuers: [{ issuer: PUBLIC_URL, self: true, audiences: [AUDIENCE], algorithms: ['EdDSA'] }],
    auth: { allowed_origins: [APP_ORIGIN, PUBLIC_URL], ...auth },
    metrics_scrape_secret: 'METRICS_SCRAPE_SECRET',
    // Generous: a loaded CI machine must not trip the breaker; resilience tests set their own.
    revocation_timeout_ms: 2000,
    sensitive_scopes: { 'gatehouse:admin': 'critical' },
    storage: TEST_STORAGE,
    routes: [
      route('/api/public', { auth: 'none' }),
      route('/api/echo', {
        auth: 'token',
        tier: 'low',
        read_scopes: ['echo:read'],
        write_scopes: ['echo:write'],
      }),
      route('/api/secure', { auth: 'token', tier: 'critical', read_scopes: ['echo:read'] }),
      route('/api/standard', { auth: 'token', tier: 'standard', read_scopes: ['echo:read'] }),
      route('/api/limited', {
        auth: 'token',
        tier: 'low',
        read_scopes: ['echo:read'],
        rate_limit: { key: 'subject', limit: 5, period_seconds: 10, binding: 'RATE_LIMIT_DEMO' },
      }),
      route('/api/exact', {
        auth: 'token',
        tier: 'critical',
        read_scopes: ['echo:read'],
        rate_limit: { key: 'session', limit: 3, period_seconds: 60 },
      }),
      route('/api/cors', {
        auth: 'token',
        read_scopes: ['echo:read'],
        write_scopes: ['echo:write'],
        cors: { origins: ['https://spa.test'], expose_headers: ['x-total'] },
      }),
      route('/api/bound', {
        auth: 'token',
        tier: 'standard',
        read_scopes: ['echo:read'],
        dpop: 'required',
      }),
    ],
  }
}

export function authEnv(auth: Record<string, unknown> = {}) {
  return testEnv(authConfig(auth))
}

export interface TestUser {
  readonly id: string
  readonly tenant: string
  readonly username: string
  readonly password: string
}

/** Creates an active user with a fresh name through the real hashing code. */
export async function createTestUser(
  o: { password?: string; scopes?: string[]; tenant?: string; username?: string } = {},
): Promise<TestUser> {
  const tenant = o.tenant ?? 'acme'
  const username = o.username ?? `user-${crypto.randomUUID().slice(0, 8)}`
  // Placed as the gateway places users: in its account's bucket, on that bucket's shard.
  const bucket = await accountBucket(tenant, normalizeUsername(username))
  const user = {
    id: newUserId(bucket),
    tenant,
    username,
    password: o.password ?? `pw-${crypto.randomUUID()}`,
  }
  await createUser(
    bucketDb(bucket),
    {
      ...user,
      password: await hashPassword(user.password, env.PASSWORD_PEPPER as string),
      scopes: o.scopes ?? ['echo:read', 'echo:write'],
    },
    Math.floor(Date.now() / 1000) - 10,
  )
  return user
}

/** A fresh client IP per caller, so throttle counters of one test never touch another. */
/** A client address in a network of its own: the throttle counts IPv6 by /64. */
export function testIp(): string {
  return `2001:db8:${crypto.randomUUID().slice(0, 4)}:${crypto.randomUUID().slice(0, 4)}::1`
}

export function json(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  }
}

export async function login(
  gw: ReturnType<typeof authEnv>,
  user: TestUser,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = { origin: APP_ORIGIN },
): Promise<Response> {
  return send(
    gw,
    '/auth/login',
    json(
      { tenant: user.tenant, username: user.username, password: user.password, ...extra },
      headers,
    ),
  )
}

/** The refresh token set by a web answer, read from its Set-Cookie. */
export function cookieToken(res: Response): string {
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith(`${REFRESH_COOKIE}=`))
  if (cookie === undefined) throw new Error('no refresh cookie set')
  return cookie.slice(REFRESH_COOKIE.length + 1).split(';')[0] as string
}

export function refreshWeb(
  gw: ReturnType<typeof authEnv>,
  token: string,
  headers: Record<string, string> = { origin: APP_ORIGIN },
): Promise<Response> {
  return send(gw, '/auth/refresh', {
    method: 'POST',
    headers: { cookie: `${REFRESH_COOKIE}=${token}`, ...headers },
  })
}

export function refreshMobile(
  gw: ReturnType<typeof authEnv>,
  token: string,
  deviceId: string,
): Promise<Response> {
  return send(gw, '/auth/refresh', json({ refresh_token: token, device_id: deviceId }))
}

/** The access token in a login or refresh answer's JSON body; throws if there is none. */
export async function accessTokenOf(res: Response): Promise<string> {
  const body = (await res.json()) as { access_token?: unknown }
  if (typeof body.access_token !== 'string') throw new Error(`no access token (${res.status})`)
  return body.access_token
}

/** The session id a refresh token carries (`ghr1.<sid>.<secret>`). */
export function sessionIdOf(refreshToken: string): string {
  return refreshToken.split('.')[1] as string
}

/** A tenant administrator (of the default test tenant `acme`). */
export const ADMIN_SCOPES = ['echo:read', 'gatehouse:admin']
/** A deployment operator: keys, metrics, explain, every tenant. */
export const OPERATOR_SCOPES = ['echo:read', 'gatehouse:admin', 'gatehouse:operator']

export interface WebSession {
  readonly user: TestUser
  /** The access token from the login answer's body. */
  readonly access: string
  /** The refresh token from the login answer's Set-Cookie. */
  readonly refresh: string
  /** The session id (the refresh token's, and the access token's `sid` claim). */
  readonly sid: string
}

/** A fresh user with `scopes`, logged in as a web client; throws unless the login succeeds. */
export async function webSession(
  gw: ReturnType<typeof authEnv>,
  scopes = ['echo:read', 'echo:write'],
  tenant = 'acme',
): Promise<WebSession> {
  const user = await createTestUser({ scopes, tenant })
  const res = await login(gw, user)
  if (res.status !== 200) throw new Error(`web login failed: ${res.status}`)
  const refresh = cookieToken(res)
  return { user, access: await accessTokenOf(res), refresh, sid: sessionIdOf(refresh) }
}

/** The access token of a fresh user with gatehouse:admin (ADMIN_SCOPES). */
export async function adminAccess(gw: ReturnType<typeof authEnv>): Promise<string> {
  return (await webSession(gw, ADMIN_SCOPES)).access
}

/** The access token of a fresh operator (OPERATOR_SCOPES). */
export async function operatorAccess(gw: ReturnType<typeof authEnv>): Promise<string> {
  return (await webSession(gw, OPERATOR_SCOPES)).access
}
