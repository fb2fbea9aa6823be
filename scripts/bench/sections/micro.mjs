// Section 1, plus two figures measured the same way: the verify micro-benchmark per algorithm
// (raw crypto.subtle.verify vs Gatehouse's full verify vs jose), the JWKS growth (warm KeyStore
// lookup with 1 vs 100 keys) and the Argon2id floor. Each request runs one operation N times in
// the verify-bench Worker; the client reads workerd's CPU time (and the wall time) over the
// request and subtracts the round's empty-loop request.

import { median, pairedRatio, rotate } from '../lib/stats.mjs'
import { medianSample, perOpUs, timeOp } from '../lib/timed-op.mjs'
import { startBenchWorker } from '../lib/workers.mjs'

export const ALGS = ['EdDSA', 'RS256', 'ES256']
const VERIFY_OPS_PER_REQUEST = 1500
const ARGON2_OPS_PER_REQUEST = 3
const WARMUP_OPS_PER_REQUEST = 300
const ROUNDS = 9
const BASELINE_REQUESTS_PER_ROUND = 3

async function baseline(worker, n) {
  const samples = []
  for (let i = 0; i < BASELINE_REQUESTS_PER_ROUND; i++)
    samples.push(await timeOp(worker, 'noop', n))
  return medianSample(samples, median)
}

/** One round: every op once, in a rotated order; returns op → { cpu, wall } µs per operation. */
async function round(worker, ops, index) {
  const base = await baseline(worker, VERIFY_OPS_PER_REQUEST)
  const out = {}
  for (const op of rotate(ops, index)) {
    const n = op === 'argon2' ? ARGON2_OPS_PER_REQUEST : VERIFY_OPS_PER_REQUEST
    out[op] = perOpUs(await timeOp(worker, op, n), base, n)
  }
  return out
}

/** Figures from workerd CPU time (immune to other load); wall-clock ratios as a cross-check. */
function summarise(all) {
  const samples = Object.fromEntries(
    Object.entries(all).map(([op, v]) => [op, v.map((s) => s.cpu)]),
  )
  const wall = Object.fromEntries(Object.entries(all).map(([op, v]) => [op, v.map((s) => s.wall)]))
  const perAlg = {}
  for (const alg of ALGS) {
    const raw = samples[`raw-${alg}`]
    const gatehouse = samples[`gatehouse-${alg}`]
    const jose = samples[`jose-${alg}`]
    perAlg[alg] = {
      wallRawUs: median(wall[`raw-${alg}`]),
      wallGatehouseOverRaw: pairedRatio(wall[`gatehouse-${alg}`], wall[`raw-${alg}`]),
      rawUs: median(raw),
      gatehouseUs: median(gatehouse),
      joseUs: median(jose),
      gatehouseOverheadUs: median(gatehouse.map((g, i) => g - raw[i])),
      gatehouseOverRaw: pairedRatio(gatehouse, raw),
      joseOverRaw: pairedRatio(jose, raw),
    }
  }
  return {
    perAlg,
    jwksGrowth: {
      keys1Us: median(samples['keystore-1']),
      keys100Us: median(samples['keystore-100']),
      ratio: pairedRatio(samples['keystore-100'], samples['keystore-1']),
    },
    argon2Ms: median(samples.argon2) / 1000,
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
      'keystore-1',
      'keystore-100',
      'argon2',
    ]
    for (const op of ['noop', ...ops]) {
      await timeOp(worker, op, op === 'argon2' ? 1 : WARMUP_OPS_PER_REQUEST)
    }
    const samples = Object.fromEntries(ops.map((op) => [op, []]))
    for (let r = 0; r < ROUNDS; r++) {
      const perOp = await round(worker, ops, r)
      for (const op of ops) samples[op].push(perOp[op])
    }
    return {
      opsPerRequest: VERIFY_OPS_PER_REQUEST,
      argon2OpsPerRequest: ARGON2_OPS_PER_REQUEST,
      rounds: ROUNDS,
      ...summarise(samples),
    }
  } finally {
    await worker.close()
  }
}
