// Seeds the local demo profile (v2): tenant `demo` (alice, admin) and tenant `acme` (bob,
// acme-admin), each on the session shard its account's bucket belongs to (alice and admin land on
// SESSIONS_1, bob and acme-admin on SESSIONS_0, so the demo exercises both). Idempotent —
// re-running resets their passwords and scopes and keeps their ids. Local D1 only: a deployed
// gateway starts with no users (see scripts/create-user.mjs).

import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hashPassword, upsertUserSql } from './lib/password.mjs'
import { accountBucket, shardFor } from './lib/placement.mjs'

export const DEMO_USERS = [
  {
    id: 'usr_3e3_demo_alice',
    tenant: 'demo',
    username: 'alice',
    password: 'alice-demo-password',
    scopes: 'echo:read echo:write',
  },
  {
    id: 'usr_28c_demo_admin',
    tenant: 'demo',
    username: 'admin',
    password: 'admin-demo-password',
    scopes: 'echo:read echo:admin gatehouse:admin gatehouse:operator',
  },
  {
    id: 'usr_03c_acme_bob',
    tenant: 'acme',
    username: 'bob',
    password: 'bob-demo-password',
    scopes: 'echo:read',
  },
  {
    id: 'usr_180_acme_admin',
    tenant: 'acme',
    username: 'acme-admin',
    password: 'acme-admin-demo-password',
    scopes: 'echo:read gatehouse:admin',
  },
]

/** `config` is the demo configuration document (its storage table places the users). */
export async function seedDemo({ root, wrangler, pepper, config, persist = [] }) {
  const now = Math.floor(Date.now() / 1000)
  const byShard = new Map()
  for (const user of DEMO_USERS) {
    const bucket = await accountBucket(user.tenant, user.username)
    if (!user.id.startsWith(`usr_${bucket.toString(16).padStart(3, '0')}_`)) {
      throw new Error(`${user.id} does not name its account's bucket ${bucket}`)
    }
    const stored = await hashPassword(user.password, pepper)
    const shard = shardFor(bucket, config)
    byShard.set(shard, [...(byShard.get(shard) ?? []), upsertUserSql({ ...user, stored, now })])
  }
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-seed-'))
  try {
    for (const [shard, statements] of byShard) {
      const file = join(dir, `${shard}.sql`)
      writeFileSync(file, statements.join('\n'), { mode: 0o600 })
      const result = spawnSync(
        wrangler,
        ['d1', 'execute', shard, '--local', '--file', file, ...persist],
        {
          cwd: root,
          stdio: ['ignore', 'ignore', 'inherit'],
          env: { ...process.env, CI: '1' },
        },
      )
      if (result.status !== 0)
        throw new Error(`seeding the demo users on ${shard} failed (exit ${result.status})`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const names = DEMO_USERS.map((u) => `${u.username} (${u.tenant})`).join(', ')
  console.log(`seeded demo users: ${names}`)
}
