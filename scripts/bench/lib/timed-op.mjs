// Times one request to a bench Worker from outside the isolate (workerd's own clocks stand still
// during CPU work): the wall time the client sees, and workerd's on-CPU time over the same
// request (schedstat, all threads), which other load on the machine cannot inflate.

import { cpuNs } from './cpu.mjs'

/** Runs `op` n times in the Worker; resolves to { wallMs, cpuMs }; throws on a failed run. */
export async function timeOp(worker, op, n) {
  const cpuBefore = cpuNs(worker.pid)
  const started = performance.now()
  let res
  try {
    res = await fetch(`${worker.url}/?op=${encodeURIComponent(op)}&n=${n}`)
  } catch (err) {
    const cause = err?.cause?.message ?? err?.message ?? String(err)
    throw new Error(`${op}: ${cause}; workerd said:\n${worker.logs?.tail() ?? ''}`)
  }
  const body = await res.json()
  const wallMs = performance.now() - started
  const cpuMs = (cpuNs(worker.pid) - cpuBefore) / 1e6
  if (res.status !== 200) throw new Error(`${op}: ${JSON.stringify(body)}`)
  return { wallMs, cpuMs }
}

/** Element-wise median of several { wallMs, cpuMs } samples. */
export function medianSample(samples, median) {
  return {
    wallMs: median(samples.map((s) => s.wallMs)),
    cpuMs: median(samples.map((s) => s.cpuMs)),
  }
}

/** µs per operation on both clocks: (request − empty-loop request) / n. */
export function perOpUs(sample, baseline, n) {
  return {
    cpu: (Math.max(0, sample.cpuMs - baseline.cpuMs) * 1000) / n,
    wall: (Math.max(0, sample.wallMs - baseline.wallMs) * 1000) / n,
  }
}
