// Section 2: end to end. The same demo origin behind a bare pass-through Worker and behind
// Gatehouse (public, low and critical routes; low also with 1 000 distinct tokens), all served
// by Miniflare directly and loaded by wrk with the same connections and duration. Rounds interleave the variants; req/s and p99 are
// compared with the pass-through of the same round, and /proc says which process spent the CPU.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cpuPerRequestUs, cpuSnapshot } from '../lib/cpu.mjs'
import { median, pairedRatio, rotate, round } from '../lib/stats.mjs'
import { runWrk } from '../lib/wrk.mjs'
import { login, refresh, seedUser } from '../lib/auth-client.mjs'
import { BENCH_STATE_DIR } from '../lib/build.mjs'
import { startBenchWorker, startGateway } from '../lib/workers.mjs'

export const WRK_CONNECTIONS = 8
export const ROUND_SECONDS = 3
const WARMUP_SECONDS = 2
const ROUNDS = 7
/** Access tokens for the distinct-token variant, minted by refreshing a few sessions. */
const DISTINCT_TOKENS = 1000
const TOKEN_SESSIONS = 8

/** Checks a variant answers 200 (with its first token); returns the origin's JSON echo. */
async function probe(variant) {
  const headers = variant.tokensFile
    ? { authorization: `Bearer ${readFileSync(variant.tokensFile, 'utf8').split('\n')[0]}` }
    : variant.headers
  const res = await fetch(variant.url, { headers })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`${variant.key}: ${res.status} ${text.slice(0, 200)}`)
  return JSON.parse(text)
}

async function measure(variant, seconds, originPid) {
  const pids = { workerd: [variant.workerdPid], origin: originPid }
  const before = cpuSnapshot(pids)
  const result = await runWrk({
    url: variant.url,
    headers: variant.headers,
    tokensFile: variant.tokensFile,
    connections: WRK_CONNECTIONS,
    durationSeconds: seconds,
  })
  const cpuUs = cpuPerRequestUs(before, cpuSnapshot(pids), result.requests)
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(
      `${variant.key}: ${result.non2xx} non-2xx answers, ${result.errors} socket errors`,
    )
  }
  return { ...result, cpuUs }
}

const totalCpu = (sample) => Object.values(sample.cpuUs).reduce((a, b) => a + b, 0)

function summarise(samples, ref) {
  const pick = (key) => samples.map((s) => s[key])
  const cpuUs = {}
  for (const proc of Object.keys(samples[0].cpuUs))
    cpuUs[proc] = round(median(samples.map((s) => s.cpuUs[proc])), 1)
  return {
    rps: median(pick('rps')),
    p50Ms: median(pick('p50Ms')),
    p99Ms: median(pick('p99Ms')),
    rpsRatio: pairedRatio(
      pick('rps'),
      ref.map((s) => s.rps),
    ),
    p99Ratio: pairedRatio(
      pick('p99Ms'),
      ref.map((s) => s.p99Ms),
    ),
    cpuUsPerRequest: cpuUs,
    // Throughput a saturated machine would see from CPU alone (all processes share the cores):
    // less sensitive than req/s to other load on the machine.
    cpuRatio: pairedRatio(ref.map(totalCpu), samples.map(totalCpu)),
    roundsRps: pick('rps').map((v) => round(v, 0)),
    roundsWorkerdCpuUs: samples.map((s) => round(s.cpuUs.workerd, 1)),
    roundsP99Ms: pick('p99Ms'),
  }
}

/**
 * Runs interleaved wrk rounds over `variants` ([{ key, url, headers, tokensFile?, workerdPid }]);
 * the first variant is the reference. Resolves to { byVariant: key → medians, ratios, CPU split,
 * per-round figures }.
 */
export async function interleave(
  variants,
  { originPid, rounds = ROUNDS, seconds = ROUND_SECONDS },
) {
  for (const v of variants) await probe(v)
  for (const v of variants) await measure(v, WARMUP_SECONDS, originPid)
  const samples = Object.fromEntries(variants.map((v) => [v.key, []]))
  for (let r = 0; r < rounds; r++) {
    for (const v of rotate(variants, r)) samples[v.key].push(await measure(v, seconds, originPid))
  }
  const ref = samples[variants[0].key]
  const byVariant = Object.fromEntries(variants.map((v) => [v.key, summarise(samples[v.key], ref)]))
  return { byVariant, rounds, seconds, connections: WRK_CONNECTIONS }
}

/** Starts Gatehouse and the pass-through Worker, logs in, and compares them. */
export async function runEndToEnd({ wrangler, builds, secrets, origin, compatibilityDate }) {
  const gateway = await startGateway({
    wrangler,
    build: builds.gatehouse,
    secrets,
    originUrl: origin.url,
  })
  const passThrough = await startBenchWorker({
    build: builds['pass-through'],
    compatibilityDate,
    bindings: { ORIGIN: origin.url },
  })
  try {
    const user = await seedUser(gateway, { username: 'e2e' })
    const { accessToken } = await login(gateway, user)
    const tokensFile = await distinctTokens(gateway, user)
    return await compare({ gateway, passThrough, accessToken, tokensFile, origin })
  } finally {
    await passThrough.close()
    await gateway.close()
  }
}

/** Mints DISTINCT_TOKENS access tokens (refresh loops) into a file, one per line. */
async function distinctTokens(gateway, user) {
  const sessions = []
  for (let i = 0; i < TOKEN_SESSIONS; i++) sessions.push(await login(gateway, user, 10 + i))
  const tokens = sessions.map((s) => s.accessToken)
  await Promise.all(
    sessions.map(async (session) => {
      while (tokens.length < DISTINCT_TOKENS) {
        await refresh(gateway, session)
        tokens.push(session.accessToken)
      }
    }),
  )
  mkdirSync(BENCH_STATE_DIR, { recursive: true })
  const file = join(BENCH_STATE_DIR, 'distinct-tokens.txt')
  writeFileSync(file, `${tokens.join('\n')}\n`, { mode: 0o600 })
  return file
}

async function compare({ gateway, passThrough, accessToken, tokensFile, origin }) {
  const auth = { authorization: `Bearer ${accessToken}` }
  const variants = [
    // The pass-through gets the same request as the token routes: same path shape, same header.
    { key: 'passThrough', url: `${passThrough.url}/api/echo/x`, headers: auth },
    { key: 'public', url: `${gateway.url}/api/public/x`, headers: {} },
    { key: 'low', url: `${gateway.url}/api/echo/x`, headers: auth },
    { key: 'critical', url: `${gateway.url}/api/secure/x`, headers: auth },
    // Every request a different token: what a per-isolate token cache could not speed up.
    { key: 'lowDistinct', url: `${gateway.url}/api/echo/x`, headers: {}, tokensFile },
  ].map((v) => ({ ...v, workerdPid: v.key === 'passThrough' ? passThrough.pid : gateway.pid }))
  const echoes = {}
  for (const v of variants) echoes[v.key] = await probe(v)
  const result = await interleave(variants, { originPid: origin.pid })
  return {
    tool: 'wrk -t1',
    ...result,
    // What each route did about revocation at run time, as the origin saw it (X-Auth-Revocation).
    revocation: {
      low: echoes.low.headers?.['x-auth-revocation'] ?? null,
      critical: echoes.critical.headers?.['x-auth-revocation'] ?? null,
    },
    // Request headers the origin received: Gatehouse adds identity, trace and signature headers.
    originHeaderCount: Object.fromEntries(
      Object.entries(echoes).map(([k, e]) => [k, Object.keys(e.headers ?? {}).length]),
    ),
  }
}
