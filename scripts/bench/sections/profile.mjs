// The hot-path profile (not a target, the explanation of one): the whole Gatehouse Worker run
// in-isolate with stubbed network against the same request sent through a bare pass-through,
// and every step of the verified-request path timed on its own. The difference between the two
// is what Gatehouse costs per request inside workerd; the steps attribute it.

import { median, rotate } from '../lib/stats.mjs'
import { perOpUs, timeOp } from '../lib/timed-op.mjs'
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
  'refresh-crypto',
  'mint-token',
  'd1-select',
]
const REQUEST_OPS_PER_REQUEST = 400
/** Steps that make a binding round trip: fewer per request, so one request stays short. */
const SLOW_STEPS = new Set(['d1-select'])
const SLOW_STEP_OPS_PER_REQUEST = 300
const STEP_OPS_PER_REQUEST = 4000
const ROUNDS = 7
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
  }))
  return {
    public_url: 'https://gatehouse.bench',
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

/** Runs the profile; resolves to { rows: [{ label, us, note }], raw: op → µs }. */
export async function runProfile(ctx) {
  const worker = await startProfileWorker(ctx, 'profile-bench')
  try {
    const ops = [...REQUEST_OPS, ...STEP_OPS]
    const nFor = (op) =>
      REQUEST_OPS.includes(op)
        ? REQUEST_OPS_PER_REQUEST
        : SLOW_STEPS.has(op)
          ? SLOW_STEP_OPS_PER_REQUEST
          : STEP_OPS_PER_REQUEST
    for (const op of ['noop', ...ops]) await timeOp(worker, op, Math.ceil(nFor(op) / 4))
    const samples = Object.fromEntries(ops.map((op) => [op, []]))
    for (let r = 0; r < ROUNDS; r++) {
      const base = await timeOp(worker, 'noop', 1)
      for (const op of rotate(ops, r)) {
        samples[op].push(perOpUs(await timeOp(worker, op, nFor(op)), base, nFor(op)).cpu)
      }
    }
    const us = Object.fromEntries(ops.map((op) => [op, median(samples[op])]))
    const rows = ops.map((op) => ({
      label: LABELS[op] ?? op,
      us: us[op],
      note:
        REQUEST_OPS.includes(op) && op !== 'bare'
          ? `+${(us[op] - us.bare).toFixed(1)} µs over bare`
          : undefined,
    }))
    return { rows, us, rounds: ROUNDS }
  } finally {
    await worker.close()
  }
}
