// The admin model (security round 2, H1 and H2, L2, L5): only tokens of our own issuer reach the
// admin API, introspection and /metrics; gatehouse:admin acts inside its own tenant only and
// cannot mint an operator; gatehouse:operator acts on keys, metrics, explain and every tenant.
// Each refusal asserts the status, the challenge, the logged reason and that nothing changed.

import { env } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  ADMIN_SCOPES,
  AUDIENCE,
  OPERATOR_SCOPES,
  PUBLIC_URL,
  authConfig,
  createTestUser,
  json,
  login,
  refreshWeb,
  webSession,
  type WebSession,
} from '../helpers/auth'
import {
  captureLogs,
  installNetwork,
  send,
  testEnv,
  uniqueIssuer,
  type LogCapture,
  type Network,
} from '../helpers/gateway'
import { makeKey, type TestKey } from '../helpers/keys'
import { mint, split } from '../helpers/tokens'
import { accountDb } from '../helpers/shards'

const PARTNER = uniqueIssuer('partner-idp')
const config = authConfig()
const gw = testEnv({
  ...config,
  issuers: [
    ...(config.issuers as unknown[]),
    {
      issuer: PARTNER,
      jwks_uri: `${PARTNER}/jwks.json`,
      audiences: [AUDIENCE],
      algorithms: ['EdDSA'],
      tenant: 'acme',
    },
  ],
  // A route accepts a third-party issuer only where it names it (self only by default).
  routes: (config.routes as Record<string, unknown>[]).map((route) =>
    route.auth === 'token' ? { ...route, issuers: [PUBLIC_URL, PARTNER] } : route,
  ),
})

let net: Network
let logs: LogCapture
let partnerKey: TestKey
beforeEach(async () => {
  net = installNetwork()
  partnerKey ??= await makeKey('EdDSA')
  net.jwks.set(PARTNER, [partnerKey])
  logs = captureLogs()
})
afterEach(() => vi.restoreAllMocks())

/** A third-party token carrying every admin scope: validly signed by a trusted issuer. */
function partnerAdminToken(): Promise<string> {
  return mint(partnerKey, {
    issuer: PARTNER,
    audience: AUDIENCE,
    scope: 'echo:read gatehouse:admin gatehouse:operator',
    claims: { tid: 'acme' },
  })
}

const ADMIN_ENDPOINTS: [string, RequestInit][] = [
  ['/admin/revocations', json({ sub: 'usr_x', tenant: 'acme' })],
  ['/admin/sessions?sub=usr_x&tenant=acme', {}],
  ['/admin/sessions/sid-x', { method: 'DELETE' }],
  ['/admin/users', json({ tenant: 'acme', username: 'u', password: 'long enough pw' })],
  ['/admin/users/usr_x/disable', { method: 'POST' }],
  ['/admin/keys/rotate', json({ emergency: true })],
  ['/admin/keys', {}],
  ['/admin/audit-events?sub=usr_x', {}],
  ['/admin/explain', json({ token: 'x.y.z' })],
  ['/auth/introspect', json({ token: 'x.y.z' })],
  ['/metrics', {}],
]

describe('H1: the admin API takes our own tokens only', () => {
  it.each(ADMIN_ENDPOINTS)(
    'refuses a third-party token with admin and operator scopes on %s',
    async (path, init) => {
      const token = await partnerAdminToken()
      const res = await send(gw, path, { ...init, token })
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"')
      expect(logs.lastReason()).toBe('issuer_not_allowed')
    },
  )

  it('still lets the same third-party token through a proxied route (the check is the admin API’s)', async () => {
    const token = await partnerAdminToken()
    expect((await send(gw, '/api/echo/x', { token })).status).toBe(200)
  })
})

/** A user and a live session in another tenant, the target of every cross-tenant attempt. */
async function otherTenant(): Promise<WebSession> {
  return webSession(gw, ['echo:read'], 'globex')
}

async function expectTenantRefusal(res: Response): Promise<void> {
  expect(res.status).toBe(403)
  expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"')
  expect(logs.lastReason()).toBe('tenant_not_allowed')
}

describe('H2: gatehouse:admin acts inside its own tenant', () => {
  let admin: WebSession
  beforeEach(async () => {
    admin = await webSession(gw, ADMIN_SCOPES) // tenant acme
  })

  it('cannot create a user in another tenant', async () => {
    const username = `intruder-${crypto.randomUUID().slice(0, 6)}`
    const res = await send(gw, '/admin/users', {
      ...json({ tenant: 'globex', username, password: 'correct horse battery' }),
      token: admin.access,
    })
    await expectTenantRefusal(res)
    const row = await (await accountDb('globex', username))
      .prepare('SELECT id FROM users WHERE tenant = ?1 AND username = ?2')
      .bind('globex', username)
      .first()
    expect(row).toBeNull()
  })

  it.each(['password', 'disable', 'enable'])(
    'cannot %s a user of another tenant',
    async (action) => {
      const victim = await otherTenant()
      const res = await send(gw, `/admin/users/${victim.user.id}/${action}`, {
        ...json({ password: 'attacker chosen pw' }),
        token: admin.access,
      })
      await expectTenantRefusal(res)
      // Nothing changed: the victim's password and session both still work.
      expect((await login(gw, victim.user)).status).toBe(200)
      expect((await refreshWeb(gw, victim.refresh)).status).toBe(200)
    },
  )

  it('cannot list, end or revoke another tenant’s sessions', async () => {
    const victim = await otherTenant()
    const attempts: [string, RequestInit][] = [
      [`/admin/sessions?sub=${victim.user.id}&tenant=globex`, {}],
      [`/admin/sessions/${victim.sid}`, { method: 'DELETE' }],
      ['/admin/revocations', json({ sid: victim.sid })],
      ['/admin/revocations', json({ sub: victim.user.id, tenant: 'globex' })],
      ['/admin/revocations', json({ jti: split(victim.access).payload.jti })],
    ]
    for (const [path, init] of attempts) {
      await expectTenantRefusal(await send(gw, path, { ...init, token: admin.access }))
    }
    expect((await refreshWeb(gw, victim.refresh)).status).toBe(200)
    expect((await send(gw, '/api/secure/x', { token: victim.access })).status).toBe(200)
  })

  it('sees no session of another tenant’s user when it names no tenant', async () => {
    const victim = await otherTenant()
    const res = await send(gw, `/admin/sessions?sub=${victim.user.id}`, { token: admin.access })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ sessions: [] })
  })

  it('reads only its own tenant’s audit events', async () => {
    const victim = await otherTenant()
    await env.AUDIT_DB.prepare(
      "INSERT INTO audit_events (at, type, tenant, user_id, detail) VALUES (?1, 'login_succeeded', 'globex', ?2, '{}')",
    )
      .bind(Math.floor(Date.now() / 1000), victim.user.id)
      .run()
    const path = `/admin/audit-events?sub=${victim.user.id}`
    const own = await send(gw, path, { token: admin.access })
    expect(own.status).toBe(200)
    expect(await own.json()).toMatchObject({ events: [] })
    const operator = await webSession(gw, OPERATOR_SCOPES)
    const all = (await (await send(gw, path, { token: operator.access })).json()) as {
      events: unknown[]
    }
    expect(all.events.length).toBeGreaterThan(0)
  })

  it('learns nothing about another tenant’s token from introspection', async () => {
    const victim = await otherTenant()
    const body = json({ token: victim.access })
    const own = await send(gw, '/auth/introspect', { ...body, token: admin.access })
    expect(await own.json()).toEqual({ active: false })
    const operator = await webSession(gw, OPERATOR_SCOPES)
    const seen = await send(gw, '/auth/introspect', { ...body, token: operator.access })
    expect(await seen.json()).toMatchObject({ active: true, tid: 'globex' })
  })

  it.each([
    ['/admin/keys', {}],
    ['/admin/keys/rotate', json({ emergency: true })],
    ['/admin/explain', json({ token: 'x.y.z' })],
    ['/metrics', {}],
  ] as [string, RequestInit][])('needs gatehouse:operator for %s', async (path, init) => {
    const res = await send(gw, path, { ...init, token: admin.access })
    expect(res.status).toBe(403)
    expect(res.headers.get('www-authenticate')).toContain('scope="gatehouse:operator"')
    expect(logs.lastReason()).toBe('insufficient_scope')
  })

  it('cannot grant gatehouse:operator, even inside its own tenant', async () => {
    const username = `op-${crypto.randomUUID().slice(0, 6)}`
    const res = await send(gw, '/admin/users', {
      ...json({
        tenant: 'acme',
        username,
        password: 'correct horse battery',
        scopes: ['gatehouse:operator'],
      }),
      token: admin.access,
    })
    expect(res.status).toBe(403)
    expect(logs.lastReason()).toBe('insufficient_scope')
    const row = await (await accountDb('acme', username))
      .prepare('SELECT id FROM users WHERE tenant = ?1 AND username = ?2')
      .bind('acme', username)
      .first()
    expect(row).toBeNull()
  })

  it('administers its own tenant', async () => {
    const own = await webSession(gw, ['echo:read']) // tenant acme
    const res = await send(gw, '/admin/revocations', {
      ...json({ sid: own.sid }),
      token: admin.access,
    })
    expect(res.status).toBe(200)
    expect((await refreshWeb(gw, own.refresh)).status).toBe(401)
  })

  it('an operator crosses tenants', async () => {
    const operator = await webSession(gw, OPERATOR_SCOPES)
    const victim = await otherTenant()
    const res = await send(gw, `/admin/sessions/${victim.sid}`, {
      method: 'DELETE',
      token: operator.access,
    })
    expect(res.status).toBe(204)
    expect((await refreshWeb(gw, victim.refresh)).status).toBe(401)
  })
})

describe('L2 and L5: subject revocations name a real user; the actor stays the actor', () => {
  it('refuses {sub, tenant} that matches no user of ours in that tenant', async () => {
    const operator = await webSession(gw, OPERATOR_SCOPES)
    const user = await createTestUser({ tenant: 'acme' })
    const res = await send(gw, '/admin/revocations', {
      ...json({ sub: user.id, tenant: 'globex' }),
      token: operator.access,
    })
    expect(res.status).toBe(404)
    expect(logs.lastReason()).toBe('route_not_found')
  })

  it('logs the admin as the subject and the inspected token as the target', async () => {
    const operator = await webSession(gw, OPERATOR_SCOPES)
    const victim = await webSession(gw, ['echo:read'])
    await send(gw, '/auth/introspect', {
      ...json({ token: victim.access }),
      token: operator.access,
    })
    await send(gw, '/admin/revocations', {
      ...json({ sid: victim.sid }),
      token: operator.access,
    })
    const requests = logs.lines.filter((l) => l.event === 'request')
    const [introspect, revoke] = requests.slice(-2)
    for (const line of [introspect, revoke]) {
      expect(line?.sid).toBe(operator.sid)
      expect(line?.jti).toBe(split(operator.access).payload.jti)
    }
    expect(introspect?.target_jti).toBe(split(victim.access).payload.jti)
    expect(introspect?.target_sid).toBe(victim.sid)
    expect(revoke?.target_sid).toBe(victim.sid)
  })
})
