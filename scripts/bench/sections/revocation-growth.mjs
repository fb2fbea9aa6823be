// Section 3a: the revocation check with 0 vs 1 000 000 entries in the subject's shard. The target
// times the operation that grows: the shard's own check() (its SQL, no RPC), run N times inside
// the Durable Object, on workerd's threads' CPU (schedstat, ns), paired by round; the critical
// route's whole-request CPU is kept as a cross-check. One Gatehouse instance, two users: one shard stays empty, the
// other gets a million revoked jtis through a bench-only subclass (bench/workers/gatehouse-
// bench.ts), its row count asserted. A probe token revoked in the filled shard must get 401,
// which proves the filled shard is the one the gateway asks.

import { jwtClaims, login, seedUser } from '../lib/auth-client.mjs'
import { threadCpuNs } from '../lib/cpu.mjs'
import { median, pairedRatio, rotate, spread } from '../lib/stats.mjs'
import { startGateway } from '../lib/workers.mjs'
import { interleave } from './e2e.mjs'

export const REVOKED_ENTRIES = 1_000_000
const ENTRY_LIFETIME_SECONDS = 3600
const ROUNDS = 7
const CHECK_ROUNDS = 9
/**
 * check() calls per timed call: ~600 ms of CPU, timed on the threads' schedstat clock (ns), so
 * neither the 10 ms tick of /proc stat nor a short window decides a 7 % difference.
 */
const CHECKS_PER_CALL = 80_000

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

/** workerd CPU µs per check() inside the shard (no RPC), per interleaved round. */
async function checkCostUs(pid, shards) {
  const timed = async (stub, n) => {
    const before = threadCpuNs(pid)
    const live = await stub.benchCheck(n)
    if (live !== n) throw new Error(`benchCheck: ${n - live} of ${n} random jtis came back revoked`)
    return (threadCpuNs(pid) - before) / 1000 / n
  }
  for (const stub of Object.values(shards)) await timed(stub, CHECKS_PER_CALL / 4)
  const samples = Object.fromEntries(Object.keys(shards).map((k) => [k, []]))
  for (let r = 0; r < CHECK_ROUNDS; r++) {
    for (const [key, stub] of rotate(Object.entries(shards), r)) {
      samples[key].push(await timed(stub, CHECKS_PER_CALL))
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
    if (!(fill.rows >= REVOKED_ENTRIES)) {
      throw new Error(`the filled shard holds ${fill.rows} revoked jtis, not ${REVOKED_ENTRIES}`)
    }
    const url = `${gateway.url}/api/secure/x`
    const probeStatus = await status(url, probeToken)
    if (probeStatus !== 401) {
      throw new Error(
        `a token revoked in the filled shard got ${probeStatus}, not 401: wrong shard`,
      )
    }
    const checks = await checkCostUs(gateway.pid, {
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
    const growth = checks.full.rounds.map((v, i) => v / checks.empty.rounds[i])
    return {
      entries: fill.rows,
      fillSeconds: fill.fillSeconds,
      // The target: CPU per check() in the full shard / in the empty one, paired by round.
      ratio: median(growth),
      ratioSpread: spread(growth),
      roundsRatio: growth,
      // Cross-check: workerd CPU per critical request (gateway + shard, same process).
      requestRatio: pairedRatio(f.roundsWorkerdCpuUs, e.roundsWorkerdCpuUs),
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
      roundsRps: { empty: e.roundsRps, full: f.roundsRps },
    }
  } finally {
    await gateway.close()
  }
}
