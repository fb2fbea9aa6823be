// Seeds the local demo profile (v2): tenant `demo` (alice, admin) and tenant `acme` (bob,
// acme-admin). Idempotent —
// re-running resets their passwords and scopes and keeps their ids. Local D1 only: a deployed
// gateway starts with no users (see scripts/create-user.mjs).

import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hashPassword, upsertUserSql } from './lib/password.mjs'

export const DEMO_USERS = [
  {
    id: 'usr_demo_alice',
    tenant: 'demo',
    username: 'alice',
    password: 'alice-demo-password',
    scopes: 'echo:read echo:write',
  },
  {
    id: 'usr_demo_admin',
    tenant: 'demo',
    username: 'admin',
    password: 'admin-demo-password',
    scopes: 'echo:read echo:admin gatehouse:admin gatehouse:operator',
  },
  {
    id: 'usr_acme_bob',
    tenant: 'acme',
    username: 'bob',
    password: 'bob-demo-password',
    scopes: 'echo:read',
  },
  {
    id: 'usr_acme_admin',
    tenant: 'acme',
    username: 'acme-admin',
    password: 'acme-admin-demo-password',
    scopes: 'echo:read gatehouse:admin',
  },
]

export async function seedDemo({ root, wrangler, pepper, persist = [] }) {
  const now = Math.floor(Date.now() / 1000)
  const statements = []
  for (const user of DEMO_USERS) {
    const stored = await hashPassword(user.password, pepper)
    statements.push(upsertUserSql({ ...user, stored, now }))
  }
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-seed-'))
  const file = join(dir, 'seed.sql')
  writeFileSync(file, statements.join('\n'), { mode: 0o600 })
  try {
    const result = spawnSync(
      wrangler,
      ['d1', 'execute', 'DB', '--local', '--file', file, ...persist],
      {
        cwd: root,
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, CI: '1' },
      },
    )
    if (result.status !== 0)
      throw new Error(`seeding the demo users failed (exit ${result.status})`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const names = DEMO_USERS.map((u) => `${u.username} (${u.tenant})`).join(', ')
  console.log(`seeded demo users: ${names}`)
}
