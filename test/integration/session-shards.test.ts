// Sharded session storage (issue #12) on the real local D1 databases of the test profile: two
// session shards and an audit database. Every hot operation reaches exactly the shard its
// identifier names; a token naming no shard, a frozen bucket and a shard that is down each get
// their own answer, and nothing is consumed by a refusal.

import { env } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ConfigError } from '../../src/config/config'
import { servicesFor } from '../../src/http/services'
import { createSession } from '../../src/sessions/session-store'
import { hashRefreshToken } from '../../src/sessions/refresh-token'
import { accountBucket, networkBucket, sessionBucket } from '../../src/storage/placement'
import {
  APP_ORIGIN,
  authConfig,
  authEnv,
  cookieToken,
  createTestUser,
  login,
  operatorAccess,
  refreshWeb,
  sessionIdOf,
  testIp,
  type TestUser,
} from '../helpers/auth'
import { captureLogs, installNetwork, send, testEnv } from '../helpers/gateway'
import { TEST_STORAGE, brokenDb, bucketDb, sessionDb } from '../helpers/shards'

const gw = authEnv()
beforeEach(() => {
  installNetwork()
})
afterEach(() => vi.restoreAllMocks())

/** A fresh user whose account bucket lies on the wanted test shard (0: buckets 0-511). */
async function userOnShard(shard: 0 | 1): Promise<TestUser> {
  for (;;) {
    const username = `u-${crypto.randomUUID().slice(0, 12)}`
    const bucket = await accountBucket('acme', username)
    if ((bucket < 512 ? 0 : 1) === shard) return createTestUser({ username })
  }
}

async function tokenRow(sid: string, db: D1Database) {
  return db
    .prepare('SELECT used_at FROM refresh_tokens WHERE sid = ?1 AND generation = 0')
    .bind(sid)
    .first<{ used_at: number | null }>()
}

describe('placement', () => {
  it('keeps a session and its tokens on the shard its account’s bucket names, and only there', async () => {
    const seen = new Set<number>()
    for (let i = 0; i < 8; i++) {
      const user = await createTestUser()
      const refresh = cookieToken(await login(gw, user))
      const sid = sessionIdOf(refresh)
      const bucket = await accountBucket(user.tenant, user.username)
      expect(sessionBucket(sid)).toBe(bucket)
      const home = bucketDb(bucket)
      const other = home === env.SESSIONS_0 ? env.SESSIONS_1 : env.SESSIONS_0
      expect(await tokenRow(sid, home)).not.toBeNull()
      expect(await tokenRow(sid, other)).toBeNull()
      seen.add(bucket < 512 ? 0 : 1)
      expect((await refreshWeb(gw, refresh)).status).toBe(200)
    }
    expect(seen.size).toBe(2) // 8 random accounts on one shard: 1 in 128
  })

  it('lists a user’s sessions from the user’s shard', async () => {
    const user = await userOnShard(1)
    const sid = sessionIdOf(cookieToken(await login(gw, user)))
    const res = await send(gw, `/admin/sessions?sub=${user.id}&tenant=acme`, {
      token: await operatorAccess(gw),
    })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { sessions: { sid: string }[] }
    expect(body.sessions.map((s) => s.sid)).toEqual([sid])
  })

  it('refreshes a session minted before sharding (no bucket in its id) on bucket 0’s shard', async () => {
    const user = await userOnShard(0)
    const legacySid = crypto.randomUUID().replace(/-/g, '').slice(0, 22)
    const token = `ghr1.${legacySid}.${'Q'.repeat(42)}A`
    const now = Math.floor(Date.now() / 1000)
    await createSession(
      env.SESSIONS_0,
      {
        sid: legacySid,
        userId: user.id,
        tenant: 'acme',
        clientType: 'web',
        deviceId: null,
        scope: 'echo:read',
        createdAt: now,
        lastUsedAt: now,
        absoluteExpiresAt: now + 3600,
        idleExpiresAt: now + 3600,
        revokedAt: null,
        revokedReason: null,
        createdCountry: null,
        lastCountry: null,
        userAgentHash: null,
        credentialVersion: 0,
        dpopJkt: null,
        amr: ['pwd'],
        authTime: 0,
      },
      await hashRefreshToken(token),
      now + 3600,
    )
    const res = await refreshWeb(gw, token)
    expect(res.status).toBe(200)
    expect(sessionIdOf(cookieToken(res))).toBe(legacySid)
  })
})

describe('bad input and faults', () => {
  it('refuses a refresh token naming a bucket that does not exist: 401 invalid_grant, logged', async () => {
    const logs = captureLogs()
    const token = `ghr1.fff${'A'.repeat(22)}.${'A'.repeat(43)}`
    const res = await refreshWeb(gw, token)
    expect(res.status).toBe(401)
    expect(((await res.json()) as { error: string }).error).toBe('invalid_grant')
    const line = logs.lines.find((l) => l.event === 'request')
    expect(line).toMatchObject({ reason: 'invalid_grant', detail: 'token names no shard' })
  })

  it('keeps serving the other shard while one is down; the failed one consumes nothing', async () => {
    const healthy = await userOnShard(0)
    const stricken = await userOnShard(1)
    const healthyToken = cookieToken(await login(gw, healthy))
    const strickenToken = cookieToken(await login(gw, stricken))
    const down = testEnv(authConfig(), { SESSIONS_1: brokenDb('prepare', env.SESSIONS_1) })
    const logs = captureLogs()

    const refused = await refreshWeb(down, strickenToken)
    expect(refused.status).toBe(503)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(refused.headers.getSetCookie()).toEqual([])
    expect(logs.lines.find((l) => l.event === 'request')).toMatchObject({
      reason: 'store_unavailable',
      shard: 'SESSIONS_1',
    })
    expect((await tokenRow(sessionIdOf(strickenToken), env.SESSIONS_1))?.used_at).toBeNull()
    const loginRefused = await login(
      down,
      stricken,
      {},
      { origin: APP_ORIGIN, 'cf-connecting-ip': testIp() },
    )
    expect(loginRefused.status).toBe(503)
    expect(Number(loginRefused.headers.get('retry-after'))).toBeGreaterThan(0)

    // The other shard's users refresh and log in, from any network (a network counter on the
    // broken shard is kept on the account's shard meanwhile).
    expect((await refreshWeb(down, healthyToken)).status).toBe(200)
    for (let i = 0; i < 4; i++) {
      const ip = testIp()
      const res = await login(down, healthy, {}, { origin: APP_ORIGIN, 'cf-connecting-ip': ip })
      expect(res.status, ip).toBe(200)
    }
    // Back up: the stricken session's token was never consumed.
    expect((await refreshWeb(gw, strickenToken)).status).toBe(200)
  })

  it('answers 503 with Retry-After for a frozen bucket, and consumes nothing', async () => {
    const user = await createTestUser()
    const token = cookieToken(await login(gw, user))
    const bucket = await accountBucket(user.tenant, user.username)
    const frozen = testEnv({
      ...authConfig(),
      storage: { ...TEST_STORAGE, frozen_buckets: String(bucket) },
    })
    const res = await refreshWeb(frozen, token)
    expect(res.status).toBe(503)
    expect(Number(res.headers.get('retry-after'))).toBe(30)
    expect((await login(frozen, user)).status).toBe(503)
    expect((await tokenRow(sessionIdOf(token), sessionDb(sessionIdOf(token))))?.used_at).toBeNull()
    expect((await refreshWeb(gw, token)).status).toBe(200)
  })
})

describe('frozen buckets and networks', () => {
  it('never refuses a login because the client network’s counter bucket is frozen', async () => {
    const user = await createTestUser()
    const ip = '198.51.100.77'
    const networkOf = await networkBucket(`ip:${ip}`)
    const accountOf = await accountBucket(user.tenant, user.username)
    expect(networkOf).not.toBe(accountOf)
    const frozen = testEnv({
      ...authConfig(),
      storage: { ...TEST_STORAGE, frozen_buckets: String(networkOf) },
    })
    const res = await login(frozen, user, {}, { origin: APP_ORIGIN, 'cf-connecting-ip': ip })
    expect(res.status).toBe(200)
  })
})

describe('configuration', () => {
  const parse = (storage: unknown, overrides: Record<string, unknown> = {}) =>
    servicesFor(testEnv({ ...authConfig(), storage }, overrides))

  const problem = (result: ReturnType<typeof parse>) =>
    result instanceof ConfigError ? result.issues.map((i) => `${i.field}: ${i.problem}`) : []

  it('names a bucket no shard owns, a bucket two shards own, and a malformed range', () => {
    expect(
      problem(parse({ session_shards: [{ binding: 'SESSIONS_0', buckets: '0-1022' }] })),
    ).toEqual([
      'GATEHOUSE.storage.session_shards: bucket 1023 is owned by no shard (buckets 0-1023 must all be)',
    ])
    expect(
      problem(
        parse({
          session_shards: [
            { binding: 'SESSIONS_0', buckets: '0-600' },
            { binding: 'SESSIONS_1', buckets: '512-1023' },
          ],
        }),
      ),
    ).toEqual([
      'GATEHOUSE.storage.session_shards: bucket 512 is owned by both SESSIONS_0 and SESSIONS_1',
    ])
    expect(
      problem(parse({ session_shards: [{ binding: 'SESSIONS_0', buckets: '0-2000' }] })),
    ).toContain('GATEHOUSE.storage.session_shards[0].buckets: buckets are numbered 0 to 1023')
  })

  it('refuses an audit database that is a session shard', () => {
    expect(problem(parse({ ...TEST_STORAGE, audit_database: 'SESSIONS_1' }))).toEqual([
      'GATEHOUSE.storage.audit_database: must not be a session shard: audit writes would compete with refreshes',
    ])
  })

  it('names a shard whose D1 binding is missing', () => {
    expect(
      problem(
        parse({
          ...TEST_STORAGE,
          session_shards: [
            { binding: 'SESSIONS_0', buckets: '0-511' },
            { binding: 'SESSIONS_9', buckets: '512-1023' },
          ],
        }),
      ),
    ).toEqual([
      'GATEHOUSE.storage.session_shards[1].binding: D1 database SESSIONS_9 is not bound (wrangler.toml [[d1_databases]] binding = "SESSIONS_9")',
    ])
  })
})
