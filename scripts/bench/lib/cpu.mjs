// CPU time read from /proc (Linux), for figures that other load on the machine cannot skew:
// a process's on-CPU nanoseconds summed over its threads (schedstat), and where the CPU goes
// during a load round — the workerd processes Miniflare started, the demo origin, this Node
// process (Miniflare's host, which also drains workerd's log pipe) and wrk (a reaped child).

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

/** On-CPU time of every thread of `pid`, in nanoseconds (0 once it is gone). */
export function cpuNs(pid) {
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
    wrk: (wrkTicks / CLOCK_TICKS_PER_SECOND) * 1e9,
  }
}

/** CPU µs per request per process between two snapshots. */
export function cpuPerRequestUs(before, after, requests) {
  const out = {}
  for (const key of Object.keys(before)) out[key] = (after[key] - before[key]) / 1000 / requests
  return out
}
