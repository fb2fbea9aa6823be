// Client helpers for tests against the running local stack (see global-setup.ts, which starts
// it on free ports and provides the URLs).

import { inject } from 'vitest'

export const GATEWAY = inject('gatehouse').gateway
const ORIGIN = inject('gatehouse').origin

/** The cookie that carries a browser's refresh token (path /auth). */
export const REFRESH_COOKIE = '__Secure-gatehouse_refresh'

export const DEMO = {
  alice: { tenant: 'demo', username: 'alice', password: 'alice-demo-password' },
  admin: { tenant: 'demo', username: 'admin', password: 'admin-demo-password' },
} as const

/** Requests the demo origin has served so far (GET /__count itself is not counted). */
export async function originCount(): Promise<number> {
  const res = await fetch(`${ORIGIN}/__count`)
  return ((await res.json()) as { count: number }).count
}

export interface LoggedIn {
  readonly accessToken: string
  readonly refreshToken: string | null
  readonly setCookie: string[]
}

/** Logs a demo user in (web by default; mobile returns the refresh token in the body). */
export async function loginAs(
  who: keyof typeof DEMO,
  extra: Record<string, unknown> = {},
): Promise<LoggedIn> {
  const res = await fetch(`${GATEWAY}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: GATEWAY },
    body: JSON.stringify({ ...DEMO[who], ...extra }),
  })
  if (res.status !== 200) throw new Error(`login as ${who} failed: ${res.status}`)
  const body = (await res.json()) as Record<string, string>
  return {
    accessToken: body.access_token as string,
    refreshToken: body.refresh_token ?? null,
    setCookie: res.headers.getSetCookie(),
  }
}

export interface BrowserSession {
  readonly accessToken: string
  /** The refresh token, the value of the refresh cookie. */
  readonly refreshToken: string
  /** The refresh cookie as a browser sends it back: `name=value`, ready for a Cookie header. */
  readonly refreshCookie: string
}

/** Logs a demo user in as a web client; throws unless the answer sets the refresh cookie. */
export async function loginAsBrowser(who: keyof typeof DEMO): Promise<BrowserSession> {
  const { accessToken, setCookie } = await loginAs(who)
  const refreshCookie = setCookie
    .map((c) => c.split(';')[0] as string)
    .find((pair) => pair.startsWith(`${REFRESH_COOKIE}=`))
  if (refreshCookie === undefined) throw new Error(`login as ${who} set no refresh cookie`)
  return {
    accessToken,
    refreshToken: refreshCookie.slice(REFRESH_COOKIE.length + 1),
    refreshCookie,
  }
}
