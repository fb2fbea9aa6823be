// Section 1: the verify micro-benchmark per algorithm — raw crypto.subtle.verify vs Gatehouse's
// cache-miss path (the isolate's Verifier: verified-token cache get/set, KeyStore lookup, full
// check, metrics, over more distinct tokens than the cache holds) vs jose — with the verifier's
// hit rate per round; the JWKS growth (the KeyStore lookup alone, 1 vs 100 keys, with the keys
// held checked); and the Argon2id floor. Each request runs one operation N times in the
// verify-bench Worker, N calibrated for ≥ 400 ms of CPU; the client reads workerd's process CPU
// time over the request. Rounds rotate the order of the operations.

import { median, pairedRatio, rotate, spread } from '../lib/stats.mjs'
import { calibrateOps, timeOp } from '../lib/timed-op.mjs'
import { startBenchWorker } from '../lib/workers.mjs'

const ALGS = ['EdDSA', 'RS256', 'ES256']
const ROUNDS = 9
const LARGE_JWKS_KEYS = 100
const ARGON2_OPS_PER_REQUEST = 8

/** One round: every op once, in a rotated order; returns op → { us, cache } per operation. */
async function round(worker, ops, nFor, index) {
  const out = {}
  for (const op of rotate(ops, index)) {
    const n = nFor[op]
    const sample = await timeOp(worker, op, n)
    out[op] = { us: (sample.cpuMs * 1000) / n, cache: sample.body.cache }
  }
  return out
}

/** Figures from workerd CPU time, paired by round. */
function summarise(all) {
  const us = Object.fromEntries(Object.entries(all).map(([op, v]) => [op, v.map((s) => s.us)]))
  const perAlg = {}
  for (const alg of ALGS) {
    const raw = us[`raw-${alg}`]
    const gatehouse = us[`gatehouse-${alg}`]
    const jose = us[`jose-${alg}`]
    const ratios = gatehouse.map((g, i) => g / raw[i])
    const hitRates = all[`gatehouse-${alg}`].map(
      (s) => s.cache.hits / Math.max(1, s.cache.hits + s.cache.misses),
    )
    perAlg[alg] = {
      rawUs: median(raw),
      gatehouseUs: median(gatehouse),
      joseUs: median(jose),
      gatehouseOverheadUs: median(gatehouse.map((g, i) => g - raw[i])),
      gatehouseOverRaw: median(ratios),
      gatehouseOverRawSpread: spread(ratios),
      joseOverRaw: pairedRatio(jose, raw),
      roundsGatehouseOverRaw: ratios,
      roundsHitRate: hitRates,
      maxHitRate: Math.max(...hitRates),
    }
  }
  const growth = us[`keylookup-${LARGE_JWKS_KEYS}`].map((v, i) => v / us['keylookup-1'][i])
  return {
    perAlg,
    jwksGrowth: {
      keys1Us: median(us['keylookup-1']),
      keys100Us: median(us[`keylookup-${LARGE_JWKS_KEYS}`]),
      ratio: median(growth),
      spread: spread(growth),
      rounds: growth,
    },
    argon2Ms: median(us.argon2) / 1000,
  }
}

/** Runs the micro-benchmark; resolves to its results. */
export async function runMicro({ builds, compatibilityDate }) {
  const worker = await startBenchWorker({
    build: builds['verify-bench'],
    compatibilityDate,
    kvNamespaces: ['JWKS_CACHE'],
  })
  try {
    const ops = [
      ...ALGS.flatMap((alg) => [`raw-${alg}`, `gatehouse-${alg}`, `jose-${alg}`]),
      'keylookup-1',
      `keylookup-${LARGE_JWKS_KEYS}`,
      'argon2',
    ]
    const { body } = await timeOp(worker, 'keys-held', 1)
    const held = body.held
    if (held['keylookup-1'] !== 1 || held[`keylookup-${LARGE_JWKS_KEYS}`] !== LARGE_JWKS_KEYS) {
      throw new Error(`key stores not populated: ${JSON.stringify(held)}`)
    }
    const nFor = { argon2: ARGON2_OPS_PER_REQUEST }
    for (const op of ops) {
      // Calibration also warms every path (and fills each verifier's cache with the cycle).
      nFor[op] ??= await calibrateOps(worker, op)
    }
    const distinctTokens = (await timeOp(worker, 'noop', 1)).body.distinctTokens
    const samples = Object.fromEntries(ops.map((op) => [op, []]))
    for (let r = 0; r < ROUNDS; r++) {
      const perOp = await round(worker, ops, nFor, r)
      for (const op of ops) samples[op].push(perOp[op])
    }
    return {
      opsPerRequest: nFor,
      distinctTokens,
      keysHeld: held,
      rounds: ROUNDS,
      ...summarise(samples),
    }
  } finally {
    await worker.close()
  }
}
