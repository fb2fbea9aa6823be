// `wrangler dev` for npm start, run under scripts/lib/start-group-leader.mjs so that wrangler, its
// CLI process and workerd form one process group that is stopped as a whole, and that goes with
// npm start however npm start ends. Wrangler gets no terminal on stdin (a background process group
// that reads the terminal is stopped by SIGTTIN), so its hotkeys are off; Ctrl-C is npm start's.

import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const LEADER = fileURLToPath(new URL('./start-group-leader.mjs', import.meta.url))
/** Poll interval while waiting for the gateway's /healthz. */
const HEALTH_POLL_MS = 250
/** Upper bound for one /healthz probe, so a half-started workerd cannot hang the wait. */
const HEALTH_PROBE_TIMEOUT_MS = 2_000

/**
 * Starts `wrangler <args>` in its own process group. Returns { exited, stop }: `exited` resolves
 * to the exit code when the group's leader ends; `stop()` stops the whole group (SIGTERM, SIGKILL
 * after the leader's grace period) and resolves with `exited`.
 */
export function startGateway({ wrangler, args, cwd, env }) {
  // The leader keeps our pipe on its stdin: when this process dies, the pipe closes and the
  // leader stops the group. It runs in a session of its own, so a SIGKILL sent to our whole
  // group (a supervisor's last resort) cannot take it down before it has cleaned up.
  const leader = spawn(process.execPath, [LEADER, wrangler, ...args], {
    cwd,
    env,
    stdio: ['pipe', 'inherit', 'inherit'],
    detached: true,
  })
  const exited = new Promise((resolve) =>
    leader.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))),
  )
  let stopped = false
  const stop = () => {
    if (!stopped) {
      stopped = true
      leader.kill('SIGTERM')
    }
    return exited
  }
  return { exited, stop }
}

/**
 * Resolves true once `url` answers 2xx, false when `gone` resolves first (the gateway exited).
 * Never rejects.
 */
export async function waitHealthy(url, gone) {
  let done = false
  void gone.then(() => (done = true))
  while (!done) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(HEALTH_PROBE_TIMEOUT_MS) })
      if (res.ok) return true
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, HEALTH_POLL_MS))
  }
  return false
}
