// The soak engine, shared by `npm run soak` (scripts/soak.mjs) and the short run inside
// `npm test` (test/e2e/soak.test.ts): mixed traffic on the demo profile for a while against a
// running stack, then every check — the ledger's judgement of each answer, the gateway's log,
// the demo origin's request count and the databases — and the report. It never throws for a
// violation; it returns them, with the summary line.

import { DEMO_USERS } from '../../seed-demo.mjs'
import { runAdminActor } from './admin-actor.mjs'
import { checkDatabases } from './db-checks.mjs'
import { countDetectedReplays, deriveRevocations, judge } from './ledger.mjs'
import { checkLog } from './log-checks.mjs'
import { readDemoProfile } from './profile.mjs'
import { createRecorder } from './recorder.mjs'
import { detailLines, summaryLine, throughput } from './report.mjs'
import { runUserActor } from './user-actor.mjs'

/** Sessions are looked up in D1 from a little before the run (clock steps are whole seconds). */
const SINCE_MARGIN_SECONDS = 5

async function originCount(origin) {
  const res = await fetch(`${origin}/__count`)
  return (await res.json()).count
}

/**
 * Runs the soak. Options: root (the repository), gateway and origin (URLs; origin optional),
 * stateDir (the stack's --persist-to; undefined: wrangler's default; null: skip the database
 * checks), log (the gateway's JSON Lines log file, optional), seconds, concurrency (user
 * actors), rotation ('emergency' | 'scheduled' | 'none'). Resolves to { ok, summary, lines,
 * violations, counts }.
 */
export async function runSoak(o) {
  const seconds = o.seconds
  const started = Date.now()
  const since = Math.floor(started / 1000) - SINCE_MARGIN_SECONDS
  const rec = createRecorder(o.gateway)
  const profile = await readDemoProfile(o.root)
  const personas = DEMO_USERS.map((u) => ({ ...u, scopes: u.scopes.split(' ') }))
  const admins = { demo: 'admin', acme: 'acme-admin' }
  const deadline = started + seconds * 1000
  let aborted = null
  const ctx = {
    rec,
    runTag: 1 + Math.floor(Math.random() * 249),
    browserOrigin: new URL(o.gateway).origin,
    // DPoP proofs name the gateway's public URL; npm start sets it to the gateway's origin.
    publicUrl: new URL(o.gateway).origin,
    personas,
    adminOf: (tenant) => personas.find((p) => p.username === admins[tenant]),
    sensitiveScopes: profile.sensitiveScopes,
    apiRoutes: profile.apiRoutes,
    registry: new Set(),
    sessions: [],
    turn: 0,
    rotation: o.rotation ?? 'emergency',
    rotateAt: o.rotation === 'none' ? Infinity : started + (seconds * 1000) / 2,
    stopping: () => aborted !== null || Date.now() >= deadline,
  }

  const originBefore = o.origin ? await originCount(o.origin) : null
  // An admin who cannot log in means a broken stack: every actor stops, and the run throws.
  const adminRun = runAdminActor(ctx).catch((err) => (aborted = err))
  const users = Array.from({ length: o.concurrency }, (_, i) => runUserActor(ctx, `user-${i}`))
  await Promise.all([adminRun, ...users])
  if (aborted !== null) throw aborted
  const trafficSeconds = (Date.now() - started) / 1000
  const ops = rec.ops

  const revs = deriveRevocations(ops)
  const { violations, counts, judged } = judge(ops, revs)
  const notes = []
  const result = { seconds, ops: ops.length, counts, violations, notes }
  result.throughput = throughput(ops, trafficSeconds)
  checkRotation(ops, ctx.rotation, violations, notes)
  const tiers = new Set(profile.apiRoutes.map((r) => r.tier))
  if (!tiers.has('standard')) notes.push('the demo profile has no standard-tier route: none called')

  if (o.origin) {
    const api200 = ops.filter((op) => op.kind.startsWith('api-') && op.status === 200).length
    result.originDelta = (await originCount(o.origin)) - originBefore
    result.api200 = api200
    if (result.originDelta !== api200) {
      violations.push({
        op: null,
        what: `the demo origin served ${result.originDelta} requests during the run, but only ${api200} API calls were answered 200 (a refused request reached the origin, or another client used the stack)`,
      })
    }
  }
  // The log lines and the audit events both arrive a little after the answers: wait for both
  // at once.
  const [log, db] = await Promise.all([
    o.log ? checkLog(o.log, ops, judged) : null,
    o.stateDir === null
      ? null
      : checkDatabases({
          root: o.root,
          stateDir: o.stateDir,
          bindings: profile,
          sessions: ctx.sessions,
          revs,
          ops,
          judged,
          since,
        }),
  ])
  if (log !== null) {
    violations.push(...log.violations)
    result.logged = log.logged
    result.reasons = log.reasons
  }
  if (db !== null) {
    violations.push(...db.violations)
    result.doubleLive = db.facts.doubleLive
    result.sessionsPerShard = db.facts.sessionsPerShard
    result.auditEvents = db.facts.auditEvents
  } else notes.push('database checks skipped (--no-db)')
  counts.replaysDetected = countDetectedReplays(ops, judged, violations)
  const summary = summaryLine(result)
  return {
    ok: violations.length === 0,
    summary,
    lines: detailLines(result),
    violations,
    counts,
  }
}

function checkRotation(ops, rotation, violations, notes) {
  const rotations = ops.filter((op) => op.kind === 'rotate-keys')
  if (rotation === 'none') return
  const scheduled = rotations.find((op) => op.emergency === false)
  if (scheduled === undefined) {
    violations.push({ op: null, what: 'no key rotation happened (run too short?)' })
    return
  }
  notes.push(
    `scheduled key rotation answered ${scheduled.status}: ${scheduled.rotated ? 'rotated' : 'not due yet (next key not published long enough)'}`,
  )
  if (rotation !== 'emergency') return
  const emergency = rotations.find((op) => op.emergency === true)
  if (!emergency?.removedKid) {
    violations.push({ op: emergency ?? null, what: 'the emergency rotation removed no key' })
    return
  }
  const after = ops.filter((op) => op.kid === emergency.removedKid && op.sentAt > emergency.doneAt)
  notes.push(
    `emergency key rotation removed kid ${emergency.removedKid.slice(0, 8)}…; ${after.length} later requests presented a token of that key`,
  )
}
