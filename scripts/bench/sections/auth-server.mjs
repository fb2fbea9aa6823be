// Sections 5 and 3c: the auth server. Login against one Argon2id verification alone (the
// verify-bench Worker, same module and parameters), both as workerd CPU, interleaved in this run;
// refresh rotations/s — 8 independent mobile sessions, each feeding every answer's refresh token
// into its next request — on a fresh Gatehouse whose refreshing user's session shard holds 1 000
// sessions; and the D1 growth: the rotation's key lookups (refresh token by hash, session by sid)
// timed inside SQLite on that shard and on one holding 1 000 000 sessions (row counts asserted).

import { fillSessions, login, placeAccount, refresh, seedUser } from '../lib/auth-client.mjs'
import { cpuNs, threadCpuNs, waitForIdle } from '../lib/cpu.mjs'
import { median, rotate, round, spread } from '../lib/stats.mjs'
import { timeOp } from '../lib/timed-op.mjs'
import { startBenchWorker, startGateway } from '../lib/workers.mjs'

export const SMALL_SESSIONS = 1_000
export const LARGE_SESSIONS = 1_000_000
const PARALLEL_SESSIONS = 8
const LOGIN_ROUNDS = 9
const ROUNDS = 7
const ROUND_SECONDS = 3
const WARMUP_SECONDS = 1
const LOOKUP_ROUNDS = 9
/** Lookups per timed statement: ≥ 400 ms of CPU, so the 10 ms tick of /proc stat is ≤ 2.5 %. */
const LOOKUPS_PER_STATEMENT = 600_000
/**
 * What a rotation looks up by key, N times in one statement (so no round trip is timed): the
 * refresh token by its hash and the session by its sid, both primary keys; the keys are absent,
 * the descent of each B-tree is the part that grows with the table.
 */
const LOOKUP_SQL = `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1)
  SELECT SUM((SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = 'bench-miss-' || i)
           + (SELECT COUNT(*) FROM sessions WHERE sid = 'bench-miss-' || i)) AS found FROM seq`

/**
 * Refreshes every session in its own sequential loop for `seconds`; returns { perSecond,
 * cpuUs } (rotations/s, and workerd CPU µs per rotation: gateway and D1 share the process).
 */
async function refreshLoop(gateway, sessions, seconds) {
  const cpuBefore = cpuNs(gateway.pid)
  const started = performance.now()
  const deadline = started + seconds * 1000
  let rotations = 0
  await Promise.all(
    sessions.map(async (session) => {
      while (performance.now() < deadline) {
        await refresh(gateway, session)
        rotations++
      }
    }),
  )
  const perSecond = rotations / ((performance.now() - started) / 1000)
  return { perSecond, cpuUs: (cpuNs(gateway.pid) - cpuBefore) / 1000 / rotations }
}

/**
 * Login against one Argon2id verification alone, interleaved, each on the CPU clock of its
 * workerd (schedstat of its threads, ns: a login is ~40 ms, too short for the 10 ms tick) so
 * other load on the machine cannot stretch either: the gateway's CPU from request to answer
 * (with the login's D1 work, same process), the hash as a 1-hash request minus a no-op request
 * to the verify-bench Worker. Each round starts with the gateway idle (the previous login's
 * audit event consumed). Resolves to per-round { loginMs, argon2Ms, loginWallMs }.
 */
async function loginVsArgon2(gateway, user, argonWorker) {
  await login(gateway, user, 99)
  await timeOp(argonWorker, 'argon2', 1)
  const rounds = []
  for (let i = 0; i < LOGIN_ROUNDS; i++) {
    await waitForIdle(gateway.pid)
    const cpuBefore = threadCpuNs(gateway.pid)
    const started = performance.now()
    await login(gateway, user, 100 + i)
    const loginWallMs = performance.now() - started
    const loginMs = (threadCpuNs(gateway.pid) - cpuBefore) / 1e6
    const noop = await timeOp(argonWorker, 'noop', 1)
    const hash = await timeOp(argonWorker, 'argon2', 1)
    rounds.push({ loginMs, argon2Ms: hash.threadCpuMs - noop.threadCpuMs, loginWallMs })
  }
  return rounds
}

/** Sessions in the shard of `user` (the table the lookups descend). */
async function sessionRows(side) {
  const db = side.gateway.shards[side.user.binding]
  return (await db.prepare('SELECT COUNT(*) AS n FROM sessions').first()).n
}

/** workerd CPU µs per lookup pair on `side`'s shard (one statement, LOOKUPS_PER_STATEMENT). */
async function lookupUs(side) {
  const db = side.gateway.shards[side.user.binding]
  const before = cpuNs(side.gateway.pid)
  const row = await db.prepare(LOOKUP_SQL).bind(LOOKUPS_PER_STATEMENT).first()
  const us = (cpuNs(side.gateway.pid) - before) / 1000 / LOOKUPS_PER_STATEMENT
  if (row.found !== 0) throw new Error(`lookup statement found ${row.found} rows, expected 0`)
  return us
}

/**
 * A filler account on the same session shard as `user` (the first `filler-<n>` whose bucket
 * lands there), so the sessions it holds are in the database `user`'s refreshes use.
 */
async function fillerBeside(gateway, user) {
  for (let n = 0; ; n++) {
    const place = await placeAccount(gateway, `filler-${n}`)
    if (place.binding === user.binding) return seedUser(gateway, { username: `filler-${n}` })
  }
}

/** Seeds the refreshing user, `count` filler sessions on its shard, and opens the sessions. */
async function prepare(gateway, count) {
  const user = await seedUser(gateway, { username: 'refresher' })
  const filler = await fillerBeside(gateway, user)
  const started = performance.now()
  const sessionsInDb = await fillSessions(filler, count)
  const fillSeconds = (performance.now() - started) / 1000
  const sessions = []
  for (let i = 0; i < PARALLEL_SESSIONS; i++) sessions.push(await login(gateway, user, i))
  return { user, sessions, sessionsInDb, fillSeconds }
}

/**
 * Runs login and refresh on a fresh Gatehouse whose refreshing user's shard holds 1 000
 * sessions, and the lookup growth against a second one holding 1 000 000; resolves to the figures.
 */
export async function runAuthServer({ wrangler, builds, secrets, origin, compatibilityDate }) {
  const start = () =>
    startGateway({ wrangler, build: builds.gatehouse, secrets, originUrl: origin.url })
  const gateways = [await start(), await start()]
  const argonWorker = await startBenchWorker({
    build: builds['verify-bench'],
    compatibilityDate,
    kvNamespaces: ['JWKS_CACHE'],
  })
  try {
    const small = { gateway: gateways[0], ...(await prepare(gateways[0], SMALL_SESSIONS)) }
    const big = { gateway: gateways[1], ...(await prepare(gateways[1], LARGE_SESSIONS)) }
    const rows = { small: await sessionRows(small), big: await sessionRows(big) }
    if (rows.small < SMALL_SESSIONS || rows.big < LARGE_SESSIONS) {
      throw new Error(`session shards not populated: ${JSON.stringify(rows)}`)
    }
    for (const g of gateways) await waitForIdle(g.pid)
    const logins = await loginVsArgon2(small.gateway, small.user, argonWorker)
    const loginRatios = logins.map((l) => l.loginMs / l.argon2Ms)
    await waitForIdle(small.gateway.pid)
    await refreshLoop(small.gateway, small.sessions, WARMUP_SECONDS)
    const rates = []
    const cpu = []
    for (let r = 0; r < ROUNDS; r++) {
      // Each round starts with the previous round's audit queue drained.
      await waitForIdle(small.gateway.pid)
      const loop = await refreshLoop(small.gateway, small.sessions, ROUND_SECONDS)
      rates.push(loop.perSecond)
      cpu.push(loop.cpuUs)
    }
    const lookups = { small: [], big: [] }
    for (const side of [small, big]) await lookupUs(side)
    for (let r = 0; r < LOOKUP_ROUNDS; r++) {
      for (const key of rotate(['small', 'big'], r)) {
        lookups[key].push(await lookupUs(key === 'small' ? small : big))
      }
    }
    const growth = lookups.big.map((b, i) => b / lookups.small[i])
    return {
      loginMs: median(logins.map((l) => l.loginMs)),
      loginWallMs: median(logins.map((l) => l.loginWallMs)),
      argon2Ms: median(logins.map((l) => l.argon2Ms)),
      loginOverArgon2: median(loginRatios),
      loginOverArgon2Spread: spread(loginRatios),
      roundsLogin: logins.map((l) => ({
        loginMs: round(l.loginMs, 2),
        argon2Ms: round(l.argon2Ms, 2),
        loginWallMs: round(l.loginWallMs, 2),
      })),
      parallelSessions: PARALLEL_SESSIONS,
      refreshPerSecond: median(rates),
      refreshPerSecondSpread: spread(rates),
      roundsPerSecond: rates.map((v) => round(v, 0)),
      cpuUsPerRotation: median(cpu),
      sessionRows: rows,
      fillSeconds: big.fillSeconds,
      // Growth ratio: the rotation's two key lookups inside SQLite, 1M / 1k sessions, paired by
      // round (workerd process CPU over one statement of LOOKUPS_PER_STATEMENT lookups).
      lookupUs: { small: median(lookups.small), big: median(lookups.big) },
      refreshGrowthRatio: median(growth),
      refreshGrowthSpread: spread(growth),
      roundsRefreshGrowth: growth.map((v) => round(v, 3)),
    }
  } finally {
    await argonWorker.close()
    for (const g of gateways) await g.close()
  }
}
