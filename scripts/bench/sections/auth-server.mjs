// Sections 5 and 3c: the auth server. Login latency (set against the Argon2id floor measured by
// the micro-benchmark) and refresh rotations/s — several independent mobile sessions, each
// feeding every answer's refresh token into its next request — on a fresh Gatehouse whose
// refreshing user's session shard holds 1 000 sessions and, interleaved round by round, on one
// where it holds 1 000 000.

import { fillSessions, login, placeAccount, refresh, seedUser } from '../lib/auth-client.mjs'
import { cpuNs } from '../lib/cpu.mjs'
import { median, pairedRatio, rotate, round } from '../lib/stats.mjs'
import { startGateway } from '../lib/workers.mjs'

export const SMALL_SESSIONS = 1_000
export const LARGE_SESSIONS = 1_000_000
const PARALLEL_SESSIONS = 8
const LOGIN_SAMPLES = 7
const ROUNDS = 5
const ROUND_SECONDS = 3
const WARMUP_SECONDS = 1

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

async function timedLogins(gateway, user) {
  const samples = []
  for (let i = 0; i < LOGIN_SAMPLES; i++) {
    const started = performance.now()
    await login(gateway, user, 100 + i)
    samples.push(performance.now() - started)
  }
  return samples
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
 * Runs login and refresh on two fresh Gatehouse instances, one where the refreshing user's shard
 * holds 1 000 sessions and one where it holds 1 000 000; resolves to the figures.
 */
export async function runAuthServer({ wrangler, builds, secrets, origin }) {
  const start = () =>
    startGateway({ wrangler, build: builds.gatehouse, secrets, originUrl: origin.url })
  const gateways = [await start(), await start()]
  try {
    const small = { gateway: gateways[0], ...(await prepare(gateways[0], SMALL_SESSIONS)) }
    const big = { gateway: gateways[1], ...(await prepare(gateways[1], LARGE_SESSIONS)) }
    const loginMs = median(await timedLogins(small.gateway, small.user))
    for (const side of [small, big]) await refreshLoop(side.gateway, side.sessions, WARMUP_SECONDS)
    const rates = { small: [], big: [] }
    const cpu = { small: [], big: [] }
    for (let r = 0; r < ROUNDS; r++) {
      for (const key of rotate(['small', 'big'], r)) {
        const side = key === 'small' ? small : big
        const loop = await refreshLoop(side.gateway, side.sessions, ROUND_SECONDS)
        rates[key].push(loop.perSecond)
        cpu[key].push(loop.cpuUs)
      }
    }
    return {
      loginMs,
      parallelSessions: PARALLEL_SESSIONS,
      refreshPerSecond: median(rates.small),
      refreshPerSecondLarge: median(rates.big),
      sessionsSmall: small.sessionsInDb,
      sessionsLarge: big.sessionsInDb,
      fillSeconds: big.fillSeconds,
      // Growth ratio: workerd CPU per rotation with 1M sessions / with 1k (paired by round);
      // the same from rotations/s as a cross-check (noisier when the machine is shared).
      refreshGrowthRatio: pairedRatio(cpu.big, cpu.small),
      refreshGrowthRatioByRate: pairedRatio(rates.small, rates.big),
      cpuUsPerRotation: { small: median(cpu.small), big: median(cpu.big) },
      roundsPerSecond: {
        small: rates.small.map((v) => round(v, 0)),
        big: rates.big.map((v) => round(v, 0)),
      },
    }
  } finally {
    for (const g of gateways) await g.close()
  }
}
