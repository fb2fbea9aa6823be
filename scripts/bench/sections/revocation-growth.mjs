// Section 3a: the revocation check with 0 vs 1 000 000 entries in the subject's shard, measured
// on the real critical route. One Gatehouse instance, two users: one shard stays empty, the
// other gets a million revoked jtis through a bench-only subclass (bench/workers/gatehouse-
// bench.ts). A probe token revoked in the filled shard must get 401, which proves the filled
// shard is the one the gateway asks.

import { jwtClaims, login, seedUser } from '../lib/auth-client.mjs'
import { median, pairedRatio, rotate } from '../lib/stats.mjs'
import { startGateway } from '../lib/workers.mjs'
import { interleave } from './e2e.mjs'

export const REVOKED_ENTRIES = 1_000_000
const ENTRY_LIFETIME_SECONDS = 3600
const ROUNDS = 7
const CHECK_ROUNDS = 5
const CHECKS_PER_CALL = 5000

async function status(url, token) {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
  await res.arrayBuffer()
  return res.status
}

/** The shard of `token`'s subject, named like getRevocationShard (src/revocation/). */
async function shardOf(gateway, token) {
  const claims = jwtClaims(token)
  const ns = await gateway.mf.getDurableObjectNamespace('REVOCATIONS')
  // The probe in runRevocationGrowth fails loudly if this naming ever drifts from src/.
  return ns.get(ns.idFromName(JSON.stringify([claims.iss, claims.tid, claims.sub])))
}

/** µs of SQL work per check() inside the shard (no RPC), median of interleaved rounds. */
async function checkCostUs(shards) {
  const timed = async (stub, n) => {
    const started = performance.now()
    const live = await stub.benchCheck(n)
    if (live !== n) throw new Error(`benchCheck: ${n - live} of ${n} random jtis came back revoked`)
    return performance.now() - started
  }
  const samples = Object.fromEntries(Object.keys(shards).map((k) => [k, []]))
  for (let r = 0; r < CHECK_ROUNDS; r++) {
    for (const [key, stub] of rotate(Object.entries(shards), r)) {
      const overhead = await timed(stub, 0)
      samples[key].push(
        (((await timed(stub, CHECKS_PER_CALL)) - overhead) * 1000) / CHECKS_PER_CALL,
      )
    }
  }
  return Object.fromEntries(
    Object.entries(samples).map(([k, v]) => [k, { us: median(v), rounds: v }]),
  )
}

/** Fills the shard of `token`'s subject; resolves to the shard's jti row count. */
async function fillShard(gateway, token, probeToken) {
  const stub = await shardOf(gateway, token)
  const expiresAt = Math.floor(Date.now() / 1000) + ENTRY_LIFETIME_SECONDS
  const started = performance.now()
  const rows = await stub.benchFill('bench-fill-', REVOKED_ENTRIES, expiresAt)
  const fillSeconds = (performance.now() - started) / 1000
  await stub.revokeJti(jwtClaims(probeToken).jti, expiresAt)
  return { rows: Number(rows), fillSeconds }
}

/** Runs the revocation growth scenario; resolves to its figures. */
export async function runRevocationGrowth({ wrangler, builds, secrets, origin }) {
  const gateway = await startGateway({
    wrangler,
    build: builds['gatehouse-bench'],
    secrets,
    originUrl: origin.url,
    durableObjects: { REVOCATIONS: { className: 'BenchRevocationShard', useSQLite: true } },
  })
  try {
    const empty = await seedUser(gateway, { username: 'rev-empty' })
    const full = await seedUser(gateway, { username: 'rev-full' })
    const emptyToken = (await login(gateway, empty, 1)).accessToken
    const fullToken = (await login(gateway, full, 1)).accessToken
    const probeToken = (await login(gateway, full, 2)).accessToken
    const fill = await fillShard(gateway, fullToken, probeToken)
    const url = `${gateway.url}/api/secure/x`
    const probeStatus = await status(url, probeToken)
    if (probeStatus !== 401) {
      throw new Error(
        `a token revoked in the filled shard got ${probeStatus}, not 401: wrong shard`,
      )
    }
    const checks = await checkCostUs({
      empty: await shardOf(gateway, emptyToken),
      full: await shardOf(gateway, fullToken),
    })
    const result = await interleave(
      [
        {
          key: 'empty',
          url,
          headers: { authorization: `Bearer ${emptyToken}` },
          workerdPid: gateway.pid,
        },
        {
          key: 'full',
          url,
          headers: { authorization: `Bearer ${fullToken}` },
          workerdPid: gateway.pid,
        },
      ],
      { originPid: origin.pid, rounds: ROUNDS },
    )
    const { empty: e, full: f } = result.byVariant
    return {
      entries: fill.rows,
      fillSeconds: fill.fillSeconds,
      // Growth ratio: workerd CPU per critical request (gateway + shard, same process), full
      // shard / empty shard, paired by round; req/s and the in-shard check() as cross-checks.
      ratio: pairedRatio(f.roundsWorkerdCpuUs, e.roundsWorkerdCpuUs),
      workerdCpuUsPerRequest: {
        empty: e.cpuUsPerRequest.workerd,
        full: f.cpuUsPerRequest.workerd,
      },
      emptyRps: e.rps,
      fullRps: f.rps,
      rpsRatio: 1 / f.rpsRatio,
      emptyP50Ms: e.p50Ms,
      fullP50Ms: f.p50Ms,
      checkUs: { empty: checks.empty.us, full: checks.full.us },
      checkRatio: pairedRatio(checks.full.rounds, checks.empty.rounds),
      roundsRps: { empty: e.roundsRps, full: f.roundsRps },
    }
  } finally {
    await gateway.close()
  }
}
