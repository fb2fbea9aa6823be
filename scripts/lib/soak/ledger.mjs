// The ground truth, judged after the run: from the recorded operations it derives every
// revocation that took effect (admin sid/jti revocations, deletions, logouts, detected replays,
// the emergency removal of a signing key), each known to have happened between when its request
// was sent and when it was answered. Then every operation that presented a credential is
// judged against them: a credential revoked before the request was sent must be refused; one
// never revoked must be accepted; one whose revocation overlapped the request may go either way
// (counted as raced). The low tier checks no revocation by design (docs: risk tiers), so a
// revoked session's token there is counted apart, not judged; a removed key is refused on every
// tier. The verdict lists every violation with the operation that shows it.

/** An access token this close to its exp may be refused as expired (seconds). */
const EXPIRY_MARGIN_SECONDS = 5
const OK = { login: [200], 'admin-list': [200], 'rotate-keys': [200] }
/**
 * A bound refresh token without its key's proof: 400 at the token endpoint (RFC 9449 §5),
 * decided before the session is even looked at, so whatever the session's state.
 */
const STOLEN = [400]

/** Revocations that took effect, from the operations; unknown outcomes never end (maybe-revoked). */
export function deriveRevocations(ops) {
  const revs = []
  const add = (op, fields, definite) =>
    revs.push({ ...fields, sentAt: op.sentAt, doneAt: definite ? op.doneAt : Infinity, by: op.id })
  for (const op of ops) {
    const failed = op.error !== null || op.status >= 500
    if (op.kind === 'revoke' && op.variant !== 'cross-tenant') {
      const ok = op.status === 200 || op.status === 204
      if (!ok && !failed) continue
      if (op.variant === 'jti') add(op, { type: 'jti', jti: op.targetJti, cause: 'admin' }, ok)
      else add(op, { type: 'session', sid: op.targetSid, cause: 'admin' }, ok)
    } else if (op.kind === 'revoke' && op.status === 200) {
      add(op, { type: 'session', sid: op.targetSid, cause: 'admin' }, true) // a violation too
    } else if (op.kind === 'logout' && (op.status === 204 || failed)) {
      add(op, { type: 'session', sid: op.sid, cause: 'logout' }, op.status === 204)
    } else if (op.kind === 'refresh' && op.variant.startsWith('replay-') && op.status !== 200) {
      add(op, { type: 'session', sid: op.sid, cause: 'refresh_reuse' }, op.status === 401)
    } else if (op.kind === 'rotate-keys' && op.removedKid) {
      add(op, { type: 'kid', kid: op.removedKid, cause: 'key_removed' }, true)
    }
  }
  return revs
}

/** Which revocations bear on this operation's credential, by the path it took. */
function bearsOn(op, rev) {
  const session = rev.type === 'session' && rev.sid === op.sid
  const jti = rev.type === 'jti' && rev.jti === op.jti
  const kid = rev.type === 'kid' && rev.kid === op.kid && op.kind !== 'refresh'
  if (op.kind === 'refresh') return session ? 'checked' : null
  // The low tier checks no revocation (unless a sensitive scope raised the token's tier).
  if (op.tier === 'low') return kid ? 'checked' : session || jti ? 'by-design' : null
  if (op.kind === 'logout' && !op.bearer) return null
  if (op.kind === 'logout') return kid ? 'checked' : session ? 'either' : null
  if (op.kind === 'login') return null
  return session || jti || kid ? 'checked' : null // critical routes and the admin API
}

/**
 * 'revoked' | 'raced' | 'by-design' | 'live', and the revocation that decided it: a removed key
 * first, since the signature is verified before any revocation is looked up.
 */
function stateOf(op, revs) {
  let revoked = null
  let raced = null
  let byDesign = null
  // A key removed while the request was in flight: whatever else refuses it, the gateway may
  // have logged the unknown key first.
  let kidRaced = false
  for (const rev of revs) {
    // A logout or a replay is its own revocation, never the reason for refusing itself.
    if (rev.by === op.id) continue
    const how = bearsOn(op, rev)
    if (how === null) continue
    const before = rev.doneAt <= op.sentAt
    const overlaps = !before && rev.sentAt <= op.doneAt
    if (how === 'checked' && before && rev.type === 'kid') return { state: 'revoked', rev }
    if (how === 'checked' && before) revoked ??= rev
    if (how === 'checked' && overlaps) raced ??= rev
    if (how === 'checked' && overlaps && rev.type === 'kid') kidRaced = true
    if ((how === 'by-design' || how === 'either') && (before || overlaps)) byDesign ??= rev
  }
  if (revoked !== null) return { state: 'revoked', rev: revoked, kidRaced }
  if (raced !== null) return { state: 'raced', rev: raced, kidRaced }
  if (op.exp !== undefined && op.exp !== null && op.sentAt / 1000 > op.exp - EXPIRY_MARGIN_SECONDS)
    return { state: 'raced', rev: { cause: 'expiry' }, kidRaced }
  if (byDesign !== null) return { state: 'by-design', rev: byDesign, kidRaced }
  return { state: 'live', rev: null, kidRaced }
}

/** What a live credential's request must be answered with. */
function expectedLive(op) {
  if (op.kind === 'refresh' && op.variant === 'stolen') return STOLEN
  if (op.kind === 'revoke') return op.variant === 'cross-tenant' ? [403] : [200, 204]
  if (op.kind === 'logout') return [204]
  if (op.kind === 'refresh') return op.variant.startsWith('replay-') ? [401] : [200]
  return OK[op.kind] ?? [200]
}

/**
 * Judges every operation. Returns { violations, counts, judged } where judged maps op id →
 * { state, rev, kidRaced, expected } for the log and database checks.
 */
export function judge(ops, revs) {
  const violations = []
  const counts = {
    revokedPresented: 0,
    revokedRefused: 0,
    raced: 0,
    byDesignLow: 0,
    replays: 0,
    replaysDetected: 0,
    replaysOnEnded: 0,
    throttled: 0,
    stolen: 0,
    stolenRefused: 0,
    races: 0,
    racesSameSuccessor: 0,
    status5xx: 0,
    networkErrors: 0,
    answered: 0,
  }
  const judged = new Map()
  const flag = (op, what, type = 'other') => violations.push({ op, what, type })
  const removal = revs.find((r) => r.type === 'kid') ?? null
  for (const op of ops) {
    if (op.error !== null) {
      counts.networkErrors++
      flag(op, `no answer: ${op.error}`)
      continue
    }
    counts.answered++
    if (op.status >= 500) {
      counts.status5xx++
      flag(op, `answered ${op.status}`)
      continue
    }
    const { state, rev, kidRaced } = stateOf(op, revs)
    const replay = op.kind === 'refresh' && op.variant.startsWith('replay-')
    let expected
    if (op.kind === 'login' && op.status === 429) {
      counts.throttled++
      judged.set(op.id, { state: 'throttled', rev: null, expected: [429] })
      continue
    }
    if (op.kind === 'refresh' && op.variant === 'stolen') expected = STOLEN
    else if (state === 'revoked') expected = [401]
    else if (state === 'raced') expected = [...new Set([...expectedLive(op), 401])]
    else if (state === 'by-design') expected = [200, 204, 401]
    else expected = expectedLive(op)
    judged.set(op.id, { state, rev, kidRaced, expected })
    if (op.variant === 'stolen') {
      counts.stolen++
      if (STOLEN.includes(op.status)) counts.stolenRefused++
    } else if (state === 'revoked' && !replay) {
      counts.revokedPresented++
      if (op.status === 401) counts.revokedRefused++
    }
    if (state === 'raced') counts.raced++
    if (state === 'by-design' && op.tier === 'low') counts.byDesignLow++
    if (replay) {
      if (state === 'live') {
        counts.replays++
        if (op.status === 401) counts.replaysDetected++
      } else counts.replaysOnEnded++
    }
    if (!expected.includes(op.status)) {
      const why = rev
        ? ` (${state}: ${rev.cause ?? rev.type} by op ${rev.by ?? '-'})`
        : ` (${state})`
      flag(op, `answered ${op.status}, expected ${expected.join('|')}${why}`, 'status')
    }
    if (op.identity !== undefined && op.identity !== op.expectedIdentity) {
      const seen = op.identity === null ? `no verified identity (${op.originSaid})` : op.identity
      flag(op, `the origin saw ${seen}, not ${op.expectedIdentity}`)
    }
    if (removal && op.kid === removal.kid && op.status === 200 && isIssuing(op)) {
      if (op.sentAt >= removal.doneAt) flag(op, `issued a token signed by the removed key`)
    }
  }
  judgePairs(ops, judged, counts, flag)
  return { violations, counts, judged }
}

const isIssuing = (op) => op.kind === 'login' || (op.kind === 'refresh' && op.successorHash)

/** Two tabs (or a retry) with the same token: both answered, with one and the same successor. */
function judgePairs(ops, judged, counts, flag) {
  for (const op of ops) {
    if (op.pairWith === undefined || op.pairWith < op.id) continue
    const other = ops[op.pairWith]
    const live = judged.get(op.id)?.state === 'live' && judged.get(other.id)?.state === 'live'
    // Pairs on a session revoked meanwhile are judged one by one above, like any refresh.
    if (live) counts.races++
    if (op.status === 200 && other.status === 200) {
      if (op.successorHash !== other.successorHash) {
        flag(op, `two tabs with one token got different successors (ops ${op.id}, ${other.id})`)
      } else if (live) counts.racesSameSuccessor++
    } else if (live) {
      flag(op, `a ${op.variant} of one live token was refused (ops ${op.id}, ${other.id})`)
    }
  }
}

/**
 * Replays of live sessions that were detected in full: refused, and no check found the session
 * still usable afterwards (a later request answered against expectation) nor D1 or the audit
 * log short of the reuse. Call once every check has added its violations.
 */
export function countDetectedReplays(ops, judged, violations) {
  const replays = ops.filter(
    (op) =>
      op.kind === 'refresh' &&
      op.variant.startsWith('replay-') &&
      judged.get(op.id)?.state === 'live' &&
      op.status === 401,
  )
  const undone = (replay) =>
    violations.some((v) =>
      v.op === null
        ? v.sid === replay.sid
        : v.op.sid === replay.sid && v.type === 'status' && v.op.sentAt >= replay.doneAt,
    )
  return replays.filter((replay) => !undone(replay)).length
}
