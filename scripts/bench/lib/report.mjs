// Turns the sections' results into what a reader needs: one table of every figure, the issue's
// targets with pass/fail, and the single summary line. A section that failed or was skipped
// shows as such; its targets count as failed, never as passed.

import { apiEdgeRows } from './report-api-edge.mjs'
import { assertionRows } from './report-assertion.mjs'
import { round } from './stats.mjs'
import { CRITICAL_SLACK_US, LOW_BUDGET_US, PUBLIC_BUDGET_US } from '../sections/profile.mjs'

/** A "cache-miss" verify round that hit the cache this often did not measure the miss path. */
const MAX_MISS_PATH_HIT_RATE = 0.01

const x = (v) => (Number.isFinite(v) ? `${round(v, 2)}×` : 'n/a')
const n = (v, digits = 1) => (Number.isFinite(v) ? String(round(v, digits)) : 'n/a')
/** A difference with its sign: +12.3 or −4.5. */
const signed = (v, digits = 1) =>
  Number.isFinite(v) ? `${v < 0 ? '−' : '+'}${n(Math.abs(v), digits)}` : 'n/a'

/** Per-round ratios a[i] / b[i] of two per-round lists, or undefined when either is missing. */
function roundRatios(a, b) {
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return undefined
  return a.map((v, i) => v / b[i])
}

/** { median, min, max } of per-round values (or of one figure measured once). */
function figure(median, rounds) {
  if (!Number.isFinite(median)) return null
  const values = Array.isArray(rounds) && rounds.length > 0 ? rounds : [median]
  return { median, min: Math.min(...values), max: Math.max(...values), rounds: values.length }
}

/**
 * Every target, evaluated on `r` (results.sections): issue 16's table first, then the growth,
 * kid-flood, shard, socket, DPoP and assertion targets of issues 6, 12–15. Each is
 * { name, figure: { median, min, max, rounds } | null, pass, shown }: a target whose figure is
 * missing, or whose measurement did not measure what it says (a verify "miss" that hit the cache,
 * a flood that never fetched), fails.
 */
export function evaluateTargets(r) {
  const m = r.micro?.perAlg
  const p = r.profile?.targets
  const e = r.e2e?.byVariant
  const a = r.auth
  const d = r.dpop
  const f = r.kidFlood
  const us = (v) => `${signed(v)} µs`
  const verify = (alg, limit) => [
    `verify ${alg} (cache miss) ≤ ${limit.toFixed(2)}× raw verify`,
    figure(m?.[alg]?.gatehouseOverRaw, m?.[alg]?.roundsGatehouseOverRaw),
    (v) => v <= limit && m[alg].maxHitRate <= MAX_MISS_PATH_HIT_RATE,
    (v) =>
      `${x(v)} (${n(m[alg].gatehouseUs)} vs ${n(m[alg].rawUs)} µs; cache hit rate ≤ ${n(m[alg].maxHitRate * 100, 1)} % per round)`,
  ]
  const cpuRatio = (key, limit) => [
    `CPU per request vs pass-through, ${key} ≥ ${limit.toFixed(2)}×`,
    figure(e?.[key]?.cpuRatio, e?.[key]?.roundsCpuRatio),
    (v) => v >= limit,
    (v) => `${x(v)} (workerd alone ${x(e[key].workerdCpuRatio)}; req/s ${x(e[key].rpsRatio)})`,
  ]
  const targets = [
    verify('EdDSA', 1.1),
    verify('ES256', 1.1),
    verify('RS256', 1.2),
    [
      `in-isolate CPU over a bare forward: public route ≤ +${PUBLIC_BUDGET_US} µs`,
      figure(p?.publicAddedUs?.median, p?.publicAddedUs?.rounds),
      (v) => v <= PUBLIC_BUDGET_US,
      us,
    ],
    [
      `in-isolate CPU over a bare forward: low route, warm token ≤ +${LOW_BUDGET_US} µs`,
      figure(p?.lowAddedUs?.median, p?.lowAddedUs?.rounds),
      (v) => v <= LOW_BUDGET_US,
      us,
    ],
    [
      `in-isolate CPU over a bare forward: critical ≤ low + DO round trip + ${CRITICAL_SLACK_US} µs`,
      figure(p?.criticalExcessUs?.median, p?.criticalExcessUs?.rounds),
      (v) => v <= CRITICAL_SLACK_US,
      (v) =>
        `critical − low − DO = ${signed(v)} µs (critical ${signed(p.criticalAddedUs.median)}, low ${signed(p.lowAddedUs.median)}, DO round trip ${n(p.doRoundTripUs.median)} µs)`,
    ],
    cpuRatio('low', 0.75),
    cpuRatio('critical', 0.6),
    [
      'refresh ≥ 400 rotations/s (8 parallel sessions, local D1)',
      figure(a?.refreshPerSecond, a?.roundsPerSecond),
      (v) => v >= 400,
      (v) => `${n(v, 0)}/s`,
    ],
    [
      'login ≤ 1.3× the Argon2id hash alone (same run)',
      figure(
        a?.loginOverArgon2,
        roundRatios(
          a?.roundsLogin?.map((l) => l.loginMs),
          a?.roundsLogin?.map((l) => l.argon2Ms),
        ),
      ),
      (v) => v <= 1.3,
      (v) =>
        `${x(v)} (workerd CPU: login ${n(a.loginMs)} ms, hash ${n(a.argon2Ms)} ms; login wall ${n(a.loginWallMs)} ms)`,
    ],
    // Growth: each times the operation that grows, with the grown state's row count asserted.
    [
      'revocation check() with 1M vs 0 revoked jtis ≤ 1.1×',
      figure(r.revocationGrowth?.ratio, r.revocationGrowth?.roundsRatio),
      (v) => v <= 1.1 && r.revocationGrowth.entries >= 1_000_000,
      (v) =>
        `${x(v)} (${n(r.revocationGrowth.checkUs.full, 2)} vs ${n(r.revocationGrowth.checkUs.empty, 2)} µs; ${r.revocationGrowth.entries} rows)`,
    ],
    [
      'key store lookup with 100 vs 1 JWKS keys ≤ 1.1×',
      figure(r.micro?.jwksGrowth?.ratio, r.micro?.jwksGrowth?.rounds),
      (v) => v <= 1.1 && r.micro.keysHeld?.['keylookup-100'] === 100,
      (v) =>
        `${x(v)} (${n(r.micro.jwksGrowth.keys100Us, 3)} vs ${n(r.micro.jwksGrowth.keys1Us, 3)} µs; ${r.micro.keysHeld?.['keylookup-100']} keys held)`,
    ],
    [
      'refresh lookups (token by hash, session by sid) with 1M vs 1k sessions ≤ 1.2×',
      figure(a?.refreshGrowthRatio, a?.roundsRefreshGrowth),
      (v) => v <= 1.2 && a.sessionRows.big >= 1_000_000,
      (v) =>
        `${x(v)} (${n(a.lookupUs.big, 2)} vs ${n(a.lookupUs.small, 2)} µs; ${a.sessionRows.big} / ${a.sessionRows.small} rows)`,
    ],
    [
      'kid flood: 1 ≤ JWKS fetches ≤ 1 per cooldown, every flood request 401, real key 200, origin untouched',
      figure(f?.fetches),
      (v) =>
        v >= 1 &&
        v <= f.allowed &&
        f.statuses?.[401] === f.requests &&
        Object.keys(f.statuses).length === 1 &&
        f.validTokenStatus === 200 &&
        f.originReached === 0,
      (v) =>
        `${v} fetch(es) (${f.allowed} allowed), statuses ${JSON.stringify(f.statuses)}, real key ${f.validTokenStatus}, origin reached ${f.originReached}`,
    ],
    // Issue 12: sharding must not make a rotation dearer, and must spread the load evenly.
    [
      'refresh CPU per rotation, 4 vs 1 session shards ≤ 1.1×',
      figure(
        r.shards?.cpuRatio,
        roundRatios(r.shards?.roundsCpuUs?.four, r.shards?.roundsCpuUs?.one),
      ),
      (v) => v <= 1.1,
      x,
    ],
    [
      'rotations over 4 session shards within 10 % of even',
      figure(r.shards?.spread?.maxDeviationPercent),
      (v) => v <= 10,
      (v) => `largest deviation ${n(v)} % of the mean`,
    ],
    // Issue 14: README § WebSockets promises one shard call per idle socket per check period.
    [
      'idle critical-route socket ≤ 1 revocation check per websocket_check_seconds',
      figure(r.apiEdge?.sockets?.checksPerSocketMinute?.critical),
      (v) => v <= r.apiEdge.sockets.expectedChecksPerMinute * 1.05,
      (v) =>
        `${n(v, 2)} a minute (${r.apiEdge.sockets.expectedChecksPerMinute} allowed), ${n(r.apiEdge.sockets.cpuMsPerSocketMinute.critical, 2)} ms CPU`,
    ],
    // Issue 13: a proof costs one signature verify per request; measured with ES256 proofs.
    [
      'DPoP on a low route ≤ 1.3× Bearer in-isolate CPU',
      figure(d?.ES256?.ratio, roundRatios(d?.ES256?.roundsUs, d?.bearerRoundsUs)),
      (v) => v <= 1.3,
      (v) =>
        `${x(v)} with ES256 proofs (${signed(d.ES256.addedUs, 0)} µs), EdDSA ${x(d.EdDSA.ratio)} (${signed(d.EdDSA.addedUs, 0)} µs)`,
    ],
    // Issue 15: per attempt of a body-less request, the identity assertion (HS256) against the
    // legacy header signing.
    [
      'HS256 assertion ≤ 1.0× the legacy header signing (body-less)',
      figure(
        r.assertion?.identity?.hs256OverLegacy,
        roundRatios(r.assertion?.roundsUs?.hs256, r.assertion?.roundsUs?.legacy),
      ),
      (v) => v <= 1.0,
      (v) => {
        const i = r.assertion.identity
        return `${x(v)} (${n(i.hs256Us)} vs ${n(i.legacyUs)} µs; A/A control ${x(i.controlRatio)}), EdDSA ${x(i.eddsaOverLegacy)} (${n(i.eddsaUs)} µs)`
      },
    ],
  ]
  return targets.map(([name, fig, ok, fmt]) => {
    let pass = false
    let shown = 'not measured'
    if (fig !== null) {
      try {
        pass = ok(fig.median) === true
        const range =
          fig.rounds > 1 ? `; rounds ${n(fig.min, 2)}–${n(fig.max, 2)}, n=${fig.rounds}` : ''
        shown = `${fmt(fig.median)}${range}`
      } catch (err) {
        shown = `not evaluable: ${err.message}`
      }
    }
    const rounded =
      fig === null
        ? null
        : {
            median: round(fig.median, 3),
            min: round(fig.min, 3),
            max: round(fig.max, 3),
            rounds: fig.rounds,
          }
    return { name, figure: rounded, pass, shown }
  })
}

function microRows(m) {
  const rows = []
  for (const [alg, a] of Object.entries(m.perAlg)) {
    rows.push([
      `verify ${alg}, cache miss: raw / Gatehouse / jose`,
      `${n(a.rawUs)} / ${n(a.gatehouseUs)} / ${n(a.joseUs)} µs/op`,
      `Gatehouse ${x(a.gatehouseOverRaw)} raw (${signed(a.gatehouseOverheadUs)} µs), jose ${x(a.joseOverRaw)}; hit rate per round ${a.roundsHitRate.map((h) => `${n(h * 100, 1)} %`).join(' ')}`,
    ])
  }
  rows.push([
    'KeyStore lookup alone, 1 / 100 JWKS keys',
    `${n(m.jwksGrowth.keys1Us, 3)} / ${n(m.jwksGrowth.keys100Us, 3)} µs/op`,
    `growth ${x(m.jwksGrowth.ratio)}`,
  ])
  rows.push([
    'Argon2id verify (same module and parameters as login)',
    `${n(m.argon2Ms)} ms/hash`,
    `${m.distinctTokens} distinct tokens per algorithm`,
  ])
  return rows
}

function e2eRows(e) {
  const names = {
    passThrough: 'pass-through Worker',
    public: 'Gatehouse public route',
    low: 'Gatehouse low route',
    critical: 'Gatehouse critical route',
    lowDistinct: `Gatehouse low route, ${e.distinctTokens} distinct tokens (cache misses)`,
  }
  const rows = []
  for (const [key, v] of Object.entries(e.byVariant)) {
    const name = `e2e ${names[key] ?? key}`
    rows.push([
      name,
      `${n(v.rps, 0)} req/s, p50 ${n(v.p50Ms, 2)} ms, p99 ${n(v.p99Ms, 2)} ms`,
      key === 'passThrough' ? 'reference' : `${x(v.rpsRatio)} req/s, ${x(v.p99Ratio)} p99`,
    ])
    const c = v.cpuUsPerRequest
    rows.push([
      `  CPU per request`,
      `workerd ${n(c.workerd, 0)} µs, origin ${n(c.origin, 0)} µs, bench host ${n(c.bench, 0)} µs, wrk ${n(c.wrk, 0)} µs`,
      key === 'passThrough'
        ? ''
        : `workerd ${signed(c.workerd - e.byVariant.passThrough.cpuUsPerRequest.workerd, 0)} µs; CPU ratio ${x(v.cpuRatio)} (workerd alone ${x(v.workerdCpuRatio)})`,
    ])
  }
  rows.push([
    'e2e revocation at run time (X-Auth-Revocation)',
    `low: ${e.revocation.low}; critical: ${e.revocation.critical}`,
    '',
  ])
  return rows
}

function growthRows(r) {
  const rows = []
  const g = r.revocationGrowth
  if (g) {
    rows.push([
      'growth: revocation check() inside the shard, 0 / 1M revoked',
      `${n(g.checkUs.empty, 2)} / ${n(g.checkUs.full, 2)} µs per check (${g.entries} rows; fill ${n(g.fillSeconds)} s)`,
      `ratio ${x(g.ratio)}`,
    ])
    rows.push([
      '  cross-check: critical route, shard 0 / 1M revoked',
      `workerd CPU ${n(g.workerdCpuUsPerRequest.empty, 0)} / ${n(g.workerdCpuUsPerRequest.full, 0)} µs/req; ${n(g.emptyRps, 0)} / ${n(g.fullRps, 0)} req/s`,
      `ratio ${x(g.requestRatio)} (by req/s ${x(g.rpsRatio)})`,
    ])
  }
  const a = r.auth
  if (a)
    rows.push([
      'growth: refresh lookups in D1, 1k / 1M sessions',
      `${n(a.lookupUs.small, 2)} / ${n(a.lookupUs.big, 2)} µs per token + session lookup (${a.sessionRows.small} / ${a.sessionRows.big} rows; fill ${n(a.fillSeconds)} s)`,
      `ratio ${x(a.refreshGrowthRatio)}`,
    ])
  return rows
}

function shardRows(s) {
  const shares = (percent) =>
    Object.entries(percent)
      .map(([k, v]) => `${k} ${n(v, 1)} %`)
      .join(', ')
  return [
    [
      `shards: refresh on 1 / ${s.shards} session shards`,
      `workerd CPU ${n(s.cpuUsPerRotation.one, 0)} / ${n(s.cpuUsPerRotation.four, 0)} µs/rotation; ${n(s.rotationsPerSecond.one, 0)} / ${n(s.rotationsPerSecond.four, 0)} rotations/s`,
      `ratio ${x(s.cpuRatio)} (rotations/s ${x(s.rateRatio)})`,
    ],
    [
      `shards: new refresh tokens per shard, % of mean`,
      shares(s.spread.percentOfMean),
      `largest deviation ${n(s.spread.maxDeviationPercent)} % (${s.accounts} accounts, each rotated once)`,
    ],
  ]
}

function otherRows(r) {
  const rows = []
  const f = r.kidFlood
  if (f)
    rows.push([
      `kid flood: ${f.requests} random kids`,
      `${f.fetches} JWKS fetch(es) in ${n(f.seconds)} s; statuses ${JSON.stringify(f.statuses)}`,
      `allowed ${f.allowed}; origin reached ${f.originReached}; real key → ${f.validTokenStatus}`,
    ])
  const a = r.auth
  if (a) {
    rows.push([
      'auth: login (mobile) / Argon2id alone, workerd CPU',
      `${n(a.loginMs)} / ${n(a.argon2Ms)} ms (login wall ${n(a.loginWallMs)} ms)`,
      `${x(a.loginOverArgon2)} the hash`,
    ])
    rows.push([
      `auth: refresh, ${a.parallelSessions} parallel sessions`,
      `${n(a.refreshPerSecond, 0)} rotations/s (rounds ${a.roundsPerSecond.join(', ')})`,
      `workerd CPU ${n(a.cpuUsPerRotation, 0)} µs/rotation`,
    ])
  }
  return rows
}

function dpopRows(d) {
  const b = d.breakdownES256
  return [
    [
      'dpop: low route in-isolate, Bearer / DPoP ES256 / DPoP EdDSA',
      `${n(d.bearerUs)} / ${n(d.ES256.us)} / ${n(d.EdDSA.us)} µs`,
      `ES256 ${x(d.ES256.ratio)} (${signed(d.ES256.addedUs)} µs), EdDSA ${x(d.EdDSA.ratio)} (${signed(d.EdDSA.addedUs)} µs)`,
    ],
    [
      'dpop: low route, Bearer + a DPoP header never read',
      `${n(d.proofHeader.us)} µs`,
      `${x(d.proofHeader.ratio)} (${signed(d.proofHeader.addedUs)} µs): the bigger request alone`,
    ],
    [
      'dpop: the ES256 addition, by part',
      `signature ${n(b.signatureUs)}, decode+thumbprint+ath+htu ${n(b.parsingHashingUs)}, rest of verifyDpopProof ${n(b.restOfVerifyUs)}, around it in enforceSenderConstraint ${n(b.aroundVerifyUs)}, outside that ${n(b.outsideEnforceUs)} µs`,
      `enforceSenderConstraint ${signed(b.enforceAddedUs)} µs over Bearer`,
    ],
    ...d.steps.map((s) => [`dpop step: ${s.label}`, `${n(s.us)} µs`, '']),
  ]
}

function profileRows(p) {
  return p.rows.map((row) => [`profile: ${row.label}`, `${n(row.us)} µs`, row.note ?? ''])
}

/** Every figure as [what, measured, relation] rows. */
export function tableRows(r) {
  return [
    ...(r.micro ? microRows(r.micro) : []),
    ...(r.dpop ? dpopRows(r.dpop) : []),
    ...(r.assertion ? assertionRows(r.assertion) : []),
    ...(r.e2e ? e2eRows(r.e2e) : []),
    ...growthRows(r),
    ...(r.shards ? shardRows(r.shards) : []),
    ...otherRows(r),
    ...(r.apiEdge ? apiEdgeRows(r.apiEdge) : []),
    ...(r.profile ? profileRows(r.profile) : []),
  ]
}

/** Renders rows as an aligned plain-text table. */
export function renderTable(rows) {
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => String(row[i]).length)))
  return rows
    .map((row) =>
      row
        .map((cell, i) => String(cell).padEnd(widths[i]))
        .join(' │ ')
        .trimEnd(),
    )
    .join('\n')
}

/** The one summary line: every target with its verdict, median and min–max over rounds. */
export function summaryLine(meta, targets) {
  const passed = targets.filter((t) => t.pass).length
  const verdicts = targets
    .map((t) => {
      const f = t.figure
      const value =
        f === null
          ? 'not measured'
          : f.rounds > 1
            ? `${n(f.median, 2)} [${n(f.min, 2)}–${n(f.max, 2)}]`
            : n(f.median, 2)
      return `${t.pass ? 'PASS' : 'FAIL'} ${t.name}: ${value}`
    })
    .join('; ')
  return `BENCH SUMMARY: ${meta.commit} | targets ${passed}/${targets.length} | ${verdicts}`
}
