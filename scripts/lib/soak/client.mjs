// The soak's client of Gatehouse, as the demo's web and mobile apps and its admins use it: login
// (web: refresh token in the cookie, Origin header; mobile: in the body, with a device id),
// refresh in every way a client can present a token, API calls by tier, logout, and the admin
// API. A bound session (DPoP, RFC 9449) signs a proof for every login, refresh and resource
// request with its own key and presents its access token with the DPoP scheme. Each call goes
// through the recorder with the facts the ledger needs to judge its answer (session, jti, kid of
// the token presented) and leaves the decision of what to do next to the actor: nothing here
// retries or hides an answer.

import { createHash } from 'node:crypto'
import { createDpopKey } from './dpop.mjs'
import { parseJson, readJwt } from './recorder.mjs'

/** A client network per login: the throttle counts per network, and a soak is many clients. */
let loginCounter = 0
function clientIp(runTag) {
  loginCounter++
  return `198.18.${runTag}.${loginCounter % 250}`
}

/** SHA-256 of a refresh token, base64url: the form the gateway stores (src/sessions). */
export function refreshTokenHash(token) {
  return createHash('sha256').update(token).digest('base64url')
}

function accessFacts(token) {
  const t = readJwt(token)
  return { token, jti: t.jti, kid: t.kid, sid: t.sid, exp: t.exp, sub: t.sub }
}

/** The refresh cookie a web answer set: [name, value], or null. */
function refreshCookieOf(res) {
  for (const line of res.headers.getSetCookie()) {
    const pair = line.split(';')[0] ?? ''
    const eq = pair.indexOf('=')
    const name = pair.slice(0, eq).trim()
    if (eq > 0 && /refresh/i.test(name) && pair.slice(eq + 1) !== '') {
      return [name, pair.slice(eq + 1)]
    }
  }
  return null
}

/** The tokens of a 200 login or refresh answer: { access, refresh, cookieName } or null. */
function tokensOf(res, text) {
  const body = parseJson(text)
  if (res === null || res.status !== 200 || typeof body?.access_token !== 'string') return null
  const cookie = refreshCookieOf(res)
  const refresh = typeof body.refresh_token === 'string' ? body.refresh_token : cookie?.[1]
  if (refresh === undefined) return null
  return { access: accessFacts(body.access_token), refresh, cookieName: cookie?.[0] ?? null }
}

/**
 * Logs `persona` in as a `client` ('web' | 'mobile'), bound to a new DPoP key when `bound`;
 * resolves to { op, session (null unless 200), retryAfter }.
 */
export async function login(ctx, persona, client, actor, bound = false) {
  const deviceId = client === 'mobile' ? `soak-${ctx.runTag}-${actor}-${loginCounter}` : null
  const dpop = bound ? createDpopKey() : null
  const { op, res, text } = await ctx.rec.send(
    'login',
    { actor, persona: persona.username, tenant: persona.tenant, client, bound },
    '/auth/login',
    {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'cf-connecting-ip': clientIp(ctx.runTag),
        ...(client === 'web' ? { origin: ctx.browserOrigin } : {}),
        ...(dpop === null ? {} : { dpop: dpop.sign('POST', `${ctx.publicUrl}/auth/login`) }),
      },
      body: JSON.stringify({
        tenant: persona.tenant,
        username: persona.username,
        password: persona.password,
        client,
        ...(deviceId === null ? {} : { device_id: deviceId }),
      }),
    },
  )
  const tokens = tokensOf(res, text)
  if (tokens === null) return { op, session: null, retryAfter: retryAfterOf(res) }
  op.sid = tokens.access.sid
  op.kid = tokens.access.kid
  const session = {
    sid: tokens.access.sid,
    persona,
    client,
    deviceId,
    dpop,
    cookieName: tokens.cookieName,
    access: tokens.access,
    refresh: tokens.refresh,
    history: [tokens.refresh],
    actor,
    ended: null,
  }
  return { op, session, retryAfter: 0 }
}

function retryAfterOf(res) {
  const value = Number(res?.headers.get('retry-after') ?? 0)
  return Number.isFinite(value) ? value : 0
}

/**
 * Presents `token` (default: the session's current refresh token) at POST /auth/refresh.
 * `as`: 'own' (the session's transport and device), 'other-device' (mobile, another device id)
 * or 'mobile-body' (a web session's token sent like a mobile app's). A bound session adds its
 * proof unless `o.proof` is false (a thief without the key). Resolves to { op, tokens } with
 * tokens null unless answered 200.
 */
export async function refresh(ctx, session, variant, o = {}) {
  const token = o.token ?? session.refresh
  const as = o.as ?? 'own'
  const generation = session.history.indexOf(token)
  const meta = {
    actor: session.actor,
    sid: session.sid,
    client: session.client,
    variant,
    generation,
  }
  let init
  if (session.client === 'web' && as === 'own') {
    init = {
      method: 'POST',
      headers: { cookie: `${session.cookieName}=${token}`, origin: ctx.browserOrigin },
    }
  } else {
    const deviceId =
      as === 'other-device' ? `${session.deviceId}-elsewhere` : (session.deviceId ?? 'soak-app')
    init = {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: token, device_id: deviceId, client: 'mobile' }),
    }
  }
  if (session.dpop !== null && o.proof !== false) {
    init.headers.dpop = session.dpop.sign('POST', `${ctx.publicUrl}/auth/refresh`)
  }
  const { op, res, text } = await ctx.rec.send('refresh', meta, '/auth/refresh', init)
  const tokens = tokensOf(res, text)
  if (tokens !== null) {
    op.successorHash = refreshTokenHash(tokens.refresh)
    op.kid = tokens.access.kid
  }
  return { op, tokens }
}

/** Adopts the tokens of a 200 refresh as the session's current ones. */
export function adopt(session, tokens) {
  session.access = tokens.access
  if (session.history.at(-1) !== tokens.refresh) session.history.push(tokens.refresh)
  session.refresh = tokens.refresh
}

const TIER_ORDER = ['low', 'standard', 'critical']

/** The route's tier, raised by any sensitive scope the token carries (DESIGN § risk tiers). */
function effectiveTier(tier, scopes, sensitiveScopes) {
  let rank = TIER_ORDER.indexOf(tier)
  for (const scope of scopes) rank = Math.max(rank, TIER_ORDER.indexOf(sensitiveScopes[scope]))
  return TIER_ORDER[rank]
}

/** The token routes of `tier` a session may call: its persona's scopes, DPoP where required. */
export function routesFor(ctx, session, tier) {
  return ctx.apiRoutes.filter(
    (r) =>
      r.tier === tier &&
      r.readScopes.every((s) => session.persona.scopes.includes(s)) &&
      (r.dpop !== 'required' || session.dpop !== null),
  )
}

/** The Authorization (and DPoP) headers presenting an access token for `method` on `path`. */
function credentials(ctx, session, access, method, path) {
  if (session.dpop === null) return { authorization: `Bearer ${access.token}` }
  return {
    authorization: `DPoP ${access.token}`,
    dpop: session.dpop.sign(method, `${ctx.publicUrl}${path}`, access.token),
  }
}

/**
 * An API call with the session's (or the given) access token on a route of `tier` the persona
 * may read; one call in three writes where the persona holds the route's write scopes.
 */
export async function api(ctx, session, tier, o = {}) {
  const access = o.access ?? session.access
  const n = ctx.rec.ops.length
  const routes = routesFor(ctx, session, tier)
  const route = routes[n % routes.length]
  const write = n % 3 === 0 && route.writeScopes.every((s) => session.persona.scopes.includes(s))
  const method = write ? 'POST' : 'GET'
  const path = route.path(n)
  const { op, text } = await ctx.rec.send(
    `api-${tier}`,
    {
      actor: o.actor ?? session.actor,
      sid: access.sid,
      jti: access.jti,
      kid: access.kid,
      exp: access.exp,
      tier: effectiveTier(tier, session.persona.scopes, ctx.sensitiveScopes),
      bound: session.dpop !== null,
      probe: o.probe ?? null,
    },
    path,
    {
      method,
      headers: credentials(ctx, session, access, method, path),
      ...(write ? { body: 'soak' } : {}),
    },
  )
  if (op.status === 200) {
    // The origin must have seen this very user, verified: concurrent sessions never mix.
    const echo = parseJson(text)
    op.identity = echo?.gateway?.ok === true ? (echo.gateway.identity?.subject ?? null) : null
    op.originSaid = echo?.gateway?.reason ?? 'no verdict'
    op.expectedIdentity = session.persona.id
  }
  return op
}

/** Ends the session the way its client would: web by cookie, mobile by its access token. */
export async function logout(ctx, session) {
  const meta = { actor: session.actor, sid: session.sid, kid: session.access.kid }
  const headers =
    session.client === 'web'
      ? { cookie: `${session.cookieName}=${session.refresh}`, origin: ctx.browserOrigin }
      : credentials(ctx, session, session.access, 'POST', '/auth/logout')
  if (session.client !== 'web') Object.assign(meta, { jti: session.access.jti, bearer: true })
  const { op } = await ctx.rec.send('logout', meta, '/auth/logout', { method: 'POST', headers })
  return op
}

/** One admin API call with the admin session's access token. */
export async function adminCall(ctx, admin, kind, meta, path, init = {}) {
  const headers = new Headers(init.headers)
  headers.set('authorization', `Bearer ${admin.access.token}`)
  if (init.body !== undefined) headers.set('content-type', 'application/json')
  const a = admin.access
  const { op, text } = await ctx.rec.send(
    kind,
    { actor: admin.actor, sid: a.sid, jti: a.jti, kid: a.kid, exp: a.exp, admin: true, ...meta },
    path,
    { ...init, headers },
  )
  return { op, body: parseJson(text) }
}
