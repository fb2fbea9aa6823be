// Admin: listing a tenant's users, and changing a user's scopes. A tenant's users are spread
// over every session shard (placed by account bucket), so a page asks each shard once for its
// next `limit` users after the cursor and merges them by id: a page costs one query per shard,
// whatever the tenant's size, and a shard that fails makes the page 503, never a silent gap.
// A scopes change ends nothing: a removed scope leaves the session's grant at its next refresh,
// and already-issued access tokens keep it until they expire (auth.access_token_ttl_seconds).

import { AuthError } from '../../lib/errors'
import { decodeBase64Url, encodeBase64UrlString } from '../../lib/base64url'
import { isScopeList } from '../../lib/scope-token'
import { emitSecurityEvent } from '../../observability/security-events'
import {
  listTenantUsers,
  setUserScopes,
  type ListedUser,
  type User,
} from '../../accounts/user-store'
import { accountBucket, userBucket } from '../../storage/placement'
import type { Shard } from '../../storage/shards'
import { withStoreFailuresAs503 } from '../auth/store-failure'
import type { RequestContext } from '../request-context'
import {
  OPERATOR_SCOPE,
  assertTenant,
  jsonResponse,
  requireAdmin,
  requireAuthServer,
  type Administrator,
} from './admin-auth'

const DEFAULT_PAGE_SIZE = 50
const MAX_PAGE_SIZE = 200
/** Tenant names, as POST /admin/users accepts them. */
export const TENANT_NAME = /^[A-Za-z0-9._-]{1,64}$/
/** A user id: `usr_<bucket>_<random>`, or `usr_<random>` minted before sharding. */
const USER_ID_SHAPE = /^usr_[A-Za-z0-9_-]{1,72}$/

/**
 * Refuses scopes a non-operator may not hand out or take away: gatehouse:operator, granted or
 * held by the target (a tenant admin cannot mint a deployment admin, nor demote one).
 * Throws AuthError insufficient_scope.
 */
export function assertGrantable(
  admin: Administrator,
  scopes: readonly string[],
  held: readonly string[] = [],
): void {
  if (admin.operator) return
  if (scopes.includes(OPERATOR_SCOPE) || held.includes(OPERATOR_SCOPE)) {
    throw new AuthError('insufficient_scope', {
      detail: 'granting gatehouse:operator, or changing an operator, needs an operator',
      scope: OPERATOR_SCOPE,
    })
  }
}

/** GET /admin/users?tenant=&limit=&cursor= → {users, next_cursor} */
export async function adminListUsers(request: Request, rc: RequestContext): Promise<Response> {
  requireAuthServer(rc)
  const admin = await requireAdmin(request, rc)
  const params = new URL(request.url).searchParams
  const named = params.get('tenant')
  if (named === null && admin.operator) {
    throw new AuthError('bad_request', { detail: 'an operator names the tenant' })
  }
  const tenant = named ?? admin.tenant
  if (!TENANT_NAME.test(tenant)) throw new AuthError('bad_request', { detail: 'tenant' })
  assertTenant(admin, tenant)
  const limit = pageSize(params.get('limit'))
  const after = cursorId(params.get('cursor'))
  const pages = await withStoreFailuresAs503('admin_list_users', () =>
    Promise.all(rc.services.sessionShards.all.map((s) => shardPage(rc, s, tenant, after, limit))),
  )
  const page = mergePages(pages, limit)
  return jsonResponse({
    users: page.users.map(publicUser),
    next_cursor: page.next === null ? null : encodeBase64UrlString(page.next),
  })
}

function pageSize(value: string | null): number {
  if (value === null) return DEFAULT_PAGE_SIZE
  const n = /^[1-9][0-9]{0,2}$/.test(value) ? Number(value) : 0
  if (n < 1 || n > MAX_PAGE_SIZE) {
    throw new AuthError('bad_request', { detail: `limit is 1..${MAX_PAGE_SIZE}` })
  }
  return n
}

/** The user id a cursor carries ('' for the first page); throws bad_request for any other. */
function cursorId(cursor: string | null): string {
  if (cursor === null) return ''
  const bytes = cursor.length <= 128 ? decodeBase64Url(cursor) : null
  const id = bytes === null ? '' : new TextDecoder().decode(bytes)
  if (!USER_ID_SHAPE.test(id)) throw new AuthError('bad_request', { detail: 'cursor' })
  return id
}

interface ShardPage {
  /** The shard's users that it owns now, in id order. */
  readonly users: readonly ListedUser[]
  /** The last id the shard returned when it returned a full page (more may follow), else null. */
  readonly fullUpTo: string | null
}

async function shardPage(
  rc: RequestContext,
  shard: Shard,
  tenant: string,
  after: string,
  limit: number,
): Promise<ShardPage> {
  const rows = await listTenantUsers(shard.db, tenant, after, limit)
  const owned = await Promise.all(rows.map((u) => ownsUser(rc, shard, u)))
  return {
    users: rows.filter((_, i) => owned[i]),
    fullUpTo: rows.length === limit ? (rows[rows.length - 1] as ListedUser).id : null,
  }
}

/**
 * Whether the shard owns the user's bucket now: a bucket move's copy can linger on the old shard
 * until its cleanup, and must not be listed twice. A frozen bucket is still read where it is
 * (listing changes nothing, so the move's freeze does not need to stop it).
 */
async function ownsUser(rc: RequestContext, shard: Shard, user: ListedUser): Promise<boolean> {
  const placed = userBucket(user.id)
  if (placed === null) return false
  // usernames are stored normalised, as accountBucket takes them
  const bucket = placed === 'unplaced' ? await accountBucket(user.tenant, user.username) : placed
  return rc.services.sessionShards.forTransient(bucket) === shard
}

/**
 * One page from every shard's next `limit` users, merged by id. A shard that returned a full
 * page may hold more users just after its last one, so the page stops at the smallest such id;
 * the cursor is the page's last id (or that bound, when owned-copy filtering left it short).
 */
export function mergePages(
  pages: readonly ShardPage[],
  limit: number,
): { users: ListedUser[]; next: string | null } {
  const bounds = pages.flatMap((p) => (p.fullUpTo === null ? [] : [p.fullUpTo]))
  const bound = bounds.length === 0 ? null : bounds.reduce((a, b) => (b < a ? b : a))
  const merged = pages
    .flatMap((p) => p.users)
    .filter((u) => bound === null || u.id <= bound)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const users = merged.slice(0, limit)
  if (merged.length > limit) return { users, next: (users[limit - 1] as ListedUser).id }
  if (bound === null) return { users, next: null }
  return { users, next: users.length === limit ? (users[limit - 1] as ListedUser).id : bound }
}

function publicUser(u: ListedUser) {
  return {
    id: u.id,
    username: u.username,
    scopes: u.scopes,
    status: u.status,
    created_at: u.createdAt,
    password_changed_at: u.passwordChangedAt,
    factors: u.factors,
  }
}

/**
 * POST /admin/users/:id/scopes {scopes} → {id, scopes}: replaces the user's scopes. The caller
 * has checked the tenant. Ends nothing (the module comment says when a removal takes effect).
 * Throws AuthError bad_request, insufficient_scope.
 */
export async function changeUserScopes(
  rc: RequestContext,
  admin: Administrator,
  found: { user: User; shard: Shard },
  body: Record<string, unknown>,
): Promise<Response> {
  if (!isScopeList(body.scopes)) {
    throw new AuthError('bad_request', { detail: 'scopes must be a list of scope tokens' })
  }
  const scopes = [...new Set(body.scopes)]
  const { user, shard } = found
  assertGrantable(admin, scopes, user.scopes)
  if (!(await setUserScopes(shard.db, user.id, scopes))) {
    throw new AuthError('route_not_found', { detail: 'unknown user' })
  }
  emitSecurityEvent(rc.events, {
    type: 'user_scopes_changed',
    tenant: user.tenant,
    user_id: user.id,
    actor: admin.subject,
    added: scopes.filter((s) => !user.scopes.includes(s)).join(' '),
    removed: user.scopes.filter((s) => !scopes.includes(s)).join(' '),
  })
  return jsonResponse({ id: user.id, scopes })
}
