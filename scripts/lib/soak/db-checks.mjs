// The checks made from the databases after the run: no session anywhere has two live refresh
// tokens; every session the soak revoked is revoked in D1, for the reason it was revoked; every
// session nobody revoked is live, and its one live refresh token is the one its client holds;
// every replay refused on a live session ended it as `refresh_reuse` and left a
// refresh_reuse_detected audit event, every bound token refused for want of its proof a
// refresh_dpop_refused event, and every revoked session a session_revoked event (the audit
// queue delivers in batches, so those are polled for a while).

import { refreshTokenHash } from './client.mjs'
import { readAuditEvents, readSessionShards } from './database.mjs'

/** The audit queue batches for up to a couple of seconds (wrangler.toml max_batch_timeout). */
const AUDIT_WAIT_MS = 15_000
const AUDIT_POLL_MS = 1_000

/** sid → { definite: Set of causes of answered revocations, maybe: an unanswered one } */
function sessionCauses(revs) {
  const causes = new Map()
  for (const rev of revs) {
    if (rev.type !== 'session') continue
    const c = causes.get(rev.sid) ?? { definite: new Set(), maybe: false }
    if (rev.doneAt === Infinity) c.maybe = true
    else c.definite.add(rev.cause)
    causes.set(rev.sid, c)
  }
  return causes
}

/** Replays refused on a live session that no other revocation touched. */
function cleanReplays(ops, judged, causes) {
  return ops.filter(
    (op) =>
      op.kind === 'refresh' &&
      op.variant.startsWith('replay-') &&
      op.status === 401 &&
      judged.get(op.id)?.state === 'live' &&
      ![...(causes.get(op.sid)?.definite ?? [])].some((c) => c !== 'refresh_reuse'),
  )
}

/** Bound refresh tokens presented without a proof and refused. */
function stolenRefused(ops) {
  return ops.filter((op) => op.kind === 'refresh' && op.variant === 'stolen' && op.status === 400)
}

/** Sessions whose last refresh has no known answer: the client may not hold the live token. */
function sessionsWithUnknownRefresh(ops) {
  const unsure = new Set()
  for (const op of ops) {
    if (op.kind === 'refresh' && (op.error !== null || op.status >= 500)) unsure.add(op.sid)
  }
  return unsure
}

/**
 * Runs the database checks; resolves to { violations, facts }: facts are sessions with two
 * live tokens, the run's sessions per shard and its audit events.
 */
export async function checkDatabases(o) {
  const causes = sessionCauses(o.revs)
  const replays = cleanReplays(o.ops, o.judged, causes)
  const wanted = [...causes]
    .filter(([, c]) => c.definite.size > 0)
    .map(([sid]) => [sid, 'session_revoked'])
    .concat(replays.map((op) => [op.sid, 'refresh_reuse_detected']))
    .concat(stolenRefused(o.ops).map((op) => [op.sid, 'refresh_dpop_refused']))
  const nowSeconds = Math.floor(Date.now() / 1000)
  const [db, audit] = await Promise.all([
    readSessionShards(o.root, o.stateDir, o.bindings.sessionShards, o.since, nowSeconds),
    waitForAudit(o.root, o.stateDir, o.bindings.audit, o.since, wanted),
  ])
  const violations = [...audit.violations]
  const flag = (what, sid) => violations.push({ op: null, sid, what })

  let doubleLive = 0
  for (const [sid, live] of db.liveCount) {
    const row = db.sessions.get(sid)
    if (row !== undefined && row.revoked_at !== null) continue
    doubleLive++
    const when = o.sessions.some((s) => s.sid === sid) ? '' : ' (a session from before this run)'
    flag(`session ${sid} is live with ${live} live refresh tokens${when}`, sid)
  }
  const unsure = sessionsWithUnknownRefresh(o.ops)
  for (const session of o.sessions) {
    const problem = sessionProblem(session, db, causes.get(session.sid), unsure)
    if (problem !== null) flag(problem, session.sid)
  }
  for (const op of replays) {
    const reason = db.sessions.get(op.sid)?.revoked_reason ?? 'live'
    if (reason !== 'refresh_reuse') {
      flag(`replay (op ${op.id}) was refused but session ${op.sid} is ${reason} in D1`, op.sid)
    }
  }
  return {
    violations,
    facts: { doubleLive, sessionsPerShard: db.sessionsPerShard, auditEvents: audit.events },
  }
}

/** What D1 says wrong about one session of the run, or null. */
function sessionProblem(session, db, cause, unsure) {
  const row = db.sessions.get(session.sid)
  const sid = session.sid
  if (row === undefined) return `session ${sid} (${session.persona.username}) is in no shard`
  if (cause !== undefined && cause.definite.size > 0) {
    if (row.revoked_at === null) return `session ${sid} was revoked but is live in D1`
    if (cause.maybe || cause.definite.has(row.revoked_reason)) return null
    return `session ${sid} was revoked (${[...cause.definite].join(', ')}) but D1 says ${row.revoked_reason}`
  }
  if (cause !== undefined || unsure.has(sid)) return null
  if (row.revoked_at !== null) {
    return `session ${sid} was revoked in D1 (${row.revoked_reason}) though nobody revoked it`
  }
  const live = db.liveTokens.get(sid) ?? []
  if (live.length === 1 && live[0] === refreshTokenHash(session.refresh)) return null
  return `session ${sid}: its client's refresh token is not its one live token (${live.length} live)`
}

/** Polls the audit database until every wanted [sid, type] event is there, or the wait ends. */
async function waitForAudit(root, stateDir, binding, since, wanted) {
  const deadline = Date.now() + AUDIT_WAIT_MS
  let missing = wanted
  let events = 0
  for (;;) {
    const bySid = await readAuditEvents(root, stateDir, binding, since)
    events = 0
    for (const types of bySid.values()) for (const n of types.values()) events += n
    missing = wanted.filter(([sid, type]) => !(bySid.get(sid)?.get(type) > 0))
    if (missing.length === 0 || Date.now() > deadline) break
    await new Promise((r) => setTimeout(r, AUDIT_POLL_MS))
  }
  const violations = missing.map(([sid, type]) => ({
    op: null,
    sid,
    what: `no ${type} audit event for session ${sid} in ${binding}`,
  }))
  return { violations, events }
}
