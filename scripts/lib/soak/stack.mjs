// The soak's own stack: `npm start` (scripts/start.mjs) on free ports with a throwaway state
// directory, exactly as the e2e global setup starts it, its JSON log lines appended to a file in
// that directory. Stopped as a whole process group (wrangler, workerd and the demo origin).

import { spawn } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { StringDecoder } from 'node:string_decoder'

const START_TIMEOUT_MS = 120_000
const STOP_GRACE_MS = 5_000

/** A free port (wrangler's inspector takes port + 1000, which start.mjs sets). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

async function waitFor(url, deadline, exited) {
  while (Date.now() < deadline && !exited()) {
    try {
      if ((await fetch(url)).ok) return
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`soak: ${url} did not come up`)
}

/** Appends every JSON log line of `stream` to the file descriptor, one whole line per write. */
function captureLogLines(stream, fd) {
  const utf8 = new StringDecoder('utf8')
  let rest = ''
  stream.on('data', (chunk) => {
    const lines = (rest + utf8.write(chunk)).split('\n')
    rest = lines.pop() ?? ''
    for (const line of lines) {
      const at = line.indexOf('{"ts":')
      if (at >= 0 && fd.open) writeSync(fd.value, `${line.slice(at).trimEnd()}\n`)
    }
  })
}

/**
 * Starts the stack; resolves to { gateway, origin, stateDir, log, stop() }. Throws with the
 * tail of `npm start`'s output when it does not come up.
 */
export async function startStack(root) {
  const gatewayPort = await freePort()
  const originPort = await freePort()
  const stateDir = mkdtempSync(join(tmpdir(), 'gatehouse-soak-'))
  const log = join(stateDir, 'gateway-log.jsonl')
  const fd = { value: openSync(log, 'a'), open: true }
  const child = spawn(process.execPath, ['scripts/start.mjs'], {
    cwd: root,
    env: {
      ...process.env,
      GATEHOUSE_STATE_DIR: stateDir,
      GATEHOUSE_PORT: String(gatewayPort),
      DEMO_ORIGIN_PORT: String(originPort),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let output = ''
  let exited = false
  const exit = new Promise((resolve) => child.once('exit', resolve))
  void exit.then(() => (exited = true))
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk) => (output = (output + chunk).slice(-20_000)))
    captureLogLines(stream, fd)
  }
  const stop = async () => {
    if (!exited) {
      try {
        process.kill(-child.pid, 'SIGTERM')
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid, 'SIGKILL')
        } catch {
          // gone meanwhile
        }
      }, STOP_GRACE_MS)
      await exit
      clearTimeout(timer)
    }
    if (fd.open) closeSync(fd.value)
    fd.open = false
    rmSync(stateDir, { recursive: true, force: true })
  }
  const gateway = `http://127.0.0.1:${gatewayPort}`
  const origin = `http://127.0.0.1:${originPort}`
  try {
    const deadline = Date.now() + START_TIMEOUT_MS
    await waitFor(`${gateway}/healthz`, deadline, () => exited)
    await waitFor(`${origin}/__count`, deadline, () => exited)
  } catch (err) {
    await stop()
    throw new Error(`${err.message}\n--- npm start output ---\n${output}`)
  }
  return { gateway, origin, stateDir, log, stop }
}
