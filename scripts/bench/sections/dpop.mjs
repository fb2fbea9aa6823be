// DPoP verification cost (issue 13): the whole Gatehouse Worker in-isolate (network stubbed, as in
// the profile) on the low route /api/echo with a Bearer token and with DPoP-bound tokens, each
// DPoP request carrying a proof never presented before (ES256 and EdDSA). Proofs are signed in
// the isolate by an untimed request before every round (unique jti, iat of that round); the
// timed requests only take them. Rounds interleave the variants; the target is the median of
// the per-round ratios DPoP / Bearer of workerd CPU per request. The DPoP steps, timed on their
// own in the same rounds, attribute the difference.

import { median, pairedRatio, rotate, round } from '../lib/stats.mjs'
import { perOpUs, timeOp } from '../lib/timed-op.mjs'
import { startProfileWorker } from './profile.mjs'

const APP_OPS = ['app-bearer', 'app-bearer-proof-header', 'app-dpop-es256', 'app-dpop-eddsa']
const STEP_OPS = [
  'enforce-bearer',
  'enforce-dpop-es256',
  'proof-verify-es256',
  'proof-verify-eddsa',
  'proof-decode',
  'proof-thumbprint',
  'proof-import-es256',
  'proof-signature-es256',
  'proof-signature-eddsa',
  'proof-htu',
  'proof-ath',
  'proof-replay-low',
]
const APP_OPS_PER_REQUEST = 400
const STEP_OPS_PER_REQUEST = 1000
/** Ops that take a new proof from the isolate's pool, per call. */
const PROOF_TAKERS = {
  'app-bearer-proof-header': 'ES256',
  'app-dpop-es256': 'ES256',
  'app-dpop-eddsa': 'EdDSA',
  'enforce-dpop-es256': 'ES256',
  'proof-verify-es256': 'ES256',
  'proof-verify-eddsa': 'EdDSA',
}
const ROUNDS = 11
const WARMUP_FRACTION = 4

const LABELS = {
  'enforce-bearer': 'new Request + cached token + enforceSenderConstraint, Bearer',
  'enforce-dpop-es256': 'new Request + cached token + enforceSenderConstraint, DPoP ES256',
  'proof-verify-es256': 'verifyDpopProof ES256, a new proof each time (key cache warm)',
  'proof-verify-eddsa': 'verifyDpopProof EdDSA, a new proof each time (key cache warm)',
  'proof-decode': 'base64url + JSON.parse of the proof header and payload',
  'proof-thumbprint': 'jwkThumbprint (sort, JSON.stringify, SHA-256), every request',
  'proof-import-es256': 'importKey of a P-256 JWK (what the per-jkt key cache saves)',
  'proof-signature-es256': 'crypto.subtle.verify ECDSA P-256, imported key',
  'proof-signature-eddsa': 'crypto.subtle.verify Ed25519, imported key',
  'proof-htu': 'new URL(htu) + compare',
  'proof-ath': 'accessTokenHash (SHA-256 of the access token), every request',
  'proof-replay-low': 'ProofReplayGuard.claim, tier low (isolate map)',
}

const opsFor = (op) => (APP_OPS.includes(op) ? APP_OPS_PER_REQUEST : STEP_OPS_PER_REQUEST)

/** Proofs per algorithm one pass over `ops` takes, with 1/`fraction` of the usual op counts. */
function proofsNeeded(ops, fraction = 1) {
  const needed = { ES256: 0, EdDSA: 0 }
  for (const op of ops) {
    const alg = PROOF_TAKERS[op]
    if (alg !== undefined) needed[alg] += Math.ceil(opsFor(op) / fraction)
  }
  return needed
}

/** Untimed: signs fresh proofs in the isolate (unique jti, iat now) for one pass over `ops`. */
async function prepareProofs(worker, ops, fraction) {
  const { ES256, EdDSA } = proofsNeeded(ops, fraction)
  const res = await fetch(`${worker.url}/?op=prepare&ES256=${ES256}&EdDSA=${EdDSA}`)
  if (res.status !== 200) throw new Error(`prepare: ${res.status} ${await res.text()}`)
}

/** Times `op` (µs CPU per op over the empty loop); a failure carries the Worker's log tail. */
async function timeDpopOp(worker, op, n, base) {
  try {
    return perOpUs(await timeOp(worker, op, n), base, n, 'threadCpuMs').cpu
  } catch (err) {
    throw new Error(`${err.message}\nworkerd said:\n${worker.logs.tail()}`)
  }
}

/** Median over rounds of a[i] − b[i]. */
const pairedDiff = (a, b) => median(a.map((v, i) => v - b[i]))

/**
 * Where the ES256 request's extra µs go, from the same rounds: the signature, the parsing and
 * hashing verifyDpopProof does on every request, the rest of verifyDpopProof, what
 * enforceSenderConstraint adds around it, and what remains outside it (the bigger request
 * through the app, the forward, GC): each a median, so the parts need not sum exactly.
 */
function breakdown(samples, us) {
  const parsing = us['proof-decode'] + us['proof-thumbprint'] + us['proof-ath'] + us['proof-htu']
  const enforceAdded = pairedDiff(samples['enforce-dpop-es256'], samples['enforce-bearer'])
  const appAdded = pairedDiff(samples['app-dpop-es256'], samples['app-bearer'])
  return {
    signatureUs: round(us['proof-signature-es256'], 1),
    parsingHashingUs: round(parsing, 1),
    restOfVerifyUs: round(us['proof-verify-es256'] - us['proof-signature-es256'] - parsing, 1),
    aroundVerifyUs: round(enforceAdded - us['proof-verify-es256'], 1),
    enforceAddedUs: round(enforceAdded, 1),
    outsideEnforceUs: round(appAdded - enforceAdded, 1),
  }
}

/** Runs the section; resolves to per-variant medians, paired ratios, µs added and the steps. */
export async function runDpop(ctx) {
  const worker = await startProfileWorker(ctx, 'dpop-bench')
  try {
    const ops = [...APP_OPS, ...STEP_OPS]
    await prepareProofs(worker, ops, WARMUP_FRACTION)
    const zero = await timeOp(worker, 'noop', 1)
    for (const op of ['noop', ...ops])
      await timeDpopOp(worker, op, Math.ceil(opsFor(op) / WARMUP_FRACTION), zero)
    const samples = Object.fromEntries(ops.map((op) => [op, []]))
    for (let r = 0; r < ROUNDS; r++) {
      // Fresh proofs for this round: iat now, well inside the gateway's ±60 s window.
      await prepareProofs(worker, ops, 1)
      const base = await timeOp(worker, 'noop', 1)
      for (const op of rotate(ops, r)) {
        samples[op].push(await timeDpopOp(worker, op, opsFor(op), base))
      }
    }
    const us = Object.fromEntries(ops.map((op) => [op, median(samples[op])]))
    const bearer = samples['app-bearer']
    const against = (op) => ({
      us: round(us[op], 1),
      ratio: round(pairedRatio(samples[op], bearer), 3),
      addedUs: round(pairedDiff(samples[op], bearer), 1),
      roundsUs: samples[op].map((v) => round(v, 1)),
    })
    return {
      rounds: ROUNDS,
      opsPerRequest: { app: APP_OPS_PER_REQUEST, step: STEP_OPS_PER_REQUEST },
      bearerUs: round(us['app-bearer'], 1),
      bearerRoundsUs: bearer.map((v) => round(v, 1)),
      ES256: against('app-dpop-es256'),
      EdDSA: against('app-dpop-eddsa'),
      // The same Bearer request carrying a proof the gateway never reads: the header alone.
      proofHeader: against('app-bearer-proof-header'),
      breakdownES256: breakdown(samples, us),
      steps: STEP_OPS.map((op) => ({ op, label: LABELS[op], us: round(us[op], 2) })),
    }
  } finally {
    await worker.close()
  }
}
