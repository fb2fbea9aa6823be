// Listing a tenant's users and changing a user's scopes (issue #18, item 3): pages merged across
// both test shards, the tenant boundary, strict limit and cursor, the operator scope only an
// operator hands out, and a removed scope leaving the session's grant at its next refresh.
// Each refusal asserts the status, the logged reason and that nothing changed.

import { env } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { ListedUser } from '../../src/accounts/user-store'
import { mergePages } from '../../src/http/admin/admin-users'
import { userBucket } from '../../src/storage/placement'
import {
  ADMIN_SCOPES,
  OPERATOR_SCOPES,
  authEnv,
  createTestUser,
  json,
  login,
  refreshWeb,
  webSession,
  type TestUser,
  type WebSession,
} from '../helpers/auth'
import { captureLogs, installNetwork, send, type LogCapture } from '../helpers/gateway'
import { userDb } from '../helpers/shards'
import { b64url, split } from '../helpers/tokens'

const gw = authEnv()
/** The bucket boundary of the two test shards (test/helpers/shards.ts). */
const SPLIT = 512
/** Enough tries that a fresh tenant's users land on both shards (each try is a coin flip). */
const MAX_CREATED = 40

let logs: LogCapture
beforeEach(() => {
  installNetwork()
  logs = captureLogs()
})
afterEach(() => vi.restoreAllMocks())

const freshTenant = () => `t-${crypto.randomUUID().slice(0, 8)}`
const onFirstShard = (u: TestUser) => (userBucket(u.id) as number) < SPLIT

interface Page {
  users: (Record<string, unknown> & { id: string })[]
  next_cursor: string | null
}

/** At least `min` users in a fresh tenant, some on each shard. */
async function usersOnBothShards(tenant: string, min = 5): Promise<TestUser[]> {
  const users: TestUser[] = []
  while (users.length < min || users.every(onFirstShard) || !users.some(onFirstShard)) {
    if (users.length >= MAX_CREATED) throw new Error('users never reached both shards')
    users.push(await createTestUser({ tenant, scopes: ['echo:read'] }))
  }
  return users
}

async function listPage(token: string, query: string): Promise<Response> {
  return send(gw, `/admin/users?${query}`, { token })
}

async function expectRefusal(res: Response, status: number, reason: string): Promise<void> {
  expect(res.status).toBe(status)
  expect(logs.lastReason()).toBe(reason)
}

async function storedScopes(userId: string): Promise<string | undefined> {
  const row = await userDb(userId)
    .prepare('SELECT scopes FROM users WHERE id = ?1')
    .bind(userId)
    .first<{ scopes: string }>()
  return row?.scopes
}

describe('GET /admin/users', () => {
  it('pages a tenant across both shards: every user once, in id order', async () => {
    const tenant = freshTenant()
    const users = await usersOnBothShards(tenant)
    const operator = await webSession(gw, OPERATOR_SCOPES)
    const seen: string[] = []
    let cursor: string | null = null
    for (let pages = 0; pages <= users.length; pages++) {
      const query: string = `tenant=${tenant}&limit=2${cursor === null ? '' : `&cursor=${cursor}`}`
      const res = await listPage(operator.access, query)
      expect(res.status).toBe(200)
      const page = (await res.json()) as Page
      expect(page.users.length).toBeLessThanOrEqual(2)
      seen.push(...page.users.map((u) => u.id))
      cursor = page.next_cursor
      if (cursor === null) break
    }
    expect(cursor).toBeNull()
    expect(seen).toEqual(users.map((u) => u.id).sort())
  })

  it('lists a user once when a bucket move left a copy on a shard that no longer owns it', async () => {
    const tenant = freshTenant()
    const user = await createTestUser({ tenant })
    const row = await userDb(user.id)
      .prepare('SELECT * FROM users WHERE id = ?1')
      .bind(user.id)
      .first<Record<string, unknown>>()
    const columns = Object.keys(row ?? {})
    const stale = onFirstShard(user) ? env.SESSIONS_1 : env.SESSIONS_0
    await stale
      .prepare(
        `INSERT INTO users (${columns.join(', ')}) VALUES (${columns.map((_, i) => `?${i + 1}`).join(', ')})`,
      )
      .bind(...columns.map((c) => row?.[c]))
      .run()
    const operator = await webSession(gw, OPERATOR_SCOPES)
    const page = (await (await listPage(operator.access, `tenant=${tenant}`)).json()) as Page
    expect(page.users.map((u) => u.id)).toEqual([user.id])
  })

  it('answers what an admin may see, with the active-factor count and no password', async () => {
    const tenant = freshTenant()
    const user = await createTestUser({ tenant, scopes: ['echo:read', 'echo:write'] })
    const insert = `INSERT INTO factors (id, user_id, tenant, type, status, created_at) VALUES (?1, ?2, ?3, 'totp', ?4, 0)`
    for (const status of ['active', 'active', 'pending']) {
      await userDb(user.id)
        .prepare(insert)
        .bind(`fac_${crypto.randomUUID()}`, user.id, tenant, status)
        .run()
    }
    const operator = await webSession(gw, OPERATOR_SCOPES)
    const page = (await (await listPage(operator.access, `tenant=${tenant}`)).json()) as Page
    expect(page).toEqual({
      users: [
        {
          id: user.id,
          username: user.username,
          scopes: ['echo:read', 'echo:write'],
          status: 'active',
          created_at: expect.any(Number),
          password_changed_at: expect.any(Number),
          factors: 2,
        },
      ],
      next_cursor: null,
    })
  })

  it('lists a tenant admin’s own tenant by default', async () => {
    const tenant = freshTenant()
    const admin = await webSession(gw, ADMIN_SCOPES, tenant)
    const other = await createTestUser({ tenant })
    const res = await listPage(admin.access, '')
    expect(res.status).toBe(200)
    const ids = ((await res.json()) as Page).users.map((u) => u.id)
    expect(ids).toEqual([admin.user.id, other.id].sort())
  })

  it('refuses a tenant admin another tenant’s users', async () => {
    const victims = freshTenant()
    await createTestUser({ tenant: victims })
    const admin = await webSession(gw, ADMIN_SCOPES) // tenant acme
    const res = await listPage(admin.access, `tenant=${victims}`)
    await expectRefusal(res, 403, 'tenant_not_allowed')
    expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"')
    expect(JSON.stringify(await res.json())).not.toContain(victims)
  })

  it('makes an operator name the tenant', async () => {
    const operator = await webSession(gw, OPERATOR_SCOPES)
    await expectRefusal(await listPage(operator.access, ''), 400, 'bad_request')
  })

  it.each(['a%20b', 'x'.repeat(65), ''])('refuses tenant=%s', async (tenant) => {
    const operator = await webSession(gw, OPERATOR_SCOPES)
    await expectRefusal(await listPage(operator.access, `tenant=${tenant}`), 400, 'bad_request')
  })

  it.each(['0', '201', '-1', '1.5', 'ten', '', '050'])('refuses limit=%s', async (limit) => {
    const operator = await webSession(gw, OPERATOR_SCOPES)
    const res = await listPage(operator.access, `tenant=acme&limit=${limit}`)
    await expectRefusal(res, 400, 'bad_request')
  })

  it.each([
    ['not base64url', 'a+b/c'],
    ['a non-canonical encoding', 'dXNyX3h5'.slice(0, 7)],
    ['a non-user id', b64url('x')],
    ['SQL', b64url("usr_' OR 1=1 --")],
    ['an over-long id', b64url(`usr_${'a'.repeat(73)}`)],
  ])('refuses a cursor that is %s', async (_what, cursor) => {
    const operator = await webSession(gw, OPERATOR_SCOPES)
    const res = await listPage(operator.access, `tenant=acme&cursor=${encodeURIComponent(cursor)}`)
    await expectRefusal(res, 400, 'bad_request')
  })
})

/** The admin API's scopes change. */
function changeScopes(token: string, userId: string, scopes: unknown): Promise<Response> {
  return send(gw, `/admin/users/${userId}/scopes`, { ...json({ scopes }), token })
}

describe('POST /admin/users/:id/scopes', () => {
  let admin: WebSession
  beforeEach(async () => {
    admin = await webSession(gw, ADMIN_SCOPES) // tenant acme
  })

  it('replaces the scopes; the next refresh narrows the session, issued tokens keep theirs', async () => {
    const user = await webSession(gw, ['echo:read', 'echo:write'])
    const res = await changeScopes(admin.access, user.user.id, ['echo:read', 'echo:read'])
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ id: user.user.id, scopes: ['echo:read'] })
    expect(await storedScopes(user.user.id)).toBe('echo:read')
    const event = logs.lines.find((l) => l.type === 'user_scopes_changed')
    expect(event).toMatchObject({
      type: 'user_scopes_changed',
      user_id: user.user.id,
      tenant: 'acme',
      actor: admin.user.id,
      added: '',
      removed: 'echo:write',
    })
    // Ends nothing: the access token already issued keeps echo:write until it expires …
    expect((await send(gw, '/api/echo/x', { method: 'POST', token: user.access })).status).toBe(200)
    // … and the session's next refresh no longer grants it.
    const refreshed = await refreshWeb(gw, user.refresh)
    expect(refreshed.status).toBe(200)
    const body = (await refreshed.json()) as { access_token: string; scope: string }
    expect(body.scope).toBe('echo:read')
    expect(split(body.access_token).payload.scope).toBe('echo:read')
    const write = await send(gw, '/api/echo/x', { method: 'POST', token: body.access_token })
    expect(write.status).toBe(403)
  })

  it('refuses to change the scopes of another tenant’s user', async () => {
    const victim = await createTestUser({ tenant: 'globex', scopes: ['echo:read'] })
    const res = await changeScopes(admin.access, victim.id, ['echo:read', 'gatehouse:admin'])
    await expectRefusal(res, 403, 'tenant_not_allowed')
    expect(await storedScopes(victim.id)).toBe('echo:read')
  })

  it('refuses a tenant admin granting gatehouse:operator, even in its own tenant', async () => {
    const user = await createTestUser({ scopes: ['echo:read'] })
    const res = await changeScopes(admin.access, user.id, ['echo:read', 'gatehouse:operator'])
    await expectRefusal(res, 403, 'insufficient_scope')
    expect(res.headers.get('www-authenticate')).toContain('scope="gatehouse:operator"')
    expect(await storedScopes(user.id)).toBe('echo:read')
  })

  it('refuses a tenant admin changing an operator’s scopes', async () => {
    const operator = await createTestUser({ scopes: OPERATOR_SCOPES })
    const res = await changeScopes(admin.access, operator.id, ['echo:read'])
    await expectRefusal(res, 403, 'insufficient_scope')
    expect(await storedScopes(operator.id)).toBe(OPERATOR_SCOPES.join(' '))
  })

  it.each(['disable', 'password', 'reset-factors', 'enable'])(
    'refuses a tenant admin acting on an operator: %s (the operator could be taken over)',
    async (action) => {
      const operator = await createTestUser({ scopes: OPERATOR_SCOPES })
      const body = action === 'password' ? { password: 'a-new-password-for-the-operator' } : {}
      const res = await send(gw, `/admin/users/${operator.id}/${action}`, {
        ...json(body),
        token: admin.access,
      })
      await expectRefusal(res, 403, 'insufficient_scope')
      // The operator's own password still logs in.
      expect((await login(gw, operator)).status).toBe(200)
    },
  )

  it('lets an operator grant gatehouse:operator across tenants', async () => {
    const operator = await webSession(gw, OPERATOR_SCOPES)
    const user = await createTestUser({ tenant: 'globex', scopes: [] })
    const res = await changeScopes(operator.access, user.id, ['gatehouse:operator'])
    expect(res.status).toBe(200)
    expect(await storedScopes(user.id)).toBe('gatehouse:operator')
  })

  it.each([
    ['a string', 'echo:read'],
    ['a scope with a space', ['echo:read echo:write']],
    ['a non-string', [1]],
    ['nothing', undefined],
  ])('refuses scopes that are %s', async (_what, scopes) => {
    const user = await createTestUser({ scopes: ['echo:read'] })
    await expectRefusal(await changeScopes(admin.access, user.id, scopes), 400, 'bad_request')
    expect(await storedScopes(user.id)).toBe('echo:read')
  })
})

describe('mergePages', () => {
  const user = (id: string) => ({ id }) as ListedUser
  const ids = (r: { users: ListedUser[] }) => r.users.map((u) => u.id)

  it('takes the smallest ids of every shard’s page', () => {
    const r = mergePages(
      [
        { users: [user('usr_a'), user('usr_c')], fullUpTo: 'usr_c' },
        { users: [user('usr_b')], fullUpTo: null },
      ],
      2,
    )
    expect(ids(r)).toEqual(['usr_a', 'usr_b'])
    expect(r.next).toBe('usr_b')
  })

  it('ends when no shard had more', () => {
    const r = mergePages([{ users: [user('usr_a')], fullUpTo: null }], 2)
    expect(r).toEqual({ users: [user('usr_a')], next: null })
  })

  it('stops at a full shard’s last id when a lingering copy was dropped from its page', () => {
    // Shard 0 returned a full page, usr_a and usr_b (usr_b a copy it no longer owns, dropped);
    // it may hold more users after usr_b, smaller than usr_d: usr_d waits for the next page.
    const r = mergePages(
      [
        { users: [user('usr_a')], fullUpTo: 'usr_b' },
        { users: [user('usr_d')], fullUpTo: null },
      ],
      2,
    )
    expect(ids(r)).toEqual(['usr_a'])
    expect(r.next).toBe('usr_b')
  })
})
