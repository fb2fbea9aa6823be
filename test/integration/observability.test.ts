// Observability end to end inside workerd: counters move for each outcome class and /metrics
// shows them as valid Prometheus text; security events reach the D1 audit table through the
// real local Queue; every log line is free of every secret the flow used; explain says why.

import { env } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  ADMIN_SCOPES,
  OPERATOR_SCOPES,
  APP_ORIGIN,
  REFRESH_COOKIE,
  accessTokenOf,
  authConfig,
  authEnv,
  cookieToken,
  createTestUser,
  json,
  login,
  refreshWeb,
  webSession,
} from '../helpers/auth'
import {
  captureLogs,
  installNetwork,
  send,
  setupIssuer,
  testEnv,
  type Network,
} from '../helpers/gateway'
import { makeKey } from '../helpers/keys'
import { mint, nowSeconds, split } from '../helpers/tokens'
import { sessionDb } from '../helpers/shards'

const gw = authEnv()
const SCRAPE = { authorization: `Bearer ${env.METRICS_SCRAPE_SECRET as string}` }
let net: Network
beforeEach(() => {
  net = installNetwork()
})
afterEach(() => vi.restoreAllMocks())

type Series = Map<string, number>

/** Parses Prometheus text strictly; throws on any line that is not HELP, TYPE or a sample. */
function parsePrometheus(text: string): Series {
  const series: Series = new Map()
  const sample =
    /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$/
  for (const line of text.split('\n')) {
    if (line === '' || /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue
    const m = sample.exec(line)
    if (m === null) throw new Error(`not Prometheus text: ${line}`)
    series.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]))
  }
  return series
}

async function scrape(): Promise<Series> {
  const res = await send(gw, '/metrics', { headers: SCRAPE })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4')
  return parsePrometheus(await res.text())
}

/**
 * Changes one character early in the signature (bits of R). Not the last characters: those
 * encode the top byte of Ed25519's S, which is often 0x00, so "…AA" can equal the original.
 */
function tamperSignature(token: string): string {
  const i = token.lastIndexOf('.') + 5
  return `${token.slice(0, i)}${token[i] === 'A' ? 'B' : 'A'}${token.slice(i + 1)}`
}

function delta(before: Series, after: Series, key: string): number {
  return (after.get(key) ?? 0) - (before.get(key) ?? 0)
}

describe('metrics', () => {
  it('move for every outcome class and render as Prometheus text', async () => {
    const before = await scrape()
    const s = await webSession(gw, ['echo:read'])
    await send(gw, '/api/echo/x', { token: s.access }) // verify ok
    await send(gw, '/api/echo/x', { token: s.access, method: 'POST', body: '{}' }) // insufficient_scope
    await send(gw, '/api/echo/x', { token: tamperSignature(s.access) }) // bad signature
    await send(gw, '/api/echo/x') // missing token
    const rotated = cookieToken(await refreshWeb(gw, s.refresh))
    await sessionDb(s.refresh.split('.')[1] as string)
      .prepare('UPDATE refresh_tokens SET used_at = used_at - 60 WHERE used_at IS NOT NULL')
      .run()
    await refreshWeb(gw, s.refresh) // reuse of the rotated parent
    await send(gw, '/api/secure/x', { token: s.access }) // revocation hit (the session died)
    await login(gw, { ...s.user, password: 'wrong' })
    expect(rotated).not.toBe(s.refresh)
    const after = await scrape()
    const moved = (key: string) => delta(before, after, key)
    // The first use of a token is a full verification, the next ones hit the isolate's cache.
    expect(moved('gatehouse_verify_total{cache="miss",outcome="ok"}')).toBe(1)
    expect(moved('gatehouse_verify_total{cache="hit",outcome="ok"}')).toBeGreaterThanOrEqual(1)
    expect(moved('gatehouse_verify_total{cache="miss",outcome="bad_signature"}')).toBe(1)
    expect(
      moved(
        'gatehouse_requests_total{outcome="rejected",reason="insufficient_scope",route="/api/echo"}',
      ),
    ).toBe(1)
    expect(
      moved(
        'gatehouse_requests_total{outcome="rejected",reason="missing_token",route="/api/echo"}',
      ),
    ).toBe(1)
    expect(moved('gatehouse_refresh_total{result="rotated"}')).toBe(1)
    expect(moved('gatehouse_refresh_total{result="reuse_detected"}')).toBe(1)
    expect(moved('gatehouse_revocation_checks_total{result="revoked",tier="critical"}')).toBe(1)
    expect(moved('gatehouse_login_total{result="ok"}')).toBe(1)
    expect(moved('gatehouse_login_total{result="invalid_grant"}')).toBe(1)
    expect(moved('gatehouse_security_events_total{type="refresh_reuse_detected"}')).toBe(1)
    expect(moved('gatehouse_jwks_lookups_total{layer="isolate"}')).toBeGreaterThanOrEqual(1)
    expect(moved('gatehouse_origin_requests_total{result="2xx",route="/api/echo"}')).toBe(1)
    expect(moved('gatehouse_request_duration_ms_count{route="/api/echo"}')).toBe(4)
    expect(
      [...after.keys()].some((k) => k.startsWith('gatehouse_clock_offset_seconds_bucket{issuer=')),
    ).toBe(true)
  })

  it('count every verification rejection under its own reason', async () => {
    const key = await makeKey('EdDSA')
    const stranger = await makeKey('EdDSA', 'unpublished')
    const { issuer, config } = await setupIssuer(net, [key])
    const third = testEnv({ ...config, metrics_scrape_secret: 'METRICS_SCRAPE_SECRET' })
    const now = nowSeconds()
    const cases: Array<[string, () => Promise<string>]> = [
      ['expired', () => mint(key, { issuer, expiresIn: -600 })],
      ['not_yet_valid', () => mint(key, { issuer, claims: { nbf: now + 600 } })],
      ['lifetime_too_long', () => mint(key, { issuer, expiresIn: 7200 })],
      ['wrong_audience', () => mint(key, { issuer, audience: 'elsewhere' })],
      ['wrong_type', () => mint(key, { issuer, header: { typ: 'JWT' } })],
      ['invalid_claims', () => mint(key, { issuer, omit: ['sub'] })],
      ['unknown_issuer', () => mint(key, { issuer: 'https://unknown.test' })],
      ['unknown_kid', () => mint(stranger, { issuer })],
      ['header_not_allowed', () => mint(key, { issuer, header: { jku: 'https://evil.test' } })],
      ['bad_signature', async () => tamperSignature(await mint(key, { issuer }))],
      ['malformed', async () => 'not.a.jwt'],
    ]
    const scrapeThird = async () =>
      parsePrometheus(await (await send(third, '/metrics', { headers: SCRAPE })).text())
    const before = await scrapeThird()
    for (const [, token] of cases) await send(third, '/api/echo/x', { token: await token() })
    const after = await scrapeThird()
    for (const [reason] of cases) {
      expect(
        delta(before, after, `gatehouse_verify_total{cache="miss",outcome="${reason}"}`),
        reason,
      ).toBe(1)
    }
    expect(net.originCalls).toHaveLength(0)
  })

  it('counts a fail-open fallback by tier', async () => {
    const s = await webSession(gw)
    const before = await scrape()
    const failing = {
      idFromName: () => ({}),
      get: () => ({ check: () => Promise.reject(new Error('down')) }),
    }
    const broken = testEnv(authConfig(), { REVOCATIONS: failing })
    expect((await send(broken, '/api/standard/x', { token: s.access })).status).toBe(200)
    const after = await scrape()
    expect(
      delta(before, after, 'gatehouse_revocation_checks_total{result="fail_open",tier="standard"}'),
    ).toBe(1)
  })

  it('serves /metrics only to the scrape secret or an operator', async () => {
    expect((await send(gw, '/metrics')).status).toBe(401)
    expect(
      (await send(gw, '/metrics', { headers: { authorization: 'Bearer wrong-secret' } })).status,
    ).toBe(401)
    const tenantAdmin = await webSession(gw, ADMIN_SCOPES)
    expect((await send(gw, '/metrics', { token: tenantAdmin.access })).status).toBe(403)
    const { access } = await webSession(gw, OPERATOR_SCOPES)
    expect((await send(gw, '/metrics', { token: access })).status).toBe(200)
  })
})

describe('audit trail', () => {
  it('delivers security events through the real Queue into D1, listed per user', async () => {
    const s = await webSession(gw, ADMIN_SCOPES)
    await send(gw, '/auth/logout', { method: 'POST', token: s.access })
    let rows: Record<string, unknown>[] = []
    for (let i = 0; i < 60 && rows.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 250))
      rows = (
        await env.AUDIT_DB.prepare('SELECT type, sid FROM audit_events WHERE user_id = ?1')
          .bind(s.user.id)
          .all()
      ).results
    }
    expect(rows.map((r) => r.type).sort()).toEqual(['login_succeeded', 'session_revoked'])
    const admin = await webSession(gw, ADMIN_SCOPES)
    const listed = await send(gw, `/admin/audit-events?sub=${s.user.id}`, { token: admin.access })
    const body = (await listed.json()) as { events: { type: string }[] }
    expect(body.events.map((e) => e.type)).toContain('session_revoked')
  })
})

describe('logs', () => {
  it('carry no token, cookie, password or secret anywhere in the whole flow', async () => {
    const logs = captureLogs()
    const user = await createTestUser({ scopes: ADMIN_SCOPES })
    const web = await login(gw, user)
    const access = await accessTokenOf(web)
    const refresh = cookieToken(web)
    const mobile = (await (
      await login(gw, user, { client: 'mobile', device_id: 'p1' }, {})
    ).json()) as Record<string, string>
    await send(gw, '/api/echo/x?x=1', {
      token: access,
      headers: { cookie: `${REFRESH_COOKIE}=${refresh}; other=1` },
    })
    await send(gw, '/api/secure/x', { token: access })
    const rotated = cookieToken(await refreshWeb(gw, refresh))
    await login(gw, { ...user, password: `${user.password}-wrong` })
    await send(gw, '/auth/introspect', { ...json({ token: access }), token: access })
    await send(gw, '/admin/explain', { ...json({ token: access }), token: access })
    await send(gw, '/auth/revoke', json({ token: mobile.refresh_token }))
    await send(gw, '/auth/logout', {
      method: 'POST',
      headers: { origin: APP_ORIGIN, cookie: `${REFRESH_COOKIE}=${rotated}` },
    })
    const secrets = [
      user.password,
      access,
      split(access).s,
      refresh,
      refresh.split('.')[2] as string,
      rotated.split('.')[2] as string,
      mobile.access_token as string,
      (mobile.refresh_token as string).split('.')[2] as string,
      env.ORIGIN_SECRET_TEST,
      env.PASSWORD_PEPPER as string,
      env.KEY_ENCRYPTION_SECRET as string,
      env.METRICS_SCRAPE_SECRET as string,
    ]
    expect(logs.lines.length).toBeGreaterThan(10)
    const text = logs.lines.map((l) => JSON.stringify(l)).join('\n')
    for (const secret of secrets)
      expect(text.includes(secret), `a secret leaked into the logs`).toBe(false)
    expect(text).not.toMatch(/Bearer /)
  })

  it('put the caller trace id and a hashed subject on the request line', async () => {
    const logs = captureLogs()
    const s = await webSession(gw)
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    await send(gw, '/api/echo/x', {
      token: s.access,
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    })
    const line = logs.lines.find((l) => l.event === 'request' && l.trace_id === traceId)
    expect(line).toMatchObject({ route: '/api/echo', status: 200, outcome: 'ok', tenant: 'acme' })
    expect(line?.subject_hash).toMatch(/^[0-9a-f]{16}$/)
    expect(JSON.stringify(line)).not.toContain(s.user.id)
  })
})

describe('explain', () => {
  it('says which check a token fails, without echoing it', async () => {
    const admin = await webSession(gw, OPERATOR_SCOPES)
    const victim = await webSession(gw)
    await send(gw, '/auth/logout', { method: 'POST', token: victim.access })
    for (const [token, reason] of [
      [victim.access, 'revoked'],
      [tamperSignature(victim.access), 'bad_signature'],
      ['not-a-token', 'malformed'],
    ] as const) {
      const res = await send(gw, '/admin/explain', { ...json({ token }), token: admin.access })
      const text = await res.text()
      expect(res.status).toBe(200)
      expect(JSON.parse(text)).toMatchObject({ valid: false, reason })
      expect(text).not.toContain(split(victim.access).s)
    }
    const ok = (await (
      await send(gw, '/admin/explain', { ...json({ token: admin.access }), token: admin.access })
    ).json()) as Record<string, unknown>
    expect(ok).toMatchObject({
      valid: true,
      revocation: 'checked',
      header: { alg: 'EdDSA', typ: 'at+jwt' },
    })
    expect((ok.claims as Record<string, unknown>).sub).toBe(admin.user.id)
  })
})

describe('log_sample_rate', () => {
  it('at 0 drops successful request lines but logs every rejection', async () => {
    const sampled = testEnv({ ...authConfig(), log_sample_rate: 0 })
    const session = await webSession(sampled)
    const logs = captureLogs()
    const ok = await send(sampled, '/api/echo/x', { token: session.access })
    expect(ok.status).toBe(200)
    const refused = await send(sampled, '/api/echo/x', { token: 'not-a-token' })
    expect(refused.status).toBe(401)
    const requests = logs.lines.filter((l) => l.event === 'request')
    expect(requests.map((l) => l.outcome)).toEqual(['rejected'])
    expect(net.originCalls).toHaveLength(1)
  })

  it('at 1 (the default) logs every request', async () => {
    const session = await webSession(gw)
    const logs = captureLogs()
    await send(gw, '/api/echo/x', { token: session.access })
    expect(logs.lines.filter((l) => l.event === 'request').map((l) => l.outcome)).toEqual(['ok'])
  })
})
