// The process between `npm start` and `wrangler dev`: it runs wrangler in a process group of its
// own (wrangler's launcher, its CLI and workerd all join it) and owns that group's end. It stops
// the group when told (SIGTERM, SIGINT, SIGHUP) and also when its stdin closes, which is how it
// learns that npm start died, even by SIGKILL, where no handler of npm start's could run. The
// cost is one more small Node process; the gain is that nothing outlives npm start on the port.
//
//   node scripts/lib/start-group-leader.mjs <command> [args…]    (scripts/lib/start-gateway.mjs)

import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

/** How long the group gets to exit after SIGTERM before it is sent SIGKILL. */
const STOP_GRACE_MS = 5_000
/** How often the group is polled for processes still in it while it stops. */
const GROUP_POLL_MS = 100

const [command, ...args] = process.argv.slice(2)
if (command === undefined) {
  console.error('start-group-leader: no command')
  process.exit(2)
}

// detached: setsid(), so the group id is the child's pid, and a group signal never reaches us.
const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'], detached: true })
const childExit = new Promise((resolve) =>
  child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))),
)

/** True while any process (wrangler's CLI, workerd) is left in the child's group. */
function groupAlive() {
  try {
    process.kill(-child.pid, 0)
  } catch {
    return false
  }
  return !onlyZombiesLeft()
}

/**
 * True when /proc shows no member of the group but zombies. kill(pgid, 0) counts a zombie, and a
 * container's PID 1 may reap orphans late; a zombie holds no port and no CPU, so it is not waited
 * for. Without /proc (not Linux), kill()'s answer stands.
 */
function onlyZombiesLeft() {
  let entries
  try {
    entries = readdirSync('/proc')
  } catch {
    return false
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(pgrp) === child.pid && state !== 'Z') return false
    } catch {
      // the process ended while we looked
    }
  }
  return true
}

function signalGroup(signal) {
  try {
    process.kill(-child.pid, signal)
  } catch {
    // the group is gone already
  }
}

/** Resolves once the group is empty, or after `ms` (false). */
async function groupGone(ms) {
  const deadline = Date.now() + ms
  while (groupAlive()) {
    if (Date.now() >= deadline) return false
    await new Promise((r) => setTimeout(r, GROUP_POLL_MS))
  }
  return true
}

let stopping = null

/** Stops the whole group: SIGTERM, then SIGKILL after the grace period; exits with wrangler's code. */
function stop() {
  stopping ??= (async () => {
    signalGroup('SIGTERM')
    if (!(await groupGone(STOP_GRACE_MS))) signalGroup('SIGKILL')
    await groupGone(STOP_GRACE_MS)
    process.exit(await childExit)
  })()
}

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, stop)
process.stdin.on('end', stop)
process.stdin.on('error', stop)
process.stdin.resume()

// Wrangler ended on its own (a crash, or its CLI exited): whatever it left in the group goes too.
void childExit.then(stop)
