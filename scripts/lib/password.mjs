// Node-side twin of src/accounts/password-hash.ts (Argon2id at OWASP parameters over
// HMAC-SHA256(pepper, password)), for scripts that create users directly in D1. The demo login
// test proves the two agree: a user seeded here logs in through the Worker. Where a user goes
// (its shard, its bucket-carrying id) is scripts/lib/placement.mjs's business, not this file's.

import initialize from '@phi-ag/argon2/node'
import { createHmac } from 'node:crypto'
import { normalizeUsername } from './placement.mjs'

export const ARGON2_PARAMS = { m: 19456, t: 2, p: 1 }

let argon2
export async function hashPassword(password, pepper) {
  argon2 ??= await initialize()
  const peppered = createHmac('sha256', pepper).update(password, 'utf8').digest('base64url')
  const { encoded } = argon2.hash(peppered, {
    memoryCost: ARGON2_PARAMS.m,
    timeCost: ARGON2_PARAMS.t,
    parallelism: ARGON2_PARAMS.p,
    hashLength: 32,
  })
  return { scheme: 'argon2id', params: JSON.stringify(ARGON2_PARAMS), hash: encoded }
}

/** SQL string literal (single quotes doubled); used only with values the script controls. */
export function sql(value) {
  return `'${String(value).replace(/'/g, "''")}'`
}

/**
 * An idempotent upsert of one user: the password and scopes are (re)set, the id is kept. Run it
 * on the shard owning the account's bucket, with an id naming that bucket (placement.mjs).
 */
export function upsertUserSql({ id, tenant, username, stored, scopes, now }) {
  return `INSERT INTO users (id, tenant, username, password_scheme, password_params, password_hash, scopes, status, password_changed_at, created_at)
VALUES (${sql(id)}, ${sql(tenant)}, ${sql(normalizeUsername(username))}, ${sql(stored.scheme)}, ${sql(stored.params)}, ${sql(stored.hash)}, ${sql(scopes)}, 'active', ${now}, ${now})
ON CONFLICT (tenant, username) DO UPDATE SET password_scheme = excluded.password_scheme, password_params = excluded.password_params,
  password_hash = excluded.password_hash, scopes = excluded.scopes, status = 'active';`
}
