// Issue 12, item 6: refresh rotations on 1 vs 4 session shards. Two fresh Gatehouse instances in
// one run — every bucket on one D1 binding, and the buckets split evenly over four (the shards
// wrangler.toml lacks are bound by the harness) — hold the same ACCOUNTS accounts, one mobile
// session each. The accounts are cut into slices: the first warms both instances up, then each
// round rotates the next slice once on each instance (order alternating by round), so every
// account is rotated exactly once per instance and both do the same work in every round.
// Reported: rotations/s and workerd CPU per rotation (gateway and local D1 share the process),
// paired by round, and the refresh tokens each shard gained as % of the mean. Local D1 is SQLite
// in the same process, so four shards are not faster here: the point is that a rotation costs
// no more and that the load is even. Verdicts: lib/report.mjs.

import { hashPassword } from '../../lib/password.mjs'
import { BUCKET_COUNT, auditBinding } from '../../lib/placement.mjs'
import { login, refresh, seedUser } from '../lib/auth-client.mjs'
import { cpuNs } from '../lib/cpu.mjs'
import { seedSessions } from '../lib/session-seed.mjs'
import { median, pairedRatio, rotate, round } from '../lib/stats.mjs'
import { startGateway } from '../lib/workers.mjs'

const ROUNDS = 11
/** Sessions rotated per instance per round (and in the warm-up). */
const SLICE = 256
/**
 * Accounts per instance: the warm-up slice and one slice per round. Placed by hash, n accounts
 * put n/4 ± √(3n)/4 on each of 4 shards (binomial, p = 1/4): ±3 % at 3 072, so the spread
 * measures the placement rather than the sample (300 accounts alone would be ±10 %). The names
 * are fixed, so the placement, and with it the spread, is the same every run.
 */
const ACCOUNTS = SLICE * (ROUNDS + 1)
/** Accounts that log in through /auth/login: their sessions must be where seeding puts them. */
const LOGIN_ACCOUNTS = 8
const SHARDS = 4
const PARALLEL_LOOPS = 8
const PASSWORD = 'shards-bench-password'
const DEVICE_NUMBER = 0 // every session belongs to bench-device-0 (auth-client login)

/** A storage table with the buckets split evenly over `count` shards SESSIONS_0 … */
function evenStorage(count, audit) {
  const per = BUCKET_COUNT / count
  const session_shards = Array.from({ length: count }, (_, i) => ({
    binding: `SESSIONS_${i}`,
    buckets: `${i * per}-${(i + 1) * per - 1}`,
  }))
  return { session_shards, audit_database: audit }
}

/** Logs in one account and checks its session is on the shard its bucket names. */
async function loginPlaced(gateway, user) {
  const session = await login(gateway, user, DEVICE_NUMBER)
  const sid = session.refreshToken.split('.')[1]
  const row = await user.db
    .prepare('SELECT COUNT(*) AS n FROM sessions WHERE sid = ?1')
    .bind(sid)
    .first()
  if (!sid.startsWith(user.bucket.toString(16).padStart(3, '0')) || row.n !== 1) {
    throw new Error(
      `login put ${user.username}'s session ${sid} outside bucket ${user.bucket} on ${user.binding}`,
    )
  }
  return { username: user.username, bucket: user.bucket, binding: user.binding, ...session }
}

/** The sessions, in the order of `usernames`: LOGIN_ACCOUNTS logged in, the rest seeded. */
async function prepare(gateway, usernames, stored) {
  const sessions = []
  for (const username of usernames.slice(0, LOGIN_ACCOUNTS)) {
    const user = await seedUser(gateway, { username, password: PASSWORD, stored })
    sessions.push(await loginPlaced(gateway, user))
  }
  const deviceId = sessions[0].deviceId
  sessions.push(
    ...(await seedSessions(gateway, usernames.slice(LOGIN_ACCOUNTS), { stored, deviceId })),
  )
  return { gateway, sessions }
}

/**
 * Rotates each of `sessions` once, PARALLEL_LOOPS at a time; returns { perSecond, cpuUs }
 * (rotations/s, workerd CPU µs per rotation).
 */
async function rotateAll(gateway, sessions) {
  const cpuBefore = cpuNs(gateway.pid)
  const started = performance.now()
  let next = 0
  const loop = async () => {
    while (next < sessions.length) await refresh(gateway, sessions[next++])
  }
  await Promise.all(Array.from({ length: PARALLEL_LOOPS }, loop))
  const perSecond = sessions.length / ((performance.now() - started) / 1000)
  return { perSecond, cpuUs: (cpuNs(gateway.pid) - cpuBefore) / 1000 / sessions.length }
}

/** Each shard's count as % of the mean, and the largest deviation from 100 %. */
function spreadOf(counts) {
  const values = Object.values(counts)
  const mean = values.reduce((a, b) => a + b, 0) / values.length
  const percentOfMean = Object.fromEntries(
    Object.entries(counts).map(([k, v]) => [k, round((v / mean) * 100, 1)]),
  )
  const maxDeviationPercent = Math.max(...values.map((v) => Math.abs(v / mean - 1) * 100))
  return { percentOfMean, maxDeviationPercent: round(maxDeviationPercent, 2) }
}

function accountsPerShard(sessions) {
  const counts = {}
  for (const s of sessions) counts[s.binding] = (counts[s.binding] ?? 0) + 1
  return counts
}

/**
 * Refresh tokens each shard gained since seeding (generation ≥ 1). Every account was rotated
 * once, so each shard must hold exactly one per account it owns: throws otherwise (a row on a
 * shard its bucket does not name, or a lost rotation).
 */
async function rowsPerShard(side) {
  const expected = accountsPerShard(side.sessions)
  const rows = {}
  for (const [binding, db] of Object.entries(side.gateway.shards)) {
    const row = await db
      .prepare('SELECT COUNT(*) AS n FROM refresh_tokens WHERE generation > 0')
      .first()
    rows[binding] = row.n
    if (row.n !== (expected[binding] ?? 0)) {
      throw new Error(
        `${binding} gained ${row.n} refresh tokens for ${expected[binding] ?? 0} accounts`,
      )
    }
  }
  return rows
}

/** Runs the 1-shard vs 4-shard rotation scenario; resolves to its figures. */
export async function runSessionShards({ wrangler, builds, secrets, origin }) {
  const audit = auditBinding(wrangler.gatehouse)
  const start = (count) =>
    startGateway({
      wrangler,
      build: builds.gatehouse,
      secrets,
      originUrl: origin.url,
      storage: evenStorage(count, audit),
    })
  const gateways = {}
  try {
    gateways.one = await start(1)
    gateways.four = await start(SHARDS)
    const usernames = Array.from({ length: ACCOUNTS }, (_, i) => `shard-user-${i}`)
    const stored = await hashPassword(PASSWORD, secrets.PASSWORD_PEPPER)
    const sides = {
      one: await prepare(gateways.one, usernames, stored),
      four: await prepare(gateways.four, usernames, stored),
    }
    const slice = (i, sessions) => sessions.slice(i * SLICE, (i + 1) * SLICE)
    for (const side of Object.values(sides)) await rotateAll(side.gateway, slice(0, side.sessions))
    const rates = { one: [], four: [] }
    const cpu = { one: [], four: [] }
    for (let r = 0; r < ROUNDS; r++) {
      for (const key of rotate(['one', 'four'], r)) {
        const side = sides[key]
        const loop = await rotateAll(side.gateway, slice(r + 1, side.sessions))
        rates[key].push(loop.perSecond)
        cpu[key].push(loop.cpuUs)
      }
    }
    const rows = await rowsPerShard(sides.four)
    await rowsPerShard(sides.one) // the same check: all of them on the one shard
    return {
      accounts: ACCOUNTS,
      loggedIn: LOGIN_ACCOUNTS,
      shards: SHARDS,
      parallelLoops: PARALLEL_LOOPS,
      rounds: ROUNDS,
      rotationsPerRound: SLICE,
      rotationsPerSecond: { one: median(rates.one), four: median(rates.four) },
      cpuUsPerRotation: { one: median(cpu.one), four: median(cpu.four) },
      // Cost ratio: workerd CPU per rotation, 4 shards / 1 shard, paired by round; rotations/s
      // 4 / 1 as a cross-check (noisier when the machine is shared).
      cpuRatio: pairedRatio(cpu.four, cpu.one),
      rateRatio: pairedRatio(rates.four, rates.one),
      // New refresh tokens per shard of the 4 (= accounts per shard, checked above).
      spread: { rows, ...spreadOf(rows) },
      roundsPerSecond: {
        one: rates.one.map((v) => round(v, 0)),
        four: rates.four.map((v) => round(v, 0)),
      },
      roundsCpuUs: { one: cpu.one.map((v) => round(v, 0)), four: cpu.four.map((v) => round(v, 0)) },
    }
  } finally {
    for (const g of Object.values(gateways)) await g.close()
  }
}
