// Section 2: end to end. The same demo origin behind a bare pass-through Worker and behind
// Gatehouse (public, low and critical routes; low also with more distinct tokens than the
// verified-token cache holds, so every request pays the cache-miss path), all served by Miniflare
// directly and loaded by wrk with the same connections and duration. Rounds interleave the
// variants; req/s and p99 are compared with the pass-through of the same round, and /proc says
// which process spent the CPU. Before the rounds, every workerd waits until it is idle (the audit
// queue of the logins made while setting up drained), so no variant pays for earlier work.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SignJWT, exportJWK, generateKeyPair } from 'jose'
import { cpuPerRequestUs, cpuSnapshot, waitForIdle } from '../lib/cpu.mjs'
import { median, pairedRatio, rotate, round, spread } from '../lib/stats.mjs'
import { runWrk } from '../lib/wrk.mjs'
import { BENCH_TENANT, login, seedUser } from '../lib/auth-client.mjs'
import { BENCH_STATE_DIR, ROOT } from '../lib/build.mjs'
import { startJwksServer } from '../lib/origin.mjs'
import { startBenchWorker, startGateway } from '../lib/workers.mjs'

export const WRK_CONNECTIONS = 8
export const ROUND_SECONDS = 3
const WARMUP_SECONDS = 2
const ROUNDS = 7
/** The distinct-token variant cycles through this many times the verified-token cache's size. */
const DISTINCT_TOKENS_OVER_CACHE = 1.5
const DISTINCT_AUDIENCE = 'bench-api'
const DISTINCT_TOKEN_TTL_SECONDS = 3600

/** TOKEN_CACHE_MAX_ENTRIES as src/verify/verified-token-cache.ts declares it (read, not copied). */
function tokenCacheEntries() {
  const file = join(ROOT, 'src', 'verify', 'verified-token-cache.ts')
  const m = /TOKEN_CACHE_MAX_ENTRIES\s*=\s*([\d_]+)/.exec(readFileSync(file, 'utf8'))
  if (m === null) throw new Error(`no TOKEN_CACHE_MAX_ENTRIES in ${file}`)
  return Number(m[1].replace(/_/g, ''))
}

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
    cpuRatioSpread: spread(ref.map((r, i) => totalCpu(r) / totalCpu(samples[i]))),
    roundsCpuRatio: ref.map((r, i) => round(totalCpu(r) / totalCpu(samples[i]), 3)),
    // workerd's CPU alone: the gateway's own share of the difference.
    workerdCpuRatio: pairedRatio(
      ref.map((r) => r.cpuUs.workerd),
      samples.map((x) => x.cpuUs.workerd),
    ),
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
  const idleWaitMs = {}
  for (const pid of new Set(variants.map((v) => v.workerdPid)))
    idleWaitMs[pid] = await waitForIdle(pid)
  const samples = Object.fromEntries(variants.map((v) => [v.key, []]))
  for (let r = 0; r < rounds; r++) {
    for (const v of rotate(variants, r)) samples[v.key].push(await measure(v, seconds, originPid))
  }
  const ref = samples[variants[0].key]
  const byVariant = Object.fromEntries(variants.map((v) => [v.key, summarise(samples[v.key], ref)]))
  return { byVariant, rounds, seconds, connections: WRK_CONNECTIONS, idleWaitMs }
}

/**
 * Starts Gatehouse (with a bench issuer whose JWKS this process serves) and the pass-through
 * Worker, logs in, and compares them.
 */
export async function runEndToEnd({ wrangler, builds, secrets, origin, compatibilityDate }) {
  const issuerKeys = await generateKeyPair('EdDSA')
  const jwk = { ...(await exportJWK(issuerKeys.publicKey)), kid: 'e2e-distinct', use: 'sig' }
  const jwks = await startJwksServer(() => ({ keys: [jwk] }))
  const issuer = `${jwks.url}/idp`
  const gateway = await startGateway({
    wrangler,
    build: builds.gatehouse,
    secrets,
    originUrl: origin.url,
    extraIssuers: [
      {
        issuer,
        jwks_uri: `${jwks.url}/jwks.json`,
        audiences: [DISTINCT_AUDIENCE],
        algorithms: ['EdDSA'],
        tenant: BENCH_TENANT,
      },
    ],
  })
  const passThrough = await startBenchWorker({
    build: builds['pass-through'],
    compatibilityDate,
    bindings: { ORIGIN: origin.url },
  })
  try {
    const user = await seedUser(gateway, { username: 'e2e' })
    const { accessToken } = await login(gateway, user)
    const count = Math.ceil(tokenCacheEntries() * DISTINCT_TOKENS_OVER_CACHE)
    const tokensFile = await distinctTokens(issuerKeys.privateKey, issuer, count)
    return {
      ...(await compare({ gateway, passThrough, accessToken, tokensFile, origin })),
      distinctTokens: count,
      tokenCacheEntries: tokenCacheEntries(),
    }
  } finally {
    await passThrough.close()
    await gateway.close()
    jwks.close()
  }
}

/**
 * Signs `count` distinct access tokens of the bench issuer (what its users would send to the
 * low route) into a file, one per line; wrk sends them in a cycle longer than the cache.
 */
async function distinctTokens(privateKey, issuer, count) {
  const now = Math.floor(Date.now() / 1000)
  const tokens = []
  for (let i = 0; i < count; i++) {
    tokens.push(
      await new SignJWT({ scope: 'echo:read echo:write', client_id: 'bench', sid: `e2e-${i}` })
        .setProtectedHeader({ alg: 'EdDSA', kid: 'e2e-distinct', typ: 'at+jwt' })
        .setIssuer(issuer)
        .setSubject(`usr_e2e_${i}`)
        .setAudience(DISTINCT_AUDIENCE)
        .setIssuedAt(now)
        .setExpirationTime(now + DISTINCT_TOKEN_TTL_SECONDS)
        .setJti(crypto.randomUUID())
        .sign(privateKey),
    )
  }
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
    // A cycle of tokens longer than the verified-token cache: every request is a cache miss.
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
