// Section apiEdge (issue #14): what WebSockets and rate limits cost.
// (a) An idle open socket. N sockets held open through the real Gatehouse (Miniflare, the demo
// origin answering upgrades) on the critical /api/secure, whose relay asks the subject's
// RevocationShard every websocket_check_seconds, and on the low /api/echo (only the expiry
// timer), against the same interval with none open: workerd's CPU over the idle interval (/proc;
// the gateway's isolate and the Durable Objects share the process) and the check() calls the
// shards answered (a counting subclass, bench/workers/gatehouse-bench.ts), per socket per minute.
// (b) A rate-limited request on a low route, in-isolate (network stubbed, as in the profile): the
// demo's /api/echo settings without a limit, with the Rate Limiting binding and with the exact
// Durable Object counter, under the limit (forwarded) and over it (429 before the origin), and
// each counter's call on its own. Locally both counters run in the same workerd process, so
// their whole cost is counted; at the edge the binding and the Durable Object run elsewhere.

import { setTimeout as sleep } from 'node:timers/promises'
import WebSocket from 'ws'
import { hashPassword } from '../../lib/password.mjs'
import { jwtClaims, login, seedUser } from '../lib/auth-client.mjs'
import { threadCpuNs } from '../lib/cpu.mjs'
import { median, pairedRatio, rotate, round } from '../lib/stats.mjs'
import { perOpUs, timeOp } from '../lib/timed-op.mjs'
import { startGateway } from '../lib/workers.mjs'
import { startProfileWorker } from './profile.mjs'

// ---- (a) idle sockets -----------------------------------------------------------------------

/** Sockets held open per variant: enough that their cost stands well above workerd's idle. */
const SOCKETS = 200
/** Users the sockets belong to (round robin): one revocation shard each. */
const SOCKET_USERS = 4
const IDLE_SECONDS = 15
/** After opening: the upgrades' own work (log lines, metrics) is done before the interval. */
const SETTLE_MS = 1500
const SOCKET_ROUNDS = 3
const OPEN_TIMEOUT_MS = 10_000
/** The gateway's default websocket_check_seconds (README § WebSockets). */
const DEFAULT_CHECK_SECONDS = 5
const SOCKET_PATHS = { low: '/api/echo/idle', critical: '/api/secure/idle' }

/** Opens one socket with a bearer token; resolves once the origin's first message arrived. */
function openSocket(url, token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } })
    const timer = setTimeout(() => reject(new Error(`${url}: no message in time`)), OPEN_TIMEOUT_MS)
    ws.once('message', () => {
      clearTimeout(timer)
      resolve(ws)
    })
    ws.once('unexpected-response', (_req, res) => reject(new Error(`${url}: ${res.statusCode}`)))
    ws.once('error', reject)
  })
}

async function closeAll(sockets) {
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve()
          ws.once('close', resolve)
          ws.close(1000, 'bench done')
        }),
    ),
  )
}

/** check() calls answered so far by the shards of the sockets' subjects. */
async function shardChecks(shards) {
  let total = 0
  for (const stub of shards) total += Number(await stub.benchCheckCalls())
  return total
}

/**
 * One idle interval with `count` sockets open on `path` (none: the baseline); resolves to the
 * workerd CPU (ms) and shard check() calls over IDLE_SECONDS, with the sockets still open at its
 * end (a socket the gateway closed would have stopped costing).
 */
async function idleInterval(gateway, shards, tokens, path, count) {
  const url = `${gateway.url.replace(/^http/, 'ws')}${path}`
  const sockets = await Promise.all(
    Array.from({ length: count }, (_, i) => openSocket(url, tokens[i % tokens.length])),
  )
  try {
    await sleep(SETTLE_MS)
    const checksBefore = await shardChecks(shards)
    // An idle socket costs ~1 ms of CPU a minute, below /proc stat's 10 ms tick: schedstat (ns).
    const cpuBefore = threadCpuNs(gateway.pid)
    await sleep(IDLE_SECONDS * 1000)
    const cpuMs = (threadCpuNs(gateway.pid) - cpuBefore) / 1e6
    const checks = (await shardChecks(shards)) - checksBefore
    const stillOpen = sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length
    if (stillOpen !== count) throw new Error(`${path}: ${count - stillOpen} sockets closed early`)
    return { cpuMs, checks }
  } finally {
    await closeAll(sockets)
  }
}

async function runIdleSockets({ wrangler, builds, secrets, origin }) {
  const gateway = await startGateway({
    wrangler,
    build: builds['gatehouse-bench'],
    secrets,
    originUrl: origin.url,
    durableObjects: { REVOCATIONS: { className: 'CountingRevocationShard', useSQLite: true } },
  })
  try {
    const password = 'sockets-bench-password'
    const stored = await hashPassword(password, secrets.PASSWORD_PEPPER)
    const tokens = []
    for (let i = 0; i < SOCKET_USERS; i++) {
      const user = await seedUser(gateway, { username: `sockets-${i}`, password, stored })
      tokens.push((await login(gateway, user)).accessToken)
    }
    const ns = await gateway.mf.getDurableObjectNamespace('REVOCATIONS')
    // Named like getRevocationShard (src/revocation/): a drift shows as zero checks counted.
    const shards = tokens.map((t) => {
      const c = jwtClaims(t)
      return ns.get(ns.idFromName(JSON.stringify([c.iss, c.tid, c.sub])))
    })
    const variants = [
      { key: 'none', path: SOCKET_PATHS.low, count: 0 },
      { key: 'low', path: SOCKET_PATHS.low, count: SOCKETS },
      { key: 'critical', path: SOCKET_PATHS.critical, count: SOCKETS },
    ]
    const samples = Object.fromEntries(variants.map((v) => [v.key, []]))
    for (let r = 0; r < SOCKET_ROUNDS; r++) {
      for (const v of rotate(variants, r)) {
        samples[v.key].push(await idleInterval(gateway, shards, tokens, v.path, v.count))
      }
    }
    const perMinute = 60 / IDLE_SECONDS
    // Per socket: the variant's interval minus the baseline's of the same round.
    const perSocket = (key, field) =>
      median(samples[key].map((s, i) => (s[field] - samples.none[i][field]) / SOCKETS)) * perMinute
    const checkSeconds = wrangler.gatehouse.websocket_check_seconds ?? DEFAULT_CHECK_SECONDS
    return {
      sockets: SOCKETS,
      idleSeconds: IDLE_SECONDS,
      rounds: SOCKET_ROUNDS,
      checkSeconds,
      expectedChecksPerMinute: 60 / checkSeconds,
      workerdCpuMsPerMinute: Object.fromEntries(
        variants.map((v) => [
          v.key,
          round(median(samples[v.key].map((s) => s.cpuMs)) * perMinute, 1),
        ]),
      ),
      cpuMsPerSocketMinute: {
        low: round(perSocket('low', 'cpuMs'), 3),
        critical: round(perSocket('critical', 'cpuMs'), 3),
      },
      checksPerSocketMinute: {
        low: round(perSocket('low', 'checks'), 2),
        critical: round(perSocket('critical', 'checks'), 2),
      },
      rawRounds: samples,
    }
  } finally {
    await gateway.close()
  }
}

// ---- (b) rate-limited requests in-isolate ---------------------------------------------------

const APP_OPS = [
  'app-low',
  'app-limited-binding',
  'app-limited-exact',
  'app-refused-binding',
  'app-refused-exact',
]
const STEP_OPS = ['binding-limit', 'exact-hit']
const APP_OPS_PER_REQUEST = 400
const STEP_OPS_PER_REQUEST = 1000
const RATE_ROUNDS = 11
const WARMUP_FRACTION = 4
/** Under the limit for a whole run; the route's limit and the binding's agree (README). */
const HIGH_LIMIT = 1_000_000
const PERIOD_SECONDS = 60
/** Over the limit: one request per window passes, every other one is refused. */
const EXACT_OVER_PERIOD_SECONDS = 3600

const STEP_LABELS = {
  'binding-limit': 'binding.limit() alone (Miniflare’s binding: a map in the isolate)',
  'exact-hit': 'exact counter hit() alone (Durable Object RPC + SQL)',
}

/**
 * The profile's context with bench routes after the demo's: copies of /api/echo (tier low, its
 * scopes, CORS and upgrades) without a limit and with each counter, and the bindings they name.
 */
function rateLimitedContext(ctx) {
  const echo = ctx.wrangler.gatehouse.routes.find((r) => r.prefix === '/api/echo')
  const route = (prefix, rateLimit) => ({ ...echo, prefix, rate_limit: rateLimit })
  const bySubject = (limit, periodSeconds, binding) => ({
    key: 'subject',
    limit,
    period_seconds: periodSeconds,
    ...(binding === undefined ? {} : { binding }),
  })
  const routes = [
    { ...echo, prefix: '/bench/rl-none' },
    route('/bench/rl-binding', bySubject(HIGH_LIMIT, PERIOD_SECONDS, 'RATE_LIMIT_BENCH')),
    route('/bench/rl-exact', bySubject(HIGH_LIMIT, PERIOD_SECONDS)),
    route('/bench/rl-binding-over', bySubject(1, PERIOD_SECONDS, 'RATE_LIMIT_BENCH_OVER')),
    route('/bench/rl-exact-over', bySubject(1, EXACT_OVER_PERIOD_SECONDS)),
  ]
  const ratelimits = {
    ...ctx.wrangler.workerOptions.ratelimits,
    RATE_LIMIT_BENCH: { simple: { limit: HIGH_LIMIT, period: PERIOD_SECONDS } },
    RATE_LIMIT_BENCH_OVER: { simple: { limit: 1, period: PERIOD_SECONDS } },
  }
  const wrangler = {
    ...ctx.wrangler,
    workerOptions: { ...ctx.wrangler.workerOptions, ratelimits },
    gatehouse: { ...ctx.wrangler.gatehouse, routes: [...ctx.wrangler.gatehouse.routes, ...routes] },
  }
  return { ...ctx, wrangler }
}

const opsFor = (op) => (APP_OPS.includes(op) ? APP_OPS_PER_REQUEST : STEP_OPS_PER_REQUEST)

async function runRateLimits(ctx) {
  const worker = await startProfileWorker(rateLimitedContext(ctx), 'api-edge-bench')
  const timed = async (op, n, base) => {
    try {
      return perOpUs(await timeOp(worker, op, n), base, n, 'threadCpuMs').cpu
    } catch (err) {
      throw new Error(`${err.message}\nworkerd said:\n${worker.logs.tail()}`)
    }
  }
  try {
    const ops = [...APP_OPS, ...STEP_OPS]
    const zero = await timeOp(worker, 'noop', 1)
    for (const op of ops) await timed(op, Math.ceil(opsFor(op) / WARMUP_FRACTION), zero)
    const samples = Object.fromEntries(ops.map((op) => [op, []]))
    for (let r = 0; r < RATE_ROUNDS; r++) {
      const base = await timeOp(worker, 'noop', 1)
      for (const op of rotate(ops, r)) samples[op].push(await timed(op, opsFor(op), base))
    }
    const us = Object.fromEntries(ops.map((op) => [op, median(samples[op])]))
    const low = samples['app-low']
    const against = (op) => ({
      us: round(us[op], 1),
      ratio: round(pairedRatio(samples[op], low), 3),
      addedUs: round(median(samples[op].map((v, i) => v - low[i])), 1),
    })
    return {
      rounds: RATE_ROUNDS,
      opsPerRequest: { app: APP_OPS_PER_REQUEST, step: STEP_OPS_PER_REQUEST },
      lowUs: round(us['app-low'], 1),
      binding: against('app-limited-binding'),
      exact: against('app-limited-exact'),
      refusedBinding: against('app-refused-binding'),
      refusedExact: against('app-refused-exact'),
      steps: STEP_OPS.map((op) => ({ op, label: STEP_LABELS[op], us: round(us[op], 1) })),
    }
  } finally {
    await worker.close()
  }
}

/** Runs both parts; resolves to { sockets, rateLimit }. */
export async function runApiEdge(ctx) {
  return { sockets: await runIdleSockets(ctx), rateLimit: await runRateLimits(ctx) }
}
