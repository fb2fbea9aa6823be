// `npm start` (scripts/start.mjs) as a process a test watches from outside: its exit code and
// output, free ports for a stack of its own, and what is left afterwards: whether a port still
// accepts connections and which processes still name a port in their command line (read from
// /proc, so the check sees orphans that left every process group the test knows about).

import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'

/** Polling interval while waiting for output, an exit or a port to close. */
const POLL_MS = 100

/** A TCP port on 127.0.0.1 that is free now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

export interface StartProcess {
  readonly child: ChildProcess
  /** stdout and stderr so far, interleaved as they arrived. */
  output(): string
  /** Resolves to the exit code (a signal counts as null). */
  readonly exited: Promise<number | null>
  /** Resolves once `pattern` appears in the output; rejects after `timeoutMs` or on exit. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<void>
  /** Kills whatever of the process group is left (cleanup after a failed test). */
  killGroup(): void
}

/**
 * Runs `node <script> ...args` in the project root with `env` added to the environment, in a
 * process group of its own (so a test can clean up everything it started).
 */
export function spawnNode(script: string, args: string[], env: NodeJS.ProcessEnv): StartProcess {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: process.cwd(),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let output = ''
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-100_000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  let done = false
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      done = true
      resolve(code)
    }),
  )
  return {
    child,
    output: () => output,
    exited,
    async waitForOutput(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs
      while (!pattern.test(output)) {
        if (done) throw new Error(`exited before printing ${pattern}:\n${output}`)
        if (Date.now() > deadline) throw new Error(`no ${pattern} in ${timeoutMs} ms:\n${output}`)
        await new Promise((r) => setTimeout(r, POLL_MS))
      }
    },
    killGroup() {
      if (child.pid === undefined) return
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {
        // gone already
      }
    },
  }
}

/** Runs `npm start` with `args` and `env` to its end; resolves to its exit code and output. */
export async function runStart(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; output: string }> {
  const run = spawnNode('scripts/start.mjs', args, env)
  const code = await run.exited
  return { code, output: run.output() }
}

/** True when something accepts a TCP connection on 127.0.0.1:`port`. */
export function acceptsConnection(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/**
 * Live processes (not zombies) whose command line names `port` as a number of its own and
 * `marker` (e.g. /wrangler|workerd/): `pid command…` lines, read from /proc.
 */
export function processesNaming(port: number, marker: RegExp): string[] {
  const portPattern = new RegExp(`(?<!\\d)${port}(?!\\d)`)
  const found: string[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      const state = readFileSync(`/proc/${entry}/stat`, 'utf8').replace(/^.*\) /, '')[0]
      if (state === 'Z') continue
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ')
      if (portPattern.test(cmd) && marker.test(cmd)) found.push(`${entry} ${cmd.slice(0, 200)}`)
    } catch {
      // the process ended while we looked
    }
  }
  return found
}

/** Polls `check` until it returns true or `timeoutMs` passes; resolves to the last answer. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return true
    if (Date.now() > deadline) return false
    await new Promise((r) => setTimeout(r, POLL_MS))
  }
}
