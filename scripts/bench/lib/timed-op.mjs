// Times one request to a bench Worker from outside the isolate (workerd's own clocks stand still
// during CPU work): the wall time the client sees, and workerd's CPU time over the same request
// (utime + stime of the process, cpu.mjs). The process clock ticks in 10 ms, so each operation's
// count per request is calibrated once (calibrateOps) to give a window of ≥ 400 ms of CPU.

import { cpuNs, threadCpuNs } from './cpu.mjs'

/** CPU per timed request: a 10 ms tick is then ≤ 2.5 % of a sample. */
const TARGET_WINDOW_MS = 400
const CALIBRATION_OPS = 50
const MAX_OPS_PER_REQUEST = 50_000_000

/**
 * Runs `op` n times in the Worker (`params`: more query parameters); resolves to { wallMs, cpuMs, threadCpuMs, body } (cpuMs: the
 * process clock; threadCpuMs: live threads' schedstat, for the short windows of the DPoP,
 * assertion and API-edge sections; body: the Worker's JSON answer); throws on a failed run.
 */
export async function timeOp(worker, op, n, params = {}) {
  const threadsBefore = threadCpuNs(worker.pid)
  const cpuBefore = cpuNs(worker.pid)
  const started = performance.now()
  let res
  try {
    const query = new URLSearchParams({ op, n: String(n), ...params })
    res = await fetch(`${worker.url}/?${query}`)
  } catch (err) {
    const cause = err?.cause?.message ?? err?.message ?? String(err)
    throw new Error(`${op}: ${cause}; workerd said:\n${worker.logs?.tail() ?? ''}`)
  }
  const body = await res.json()
  const wallMs = performance.now() - started
  const cpuMs = (cpuNs(worker.pid) - cpuBefore) / 1e6
  const threadCpuMs = (threadCpuNs(worker.pid) - threadsBefore) / 1e6
  if (res.status !== 200) throw new Error(`${op}: ${JSON.stringify(body)}`)
  return { wallMs, cpuMs, threadCpuMs, body }
}

/**
 * How many runs of `op` one request needs for `targetMs` of CPU, at least `min`: from a trial's
 * CPU on the threads' schedstat clock (ns resolution, and unlike wall time not stretched by
 * other load).
 */
export async function calibrateOps(worker, op, { targetMs = TARGET_WINDOW_MS, min = 1 } = {}) {
  let n = CALIBRATION_OPS
  for (;;) {
    const { threadCpuMs } = await timeOp(worker, op, n)
    if (threadCpuMs >= targetMs / 4 || n >= MAX_OPS_PER_REQUEST) {
      const perOpMs = Math.max(threadCpuMs, 1e-3) / n
      return Math.min(MAX_OPS_PER_REQUEST, Math.max(min, Math.ceil(targetMs / perOpMs)))
    }
    n *= 8
  }
}

/**
 * µs per operation: (request − empty-loop request) / n, on the wall clock and on `clock` (cpuMs
 * or threadCpuMs). Not clamped: a negative figure shows a broken baseline instead of hiding it.
 */
export function perOpUs(sample, baseline, n, clock = 'cpuMs') {
  return {
    cpu: ((sample[clock] - baseline[clock]) * 1000) / n,
    wall: ((sample.wallMs - baseline.wallMs) * 1000) / n,
  }
}
