// The hot-path profile and the in-isolate targets: the whole Gatehouse Worker run in-isolate with
// stubbed network against the same request sent through a bare pass-through, every step of the
// verified-request path timed on its own, and the Durable Object round trip alone. Warm-cache
// figures: one token, verified once and then answered from the verified-token cache. CPU is the
// workerd process's utime + stime (/proc/<pid>/stat), each request's op count calibrated for
// ≥ 400 ms (steps ≥ 200 ms). Each round times the target ops back to back in a rotated order,
// then the steps; every target is a per-round difference, reported as median and min–max. Then
// the chart's stage profile: the same requests with the proxy path's stage marks recording in
// place (a separate pass, so the timed rounds run with no recorder installed).

import { median, rotate, spread } from '../lib/stats.mjs'
import { calibrateOps, timeOp } from '../lib/timed-op.mjs'
import { startBenchWorker } from '../lib/workers.mjs'

const REQUEST_OPS = ['bare', 'hono-minimal', 'app-public', 'app-low', 'app-critical']
const STEP_OPS = [
  'new-request',
  'config',
  'request-id+trace',
  'url+route',
  'bearer',
  'jws-b64',
  'jws-json',
  'jws-parse',
  'claims',
  'authenticate',
  'headers-in',
  'sign-identity',
  'forward',
  'abort+timer',
  'plain-response',
  'response-rewrap',
  'headers-out',
  'metrics',
  'log-line',
  'public+log-line',
  'do-roundtrip',
  'refresh-crypto',
  'mint-token',
  'd1-select',
]
/** Ops whose figures are targets: the longer window. */
const TARGET_OPS = new Set([...REQUEST_OPS, 'do-roundtrip'])
const TARGET_WINDOW_MS = 400
const STEP_WINDOW_MS = 200
/** Rounds of the target ops (bare, routes, DO round trip), and of the steps (the chart). */
const TARGET_ROUNDS = 11
const STEP_ROUNDS = 7
/** Issue 16: what a route may add over a bare forward, µs of in-isolate CPU. */
export const PUBLIC_BUDGET_US = 25
export const LOW_BUDGET_US = 50
export const CRITICAL_SLACK_US = 10
/**
 * Rounds of the in-place stage profile (the chart), after the timed rounds, and how many times
 * the timed rounds' op count each runs: workerd's local clock advances in whole milliseconds, so
 * a stage's share is a count of the ticks that fell in it, and more requests make it steadier.
 */
const STAGE_ROUNDS = 5
const STAGE_OPS_FACTOR = 3
/** The routes of the chart. */
const CHART_OPS = ['bare', 'app-public', 'app-low', 'app-critical']
const PROFILE_ISSUER = 'https://idp.bench'
const PROFILE_ORIGIN = 'https://origin.bench'

const LABELS = {
  bare: 'in-isolate bare pass-through (fetch stubbed)',
  'hono-minimal': 'in-isolate minimal Hono app (1 middleware + forward)',
  'app-public': 'in-isolate Gatehouse public route',
  'app-low': 'in-isolate Gatehouse low route (verify, sign, forward)',
  'app-critical': 'in-isolate Gatehouse critical route (+ revocation DO call)',
  'new-request': 'step: new Request (client side of every variant)',
  config: 'step: loadConfig (cached)',
  'request-id+trace': 'step: randomUUID + continueTrace + traceparent',
  'url+route': 'step: splitRequestTarget + hazards + matchRoute + new URL',
  bearer: 'step: extractBearerToken',
  'jws-b64': 'step: decodeBase64Url of the 3 token segments',
  'jws-json': 'step: decode + TextDecoder + JSON.parse of header and payload',
  'jws-parse': 'step: parseCompactJws',
  authenticate: 'step: authenticate (bearer, full verify, warm KeyStore, scopes)',
  forward: 'step: forwardToOrigin (stub fetch; breaker, timer, metrics, copies)',
  metrics: 'step: 2 countMetric + 1 observeMetric',
  'abort+timer': 'step: AbortController + setTimeout + clearTimeout',
  'plain-response': 'step: new Response + read body (reference)',
  'response-rewrap': 'step: new Response + clientResponseHeaders + re-wrap + read',
  claims: 'step: parseCompactJws + checkClaims',
  'headers-in': 'step: new Headers + forwardableRequestHeaders',
  'sign-identity': 'step: signIdentityHeaders (HMAC + nonce + 9 sets)',
  'headers-out': 'step: clientResponseHeaders',
  'log-line': 'step: logLine (JSON.stringify + console.log)',
  'public+log-line': 'step: a public request, then one request log line written in it',
  'do-roundtrip': 'step: Durable Object round trip (revocation check() via the binding)',
  'refresh-crypto': 'auth step: refresh-token crypto (2 SHA-256, HKDF + AES-GCM seal)',
  'mint-token': 'auth step: mintAccessToken (jose SignJWT, Ed25519)',
  'd1-select': 'auth step: one D1 round trip (SELECT 1, local D1)',
}

/**
 * The bench config: wrangler.toml's bindings and storage, one third-party issuer, the demo
 * routes (forwarding to the stub origin) and `extraRoutes` after them.
 */
function profileConfig(wrangler, extraRoutes = []) {
  const routes = [...wrangler.gatehouse.routes, ...extraRoutes].map((r) => ({
    ...r,
    origin: PROFILE_ORIGIN,
    origin_secret: 'ORIGIN_SECRET_PROFILE',
    // A route that names the issuers it takes names the profile's only issuer.
    ...(Array.isArray(r.issuers) ? { issuers: [PROFILE_ISSUER] } : {}),
  }))
  return {
    public_url: 'https://gatehouse.bench',
    log_sample_rate: wrangler.gatehouse.log_sample_rate,
    issuers: [
      {
        issuer: PROFILE_ISSUER,
        jwks_uri: `${PROFILE_ISSUER}/jwks.json`,
        audiences: ['bench-api'],
        algorithms: ['EdDSA'],
        tenant: 'bench', // a third-party issuer pins its tenant (the token's tid)
      },
    ],
    jwks: { ...wrangler.gatehouse.jwks, isolate_ttl_seconds: 86_400 },
    storage: wrangler.gatehouse.storage,
    routes,
  }
}

/**
 * Serves the bench Worker `name` (a whole Gatehouse in-isolate, network stubbed) with
 * wrangler.toml's bindings and the profile's configuration, plus `extraRoutes` (route documents,
 * origin and secret set here); resolves to startBenchWorker's handle.
 */
export async function startProfileWorker(
  { wrangler, builds, secrets, compatibilityDate },
  name,
  extraRoutes = [],
) {
  const build = builds[name]
  if (build.error) throw new Error(`${name} did not build: ${build.error.message.split('\n')[0]}`)
  return startBenchWorker({
    ...wrangler.workerOptions,
    build,
    compatibilityDate,
    bindings: {
      ...secrets,
      ORIGIN_SECRET_PROFILE: secrets.ORIGIN_SECRET_DEMO,
      GATEHOUSE: profileConfig(wrangler, extraRoutes),
    },
  })
}

/** The in-isolate targets of one round, from its per-op µs. */
function roundTargets(us) {
  const low = us['app-low'] - us.bare
  return {
    publicAddedUs: us['app-public'] - us.bare,
    lowAddedUs: low,
    criticalAddedUs: us['app-critical'] - us.bare,
    doRoundTripUs: us['do-roundtrip'],
    // critical − bare ≤ (low − bare) + DO + 10  ⇔  this excess ≤ 10
    criticalExcessUs: us['app-critical'] - us['app-low'] - us['do-roundtrip'],
  }
}

/**
 * Each route's cost by stage, measured in place (`stages=1`: every mark attributes the time since
 * the previous one, on workerd's clock), µs per request as medians over rounds; `restUs` is the
 * route's CPU median minus the stages' sum: what happens outside the marks, or, when negative,
 * wall time inside them that is not this process's CPU (the critical route waiting on its
 * Durable Object). Resolves to [{ route, totalUs, stages: [{ step, us }], restUs }].
 */
async function stagesInPlace(worker, nFor, us) {
  const sums = Object.fromEntries(CHART_OPS.map((op) => [op, {}]))
  for (let r = 0; r < STAGE_ROUNDS; r++) {
    for (const op of rotate(CHART_OPS, r)) {
      const n = nFor[op] * STAGE_OPS_FACTOR
      const { body } = await timeOp(worker, op, n, { stages: '1' })
      for (const [stage, ms] of Object.entries(body.stages ?? {})) {
        ;(sums[op][stage] ??= []).push((ms * 1000) / n)
      }
    }
  }
  return CHART_OPS.map((route) => {
    // The Worker answers stages in the order a request first marked them: request order.
    const stages = Object.keys(sums[route]).map((step) => ({ step, us: median(sums[route][step]) }))
    const attributed = stages.reduce((a, b) => a + b.us, 0)
    return { route, totalUs: us[route], stages, restUs: us[route] - attributed }
  })
}

/**
 * Runs the profile; resolves to { rows, us, targets: name → { median, min, max, rounds },
 * stages, rounds }.
 */
export async function runProfile(ctx) {
  const worker = await startProfileWorker(ctx, 'profile-bench')
  try {
    const ops = [...REQUEST_OPS, ...STEP_OPS]
    const nFor = {}
    for (const op of ops) {
      const targetMs = TARGET_OPS.has(op) ? TARGET_WINDOW_MS : STEP_WINDOW_MS
      nFor[op] = await calibrateOps(worker, op, { targetMs })
    }
    const samples = Object.fromEntries(ops.map((op) => [op, []]))
    const perRound = []
    const targetOps = ops.filter((op) => TARGET_OPS.has(op))
    const stepOps = ops.filter((op) => !TARGET_OPS.has(op))
    const timed = async (op) => {
      const v = ((await timeOp(worker, op, nFor[op])).cpuMs * 1000) / nFor[op]
      samples[op].push(v)
      return v
    }
    for (let r = 0; r < TARGET_ROUNDS; r++) {
      // The target ops back to back (~2.5 s), so the machine's drift hits them alike.
      const us = {}
      for (const op of rotate(targetOps, r)) us[op] = await timed(op)
      perRound.push(roundTargets(us))
      if (r < STEP_ROUNDS) for (const op of rotate(stepOps, r)) await timed(op)
    }
    const us = Object.fromEntries(ops.map((op) => [op, median(samples[op])]))
    const stages = await stagesInPlace(worker, nFor, us)
    const targets = {}
    for (const key of Object.keys(perRound[0])) {
      const values = perRound.map((t) => t[key])
      targets[key] = { median: median(values), ...spread(values), rounds: values }
    }
    const rows = ops.map((op) => ({
      label: LABELS[op] ?? op,
      us: us[op],
      note:
        REQUEST_OPS.includes(op) && op !== 'bare'
          ? `+${(us[op] - us.bare).toFixed(1)} µs over bare`
          : op === 'public+log-line'
            ? `+${(us[op] - us['app-public']).toFixed(1)} µs over the public request: one line`
            : undefined,
    }))
    return {
      rows,
      us,
      targets,
      stages,
      opsPerRequest: nFor,
      rounds: { targets: TARGET_ROUNDS, steps: STEP_ROUNDS },
    }
  } finally {
    await worker.close()
  }
}
