// The apiEdge section's rows for the bench table and its summary part (issue 14): what an idle
// WebSocket costs (workerd CPU and revocation-shard calls per socket per minute, critical and low
// route) and what a rate limit adds to a low-route request in-isolate (binding, exact counter,
// refused), with each counter's call alone.

import { round } from './stats.mjs'

const x = (v) => (Number.isFinite(v) ? `${round(v, 2)}×` : 'n/a')
const n = (v, digits = 1) => (Number.isFinite(v) ? String(round(v, digits)) : 'n/a')
const signed = (v, digits = 1) =>
  Number.isFinite(v) ? `${v < 0 ? '−' : '+'}${n(Math.abs(v), digits)}` : 'n/a'

/** µs of workerd CPU per revocation check of an idle critical socket. */
const usPerCheck = (s) =>
  (s.cpuMsPerSocketMinute.critical * 1000) / s.checksPerSocketMinute.critical

function socketRows(s) {
  return [
    [
      `api edge: ${s.sockets} idle sockets, workerd CPU a minute, none / low / critical`,
      `${n(s.workerdCpuMsPerMinute.none)} / ${n(s.workerdCpuMsPerMinute.low)} / ${n(s.workerdCpuMsPerMinute.critical)} ms`,
      `${s.rounds} rounds of ${s.idleSeconds} s idle`,
    ],
    [
      'api edge: per idle socket a minute, critical route',
      `${n(s.checksPerSocketMinute.critical, 2)} shard calls, ${n(s.cpuMsPerSocketMinute.critical, 2)} ms CPU`,
      `${s.expectedChecksPerMinute} calls expected (websocket_check_seconds ${s.checkSeconds}); ${n(usPerCheck(s), 0)} µs per check`,
    ],
    [
      'api edge: per idle socket a minute, low route',
      `${n(s.checksPerSocketMinute.low, 2)} shard calls, ${n(s.cpuMsPerSocketMinute.low, 3)} ms CPU`,
      'the expiry timer only',
    ],
  ]
}

function rateRows(r) {
  const vs = (v) => `${x(v.ratio)} (${signed(v.addedUs)} µs)`
  return [
    [
      'api edge: low route in-isolate, no limit / binding / exact counter',
      `${n(r.lowUs)} / ${n(r.binding.us)} / ${n(r.exact.us)} µs`,
      `binding ${vs(r.binding)}, exact ${vs(r.exact)}`,
    ],
    [
      'api edge: over the limit (429 before the origin), binding / exact',
      `${n(r.refusedBinding.us)} / ${n(r.refusedExact.us)} µs`,
      `vs the unlimited request: binding ${vs(r.refusedBinding)}, exact ${vs(r.refusedExact)}`,
    ],
    ...r.steps.map((s) => [`api edge step: ${s.label}`, `${n(s.us)} µs`, '']),
  ]
}

/** The apiEdge section as [what, measured, relation] rows. */
export function apiEdgeRows(a) {
  return [
    ...(a.sockets ? socketRows(a.sockets) : []),
    ...(a.rateLimit ? rateRows(a.rateLimit) : []),
  ]
}
