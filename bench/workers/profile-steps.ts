// The steps of the verified-request path, each on its own (bench only, never deployed): what
// Gatehouse's hot path calls per request, with the inputs a real request would give it, so the
// profile can attribute a request's cost. Imports src/ internals: when a signature changes there,
// this file (and only the profile section) has to follow.

import { servicesFor } from '../../src/http/services'
import { mintAccessToken } from '../../src/keys/signer'
import { logLine } from '../../src/observability/log'
import { countMetric, observeMetric } from '../../src/observability/metrics'
import { continueTrace, formatTraceparent } from '../../src/observability/trace'
import { Forwarder } from '../../src/proxy/forward'
import { forwardableRequestHeaders, sanitizeResponseHeaders } from '../../src/proxy/header-rules'
import { signIdentityHeaders } from '../../src/proxy/identity-signing'
import { pathHazard, queryHazard, splitRequestTarget } from '../../src/proxy/request-target'
import { matchRoute } from '../../src/proxy/route-table'
import type { RequestContext, RequestRecord } from '../../src/http/request-context'
import { createEventSink } from '../../src/observability/security-events'
import {
  hashRefreshToken,
  newRefreshToken,
  refreshTokenSessionId,
  sealSuccessor,
} from '../../src/sessions/refresh-token'
import { authenticate } from '../../src/http/authenticate'
import { decodeBase64Url } from '../../src/lib/base64url'
import { extractBearerToken } from '../../src/verify/bearer'
import { checkClaims } from '../../src/verify/claims'
import { parseCompactJws } from '../../src/verify/compact-jws'
import {
  BENCH_ISSUER,
  BENCH_ORIGIN,
  ECHO_URL,
  ORIGIN_BODY,
  consume,
  request,
  type Env,
  type Fixture,
} from './profile-fixture'
import { newSessionId } from '../../src/storage/placement'

export type Op = (fx: Fixture, env: Env, ctx: ExecutionContext) => unknown

const forwarder = new Forwarder(() => Date.now())

/** A RequestContext for steps that take one (authenticate), as the app's first middleware makes it. */
export function contextFor(fx: Fixture, ctx: ExecutionContext): RequestContext {
  // authenticate only writes to the record; its full shape belongs to request-context.ts.
  const record = {} as RequestRecord
  const requestId = crypto.randomUUID()
  const waitUntil = (p: Promise<unknown>) => ctx.waitUntil(p)
  return {
    services: fx.services,
    config: fx.config,
    requestId,
    trace: continueTrace(null),
    record,
    waitUntil,
    events: createEventSink(undefined, waitUntil, requestId, fx.services.now),
  }
}

function segments(token: string): [string, string, string] {
  const [h = '', p = '', s = ''] = token.split('.')
  return [h, p, s]
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Step name → one run of that step. */
export const STEP_OPS: Record<string, Op> = {
  'new-request': (fx) => request(fx, '/api/echo/x', true).headers.has('host'),
  config: (_fx, env) => servicesFor(env),
  'request-id+trace': () => formatTraceparent(continueTrace(null)) + crypto.randomUUID(),
  'url+route': (fx) => {
    const { path, search } = splitRequestTarget(ECHO_URL)
    if (pathHazard(path) !== null || queryHazard(search) !== null) return false
    return matchRoute(fx.services.routes, path) !== null && new URL(ECHO_URL).host !== ''
  },
  bearer: (fx) => extractBearerToken(`Bearer ${fx.token}`, ''),
  'jws-parse': (fx) => parseCompactJws(fx.token),
  claims: (fx) => {
    const jws = parseCompactJws(fx.token)
    const issuer = fx.config.issuers[0]!
    return checkClaims(jws.payload, issuer, {
      nowSeconds: Date.now() / 1000,
      clockSkewSeconds: 60,
      maxTokenLifetimeSeconds: 3600,
    })
  },
  'headers-in': (fx) =>
    forwardableRequestHeaders(new Headers(fx.clientHeaders), {
      forwardAuthorization: false,
      gatewayCookies: [fx.config.auth.cookieName],
    }),
  'sign-identity': async (fx) => {
    const headers = new Headers()
    await signIdentityHeaders(headers, {
      method: 'GET',
      target: '/api/echo/x',
      secret: fx.config.routes[0]!.originSecret,
      identity: {
        issuer: BENCH_ISSUER,
        subject: 'usr_profile_0001',
        tenant: 'bench',
        scope: 'echo:read echo:write',
        sessionId: 'sess-profile-0001',
        clientId: 'gatehouse-mobile',
        dpopKey: null,
      },
      revocation: 'skipped; tier=low',
      requestId: crypto.randomUUID(),
      nowSeconds: Date.now() / 1000,
    })
    return headers
  },
  'jws-b64': (fx) => segments(fx.token).every((seg) => decodeBase64Url(seg) !== null),
  'jws-json': (fx) => {
    const [h, p] = segments(fx.token)
    return (
      JSON.parse(utf8.decode(decodeBase64Url(h)!)) && JSON.parse(utf8.decode(decodeBase64Url(p)!))
    )
  },
  authenticate: async (fx, _env, ctx) =>
    (await authenticate(request(fx, '/api/echo/x', true), '', ['echo:read'], contextFor(fx, ctx)))
      .subject !== '',
  forward: async (fx) => {
    const base = new Headers({ 'user-agent': 'bench/1.0', accept: '*/*' })
    return consume(
      await forwarder.forward({
        origin: BENCH_ORIGIN,
        target: '/api/echo/x',
        method: 'GET',
        body: null,
        timeoutMs: 10_000,
        retries: 2,
        maxInFlight: 256,
        gatewayCookies: [fx.config.auth.cookieName],
        route: '/api/echo',
        headersForAttempt: async (attempt) => (attempt === 0 ? base : new Headers(base)),
        fetch: (input, init) => fetch(input, init),
      }),
    )
  },
  'abort+timer': () => {
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), 10_000)
    clearTimeout(timer)
    return controller.signal.aborted === false
  },
  'response-rewrap': async (fx) => {
    const res = new Response(ORIGIN_BODY, { status: 200, headers: fx.originHeaders })
    const answer = new Response(res.body, res)
    sanitizeResponseHeaders(answer.headers, [fx.config.auth.cookieName])
    return consume(answer)
  },
  'plain-response': async (fx) =>
    consume(new Response(ORIGIN_BODY, { status: 200, headers: fx.originHeaders })),
  metrics: () => {
    countMetric('gatehouse_origin_requests_total', { route: '/api/echo', result: '2xx' })
    observeMetric('gatehouse_origin_duration_ms', { route: '/api/echo' }, 1)
    countMetric('gatehouse_requests_total', { route: '/api/echo', outcome: 'ok', reason: 'none' })
  },
  'headers-out': (fx) =>
    sanitizeResponseHeaders(new Headers(fx.originHeaders), [fx.config.auth.cookieName]),
  // The auth server's per-rotation work outside D1 and HTTP (refresh.ts): crypto, then minting.
  'refresh-crypto': async () => {
    const parent = newRefreshToken(newSessionId(0))
    const successor = newRefreshToken(refreshTokenSessionId(parent) ?? '')
    await hashRefreshToken(parent)
    await hashRefreshToken(successor)
    return (await sealSuccessor(successor, parent)).length > 0
  },
  // One D1 round trip (local D1: a SQLite Durable Object behind a JS binding, same process).
  'd1-select': async (_fx, env) =>
    (await (env.SESSIONS_0 as D1Database).prepare('SELECT 1 AS one').first<{ one: number }>())
      ?.one === 1,
  'mint-token': async (fx) => {
    const signer = { kid: 'profile-key', alg: 'EdDSA' as const, key: fx.signingKey, loadedAt: 0 }
    const claims = {
      sub: 'usr_profile_0001',
      sid: 'sess-profile-0001',
      tid: 'bench',
      scope: 'echo:read echo:write',
      clientId: 'gatehouse-mobile',
      amr: ['pwd'],
      authTime: Math.floor(Date.now() / 1000),
    }
    return (await mintAccessToken(signer, fx.config.auth, claims, Date.now() / 1000)).token
  },
  // The critical route's extra hop measured alone: one revocation check() through the
  // Durable Object binding (id, stub, RPC, the query), as the route makes it.
  'do-roundtrip': async (_fx, env) => {
    const ns = env.REVOCATIONS
    const stub = ns.get(ns.idFromName('profile-do-roundtrip'))
    const now = Math.floor(Date.now() / 1000)
    return !(await stub.check({ jti: 'profile-jti', sid: 'sess-profile-0001', iat: now })).revoked
  },
  'log-line': () =>
    logLine('info', 'request', {
      request_id: '7c0f6c43-2b6e-4c39-9a55-6f8f2b1d3c11',
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      method: 'GET',
      route: '/api/echo',
      status: 200,
      outcome: 'ok',
      reason: null,
      detail: null,
      tier: 'low',
      issuer: BENCH_ISSUER,
      kid: 'profile-key',
      jti: 'b8e0f5a4-3a7e-4a59-a0f9-2c3d4e5f6a7b',
      sid: 'sess-profile-0001',
      latency_ms: 0,
    }),
}
