// The origin identity's cost (issue 15): the whole Gatehouse Worker in-isolate (network stubbed,
// as in the profile; the stub origin drains request bodies) on copies of the low route that differ
// only in how the origin learns the caller — the legacy HMAC-signed headers, the assertion (HS256,
// EdDSA), or both — and in whether a POST body is bound (digested into the assertion) or streamed
// unbound; and the identity and digest steps timed alone. Every op runs in every round, in shuffled
// order; figures are medians over rounds of workerd CPU, ratios and differences paired by round.
// Target: for a body-less request, the HS256 assertion's per-attempt work (setIdentityHeaders +
// signAssertion) costs no more than the legacy signIdentityHeaders.

import { median, pairedRatio, quantile, round } from '../lib/stats.mjs'
import { perOpUs, timeOp } from '../lib/timed-op.mjs'
import { startProfileWorker } from './profile.mjs'

const BODY_KIB = [1, 16, 256]
const GET_VARIANTS = ['headers', 'hs256', 'eddsa', 'both']
const APP_OPS = [...GET_VARIANTS.map((v) => `app-${v}`), 'app-headers-again']
const POST_PAIRS = BODY_KIB.map((kib) => [`post-bound-${kib}k`, `post-off-${kib}k`])
// `legacy-again` runs legacy's very code under another name: the A/A control of the verdict.
const VERDICT_STEPS = ['legacy', 'hs256', 'legacy-again']
const PART_STEPS = [
  'set-identity',
  'claims-encode',
  'sign-assertion-hs256',
  'hmac-raw',
  'ed25519-raw',
  // What-ifs (assertion-whatif.ts): the shared floor, the claims' parts, two cheaper assertions.
  'headers+uuid',
  'claims-object',
  'claims-json',
  'payload-encode',
  'payload-b64',
  'payload-btoa',
  'hs256-no-xauth',
  'hs256-fragments',
  'hs256-lean',
]
const BODY_STEPS = BODY_KIB.flatMap((kib) => [
  `prepare-${kib}k`,
  `digest-${kib}k`,
  `native-${kib}k`,
])
const ROUNDS = 11
/** Whole requests: identical ones still stray by up to ~8 % in one round (the A/A control). */
const REQUEST_ROUNDS = 21
/** The verdict's phase: short steps, so more rounds for a tight median of paired ratios. */
const STEP_ROUNDS = 41
const WARMUP_FRACTION = 4
/**
 * Ops per timed call: ~25–100 ms of CPU for the requests and the identity steps, so the empty
 * loop's noise is small; the smallest parts take a few ms (they explain, they decide nothing).
 */
const OPS_PER_REQUEST = {
  app: 400,
  step: 4000,
  'post-1k': 400,
  'post-16k': 300,
  'post-256k': 60,
  'body-1k': 2000,
  'body-16k': 800,
  'body-256k': 80,
}

const LABELS = {
  legacy: 'new Headers + signIdentityHeaders (legacy: X-Auth-* + timestamp, nonce, HMAC)',
  'legacy-again': 'the legacy step again, under another name (A/A control)',
  hs256: 'setIdentityHeaders + signAssertion HS256 + set the header',
  eddsa: 'setIdentityHeaders + signAssertion EdDSA (key loaded) + set the header',
  'set-identity': 'new Headers + randomUUID + setIdentityHeaders (the unsigned X-Auth-*)',
  'claims-encode': 'assertionClaims + JSON.stringify + base64url',
  'sign-assertion-hs256': 'signAssertion HS256 alone',
  'hmac-raw': 'crypto.subtle.sign HMAC-SHA256 of a typical signing input',
  'ed25519-raw': 'crypto.subtle.sign Ed25519 of the same input',
  'headers+uuid': 'new Headers + randomUUID (the floor both modes share)',
  'claims-object': 'assertionClaims (the object)',
  'claims-json': 'assertionClaims + JSON.stringify',
  'payload-encode': 'TextEncoder.encode of the payload JSON',
  'payload-b64': 'toBase64 (base64url) of the payload bytes',
  'payload-btoa': 'what if: btoa + 3 replaces of the payload JSON (an ASCII fast path)',
  'hs256-no-xauth': 'what if: the hs256 step without the unsigned X-Auth-* (X-Request-Id kept)',
  'hs256-fragments':
    'what if: the hs256 step, payload JSON from cached route + identity fragments, HMAC key held',
  'hs256-lean': 'what if: both (no unsigned X-Auth-*, payload from cached fragments)',
}

/** The low route (/api/echo of the demo profile) copied under /bench/<name> with `fields`. */
function lowRouteCopy(wrangler, name, fields) {
  const low = wrangler.gatehouse.routes.find((r) => r.prefix === '/api/echo')
  if (low === undefined) throw new Error('the demo profile has no /api/echo route')
  return { ...low, prefix: `/bench/${name}`, ...fields }
}

function benchRoutes(wrangler) {
  return [
    lowRouteCopy(wrangler, 'headers', { identity: 'headers' }),
    lowRouteCopy(wrangler, 'hs256', { identity: 'assertion', assertion_signing: 'hs256' }),
    lowRouteCopy(wrangler, 'eddsa', { identity: 'assertion', assertion_signing: 'eddsa' }),
    lowRouteCopy(wrangler, 'both', { identity: 'both', assertion_signing: 'hs256' }),
    lowRouteCopy(wrangler, 'bound', { identity: 'assertion', body_binding: 'best_effort' }),
    lowRouteCopy(wrangler, 'off', { identity: 'assertion', body_binding: 'off' }),
  ]
}

function opsFor(op) {
  if (APP_OPS.includes(op)) return OPS_PER_REQUEST.app
  const kib = /-(\d+)k$/.exec(op)?.[1]
  if (kib !== undefined)
    return OPS_PER_REQUEST[`${op.startsWith('post-') ? 'post' : 'body'}-${kib}k`]
  return OPS_PER_REQUEST.step
}

/** Times `op` (µs CPU per op over the empty loop); a failure carries the Worker's log tail. */
async function timeAssertionOp(worker, op, n, base) {
  try {
    return perOpUs(await timeOp(worker, op, n), base, n, 'threadCpuMs').cpu
  } catch (err) {
    throw new Error(`${err.message}\nworkerd said:\n${worker.logs.tail()}`)
  }
}

/** One request through `variant`; what reached the stub origin: { names, headerBytes, bodyBytes }. */
async function inspect(worker, variant) {
  const res = await fetch(`${worker.url}/?op=inspect&variant=${encodeURIComponent(variant)}`)
  const body = await res.json()
  if (res.status !== 200 || body.ok !== true || body.forwarded === null) {
    throw new Error(`inspect ${variant}: ${JSON.stringify(body)}\n${worker.logs.tail()}`)
  }
  return body.forwarded
}

/** Checks each variant forwards what its route says, before anything is timed. */
async function checkVariants(worker) {
  const expect = {
    'app-headers': { has: ['x-auth-signature'], lacks: ['gatehouse-assertion'] },
    'app-hs256': { has: ['gatehouse-assertion'], lacks: ['x-auth-signature'] },
    'app-eddsa': { has: ['gatehouse-assertion'], lacks: ['x-auth-signature'] },
    'app-both': { has: ['gatehouse-assertion', 'x-auth-signature'], lacks: [] },
    ...Object.fromEntries(
      BODY_KIB.flatMap((kib) => [
        [`post-bound-${kib}k`, { has: ['content-digest'], lacks: [], bodyBytes: kib * 1024 }],
        [`post-off-${kib}k`, { has: [], lacks: ['content-digest'], bodyBytes: kib * 1024 }],
      ]),
    ),
  }
  const forwarded = {}
  for (const [variant, e] of Object.entries(expect)) {
    const f = await inspect(worker, variant)
    const wrong =
      e.has.find((h) => !f.names.includes(h)) ?? e.lacks.find((h) => f.names.includes(h))
    if (wrong !== undefined || (e.bodyBytes !== undefined && f.bodyBytes !== e.bodyBytes)) {
      throw new Error(`${variant} forwarded ${JSON.stringify(f)}; expected ${JSON.stringify(e)}`)
    }
    forwarded[variant] = { headers: f.names.length, headerBytes: f.headerBytes }
  }
  return forwarded
}

/** The interquartile range of the per-round ratios a[i] / b[i]: [q1, q3]. */
const ratioIqr = (a, b) => {
  const ratios = a.map((v, i) => v / b[i])
  return [round(quantile(ratios, 0.25), 3), round(quantile(ratios, 0.75), 3)]
}

/** Median over rounds of a[i] − b[i]. */
const pairedDiff = (a, b) => median(a.map((v, i) => v - b[i]))

function identityFigures(samples, us) {
  const legacy = samples.legacy
  return {
    legacyUs: round(us.legacy, 2),
    hs256Us: round(us.hs256, 2),
    eddsaUs: round(us.eddsa, 2),
    hs256OverLegacy: round(pairedRatio(samples.hs256, legacy), 3),
    hs256MinusLegacyUs: round(pairedDiff(samples.hs256, legacy), 2),
    eddsaOverLegacy: round(pairedRatio(samples.eddsa, legacy), 3),
    // The noise floor: the same code under two names, and how far single rounds stray.
    controlRatio: round(pairedRatio(samples['legacy-again'], legacy), 3),
    hs256RatioIqr: ratioIqr(samples.hs256, legacy),
    controlRatioIqr: ratioIqr(samples['legacy-again'], legacy),
    parts: PART_STEPS.map((op) => ({
      op,
      label: LABELS[op],
      us: round(us[op], 2),
      overLegacy: round(pairedRatio(samples[op], legacy), 3),
    })),
  }
}

function requestFigures(samples, us, forwarded) {
  const headers = samples['app-headers']
  const variant = (v) => ({
    us: round(us[`app-${v}`], 1),
    ratio: round(pairedRatio(samples[`app-${v}`], headers), 3),
    addedUs: round(pairedDiff(samples[`app-${v}`], headers), 1),
    forwardedHeaders: forwarded[`app-${v}`].headers,
    forwardedHeaderBytes: forwarded[`app-${v}`].headerBytes,
  })
  return {
    ...Object.fromEntries(GET_VARIANTS.map((v) => [v, variant(v)])),
    // The same route under two op names: how far apart identical requests measure.
    controlRatio: round(pairedRatio(samples['app-headers-again'], headers), 3),
  }
}

function bodyFigures(samples, us) {
  const sizes = BODY_KIB.map((kib) => {
    const bound = samples[`post-bound-${kib}k`]
    const off = samples[`post-off-${kib}k`]
    const addedUs = pairedDiff(bound, off)
    return {
      kib,
      prepareUs: round(us[`prepare-${kib}k`], 1),
      prepareUsPerKiB: round(us[`prepare-${kib}k`] / kib, 3),
      digestUs: round(us[`digest-${kib}k`], 1),
      digestUsPerKiB: round(us[`digest-${kib}k`] / kib, 3),
      nativeReadDigestUs: round(us[`native-${kib}k`], 1),
      boundUs: round(us[`post-bound-${kib}k`], 1),
      offUs: round(us[`post-off-${kib}k`], 1),
      addedUs: round(addedUs, 1),
      addedUsPerKiB: round(addedUs / kib, 3),
      ratio: round(pairedRatio(bound, off), 3),
    }
  })
  const [, mid, big] = sizes
  const slope = (key) => round((big[key] - mid[key]) / (big.kib - mid.kib), 3)
  return {
    sizes,
    // The cost of one more KiB, past the fixed part: between 16 and 256 KiB.
    marginalUsPerKiB: {
      prepare: slope('prepareUs'),
      digest: slope('digestUs'),
      nativeReadDigest: slope('nativeReadDigestUs'),
      wholeRequest: slope('addedUs'),
    },
  }
}

/**
 * `list` in an order fixed by `seed` (mulberry32 + Fisher–Yates). Shuffled rounds give every op
 * random neighbours, where a rotation keeps each op behind the same one — and the garbage an op
 * leaves is collected during the next (a rotated A/A control came out at up to 1.07×).
 */
function shuffled(list, seed) {
  let state = seed >>> 0
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const out = [...list]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

/**
 * Warms the ops up, then times each in every one of `rounds` rounds; op → µs per round. `units`
 * are ops or lists of ops compared with each other: a list's ops run back to back (in shuffled
 * order), so their paired ratios span the shortest time; the units run in shuffled order.
 */
async function interleave(worker, units, rounds) {
  const ops = units.flat()
  const zero = await timeOp(worker, 'noop', 1)
  for (const op of ['noop', ...ops]) {
    await timeAssertionOp(worker, op, Math.ceil(opsFor(op) / WARMUP_FRACTION), zero)
  }
  const samples = Object.fromEntries(ops.map((op) => [op, []]))
  for (let r = 0; r < rounds; r++) {
    const base = await timeOp(worker, 'noop', 1)
    const order = shuffled(units, r + 1).flatMap((u, i) =>
      Array.isArray(u) ? shuffled(u, (r + 1) * 1000 + i) : [u],
    )
    for (const op of order) {
      samples[op].push(await timeAssertionOp(worker, op, opsFor(op), base))
    }
  }
  return samples
}

/** How many chunks prepareBody's reader gets per body size (the stream's chunking). */
async function chunks(worker) {
  const res = await fetch(`${worker.url}/?op=chunks`)
  if (res.status !== 200) throw new Error(`chunks: ${res.status} ${await res.text()}`)
  return res.json()
}

/** Runs the section; resolves to the identity steps, the four GET variants and the body costs. */
export async function runAssertion(ctx) {
  const worker = await startProfileWorker(ctx, 'assertion-bench', benchRoutes(ctx.wrangler))
  try {
    const forwarded = await checkVariants(worker)
    // Three phases, so one phase's garbage (whole requests, megabytes of bodies) is not collected
    // inside another's short steps: the identity steps, the GET requests, the bodies.
    const steps = await interleave(worker, [VERDICT_STEPS, 'eddsa', ...PART_STEPS], STEP_ROUNDS)
    const requests = await interleave(worker, [APP_OPS], REQUEST_ROUNDS)
    const bodies = await interleave(worker, [...POST_PAIRS, ...BODY_STEPS], ROUNDS)
    const samples = { ...steps, ...requests, ...bodies }
    const us = Object.fromEntries(Object.entries(samples).map(([op, s]) => [op, median(s)]))
    return {
      rounds: { steps: STEP_ROUNDS, requests: REQUEST_ROUNDS, bodies: ROUNDS },
      opsPerRequest: OPS_PER_REQUEST,
      identity: identityFigures(samples, us),
      requests: requestFigures(samples, us, forwarded),
      body: { ...bodyFigures(samples, us), chunksRead: await chunks(worker) },
      roundsUs: Object.fromEntries(
        Object.entries(samples).map(([op, s]) => [op, s.map((v) => round(v, 2))]),
      ),
    }
  } finally {
    await worker.close()
  }
}
