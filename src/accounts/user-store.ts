// All D1 SQL for the users table: typed rows, one mapper, numbered binds. Usernames are
// compared in a normalised form (NFKC, lower case) so "Alice" and "alice" are one account.

import type { PasswordScheme, StoredPassword } from './password-hash'

export type UserStatus = 'active' | 'disabled'

export interface User {
  readonly id: string
  readonly tenant: string
  readonly username: string
  readonly password: StoredPassword
  readonly scopes: readonly string[]
  readonly status: UserStatus
  /** Epoch seconds. */
  readonly passwordChangedAt: number
  /** Bumped by every password change; sessions carry the version their login verified. */
  readonly credentialVersion: number
  readonly createdAt: number
}

interface UserRow {
  id: string
  tenant: string
  username: string
  password_scheme: string
  password_params: string
  password_hash: string
  scopes: string
  status: string
  password_changed_at: number
  credential_version: number
  created_at: number
}

function toUser(row: UserRow): User {
  return {
    ...toUserSummary(row),
    password: {
      scheme: row.password_scheme as PasswordScheme,
      params: row.password_params,
      hash: row.password_hash,
    },
    credentialVersion: row.credential_version,
  }
}

/** What an administrator may see of a user: no password material. */
export interface UserSummary {
  readonly id: string
  readonly tenant: string
  readonly username: string
  readonly scopes: readonly string[]
  readonly status: UserStatus
  /** Epoch seconds. */
  readonly passwordChangedAt: number
  readonly createdAt: number
}

/** A listed user, with the number of its active second factors. */
export interface ListedUser extends UserSummary {
  readonly factors: number
}

type SummaryRow = Pick<
  UserRow,
  'id' | 'tenant' | 'username' | 'scopes' | 'status' | 'password_changed_at' | 'created_at'
>

function toUserSummary(row: SummaryRow): UserSummary {
  return {
    id: row.id,
    tenant: row.tenant,
    username: row.username,
    scopes: row.scopes === '' ? [] : row.scopes.split(' '),
    status: row.status as UserStatus,
    passwordChangedAt: row.password_changed_at,
    createdAt: row.created_at,
  }
}

/** The form usernames are stored and looked up in. */
export function normalizeUsername(username: string): string {
  return username.normalize('NFKC').toLowerCase()
}

export async function findUserByName(
  db: D1Database,
  tenant: string,
  username: string,
): Promise<User | null> {
  const row = await db
    .prepare('SELECT * FROM users WHERE tenant = ?1 AND username = ?2')
    .bind(tenant, normalizeUsername(username))
    .first<UserRow>()
  return row === null ? null : toUser(row)
}

export async function findUserById(db: D1Database, id: string): Promise<User | null> {
  const row = await db.prepare('SELECT * FROM users WHERE id = ?1').bind(id).first<UserRow>()
  return row === null ? null : toUser(row)
}

/** Replaces a hash with one at the current policy; not a password change (sessions survive). */
export async function upgradePasswordHash(
  db: D1Database,
  id: string,
  stored: StoredPassword,
): Promise<void> {
  await db
    .prepare(
      'UPDATE users SET password_scheme = ?2, password_params = ?3, password_hash = ?4 WHERE id = ?1',
    )
    .bind(id, stored.scheme, stored.params, stored.hash)
    .run()
}

/** Sets a new password and bumps the credential version: every existing session stops refreshing. */
export async function changePassword(
  db: D1Database,
  id: string,
  stored: StoredPassword,
  now: number,
): Promise<void> {
  await db
    .prepare(
      'UPDATE users SET password_scheme = ?2, password_params = ?3, password_hash = ?4, password_changed_at = ?5, credential_version = credential_version + 1 WHERE id = ?1',
    )
    .bind(id, stored.scheme, stored.params, stored.hash, now)
    .run()
}

export interface NewUser {
  readonly id: string
  readonly tenant: string
  readonly username: string
  readonly password: StoredPassword
  readonly scopes: readonly string[]
}

/** Inserts a user; returns false if the (tenant, username) already exists. */
export async function createUser(db: D1Database, user: NewUser, now: number): Promise<boolean> {
  const result = await db
    .prepare(
      `INSERT INTO users (id, tenant, username, password_scheme, password_params, password_hash, scopes, status, password_changed_at, created_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'active', ?8, ?8)
       ON CONFLICT (tenant, username) DO NOTHING`,
    )
    .bind(
      user.id,
      user.tenant,
      normalizeUsername(user.username),
      user.password.scheme,
      user.password.params,
      user.password.hash,
      user.scopes.join(' '),
      now,
    )
    .run()
  return result.meta.changes === 1
}

export async function setUserStatus(
  db: D1Database,
  id: string,
  status: UserStatus,
): Promise<boolean> {
  const result = await db
    .prepare('UPDATE users SET status = ?2 WHERE id = ?1')
    .bind(id, status)
    .run()
  return result.meta.changes === 1
}

/** Replaces a user's scopes; returns false when there is no such user. */
export async function setUserScopes(
  db: D1Database,
  id: string,
  scopes: readonly string[],
): Promise<boolean> {
  const result = await db
    .prepare('UPDATE users SET scopes = ?2 WHERE id = ?1')
    .bind(id, scopes.join(' '))
    .run()
  return result.meta.changes === 1
}

/**
 * One page of a tenant's users on one shard: ids after `afterId` ('' for the first page), in id
 * order, at most `limit`, each with its active-factor count — one statement (a correlated
 * subquery on factors_by_user), never the password columns.
 */
export async function listTenantUsers(
  db: D1Database,
  tenant: string,
  afterId: string,
  limit: number,
): Promise<ListedUser[]> {
  const { results } = await db
    .prepare(
      `SELECT id, tenant, username, scopes, status, password_changed_at, created_at,
         (SELECT COUNT(*) FROM factors f WHERE f.user_id = users.id AND f.status = 'active') AS factors
       FROM users WHERE tenant = ?1 AND id > ?2 ORDER BY id LIMIT ?3`,
    )
    .bind(tenant, afterId, limit)
    .all<SummaryRow & { factors: number }>()
  return results.map((row) => ({ ...toUserSummary(row), factors: row.factors }))
}
