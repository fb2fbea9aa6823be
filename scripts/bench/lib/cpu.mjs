// CPU time read from /proc (Linux), for figures that other load on the machine cannot skew:
// a process's utime + stime from /proc/<pid>/stat (the kernel's per-process total: every thread,
// including threads that exited between two readings, so a delta is never negative), and where
// the CPU goes during a load round — the workerd processes Miniflare started, the demo origin,
// this Node process (Miniflare's host, which also drains workerd's log pipe) and wrk (a reaped
// child). The trade-off: stat counts in clock ticks (10 ms), so every timed window is made long
// enough (timed-op.mjs calibrates it to ≥ 400 ms) that a tick is ≤ 2.5 % of it.

import { readFileSync, readdirSync } from 'node:fs'

const CLOCK_TICKS_PER_SECOND = 100 // USER_HZ on Linux

function statFields(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ') // fields[0] is stat field 3
  } catch {
    return null
  }
}

function commOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return ''
  }
}

/** Pids of this process's direct children named workerd (one per Miniflare instance). */
export function workerdPids() {
  const pids = []
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid)) continue
    const fields = statFields(pid)
    if (fields !== null && Number(fields[1]) === process.pid && commOf(pid) === 'workerd') {
      pids.push(pid)
    }
  }
  return pids
}

/** Nanoseconds per clock tick of /proc/<pid>/stat. */
const NS_PER_TICK = 1e9 / CLOCK_TICKS_PER_SECOND

/**
 * CPU time of process `pid` (utime + stime of /proc/<pid>/stat: all its threads, live or exited),
 * in nanoseconds with a resolution of one tick (10 ms); 0 once the process is gone.
 */
export function cpuNs(pid) {
  const fields = statFields(pid)
  if (fields === null) return 0
  return (Number(fields[11]) + Number(fields[12])) * NS_PER_TICK // stat fields 14 and 15
}

/**
 * On-CPU time of the live threads of `pid` (schedstat, ns resolution), for windows too short for
 * the tick clock; a thread that exits inside the window takes its time with it.
 */
export function threadCpuNs(pid) {
  let total = 0
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
    }
  } catch {
    // the process or one of its threads went away: count what was read
  }
  return total
}

/** CPU snapshot (ns) of the given workerd pids, the origin, this process and reaped children. */
export function cpuSnapshot({ workerd, origin }) {
  const reaped = statFields(process.pid)
  const wrkTicks = reaped === null ? 0 : Number(reaped[13]) + Number(reaped[14]) // cutime + cstime
  return {
    workerd: workerd.reduce((sum, pid) => sum + cpuNs(pid), 0),
    origin: cpuNs(origin),
    bench: cpuNs(process.pid),
    wrk: wrkTicks * NS_PER_TICK,
  }
}

/** CPU µs per request per process between two snapshots. */
export function cpuPerRequestUs(before, after, requests) {
  const out = {}
  for (const key of Object.keys(before)) out[key] = (after[key] - before[key]) / 1000 / requests
  return out
}

/** A process counts as idle while it spends less than this share of one core. */
const IDLE_CORE_SHARE = 0.03
const IDLE_POLL_MS = 500
const IDLE_TIMEOUT_MS = 60_000

/**
 * Waits until `pid` is idle (below 3 % of a core over two consecutive 500 ms windows), so
 * background work a previous phase left behind (queue consumers, alarms, waitUntil tails) is not
 * charged to the next measurement. Resolves to the ms waited; throws after 60 s.
 */
export async function waitForIdle(pid) {
  const started = performance.now()
  let quiet = 0
  let last = cpuNs(pid)
  while (quiet < 2) {
    if (performance.now() - started > IDLE_TIMEOUT_MS) {
      throw new Error(`workerd ${pid} still busy after ${IDLE_TIMEOUT_MS / 1000} s`)
    }
    await new Promise((resolve) => setTimeout(resolve, IDLE_POLL_MS))
    const now = cpuNs(pid)
    quiet = (now - last) / 1e6 < IDLE_POLL_MS * IDLE_CORE_SHARE ? quiet + 1 : 0
    last = now
  }
  return performance.now() - started
}
