// Starts the real local stack exactly as a user would (`node scripts/start.mjs`, i.e. npm start)
// on a throwaway state directory and free ports (so a developer's own `npm start` on 8787 can
// keep running), waits until the gateway and the demo origin answer, provides their URLs to the
// tests, and stops the whole process group after the run. Two more things for the security
// suite: the gateway's JSON log lines (one `event: "request"` line per request, with its
// `reason`) go to a file in the state directory, so a test can read why its request was refused
// (gateway-log.ts); and the demo third-party issuer that `npm start` wrote to .demo-idp.json is
// read once here, so tests mint validly signed tokens with it (demo-idp.ts).

import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'
import type { TestProject } from 'vitest/node'

const START_TIMEOUT_MS = 90_000

declare module 'vitest' {
  export interface ProvidedContext {
    gatehouse: {
      gateway: string
      origin: string
      /** The file the gateway's JSON log lines are appended to (JSON Lines). */
      log: string
      /** The stack's GATEHOUSE_STATE_DIR: its local D1 databases (wrangler d1 --persist-to). */
      stateDir: string
      /** The demo third-party issuer of this stack (its key from .demo-idp.json). */
      idp: DemoIdpDocument
      /**
       * Ports the demo profile's /api/py and /api/go routes forward to (PYTHON_ORIGIN_PORT,
       * GO_ORIGIN_PORT): free now, and left for origin-languages.test.ts to start its example
       * origins on.
       */
      examplePorts: { python: number; go: number }
      /**
       * The port of the single-page app the demo profile lets call /api/echo cross-origin
       * (http://localhost:5173 there, DEMO_SPA_PORT): free now, for browser-api-edge.test.ts to
       * serve its page on as http://localhost:<port>.
       */
      spaPort: number
    }
  }
}

export interface DemoIdpDocument {
  issuer: string
  private_jwk: { kty: string; crv: string; x: string; d: string; kid: string; alg?: string }
}

let stack: ChildProcess | undefined
let stateDir: string | undefined
let logFd: number | undefined

/** A port that is free now, with the next one free too (wrangler's inspector uses port+1000). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

async function waitFor(url: string, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`e2e: ${url} did not come up within ${START_TIMEOUT_MS} ms`)
}

/**
 * Copies every JSON log line of `stream` (wrangler prints the Worker's console lines as they are)
 * to the log file, one whole line per write, so a reader never sees a torn line of another stream.
 */
function captureLogLines(stream: Readable | null): void {
  const utf8 = new StringDecoder('utf8')
  let rest = ''
  stream?.on('data', (chunk: Buffer) => {
    const lines = (rest + utf8.write(chunk)).split('\n')
    rest = lines.pop() ?? ''
    for (const line of lines) {
      const at = line.indexOf('{"ts":')
      if (at >= 0 && logFd !== undefined) writeSync(logFd, `${line.slice(at).trimEnd()}\n`)
    }
  })
}

/**
 * The demo issuer of this stack: the key from .demo-idp.json (made once per checkout and kept), and
 * the issuer URL `npm start` wrote there for our origin port. Another run in the same checkout may
 * rewrite the file for its own port meanwhile; the URL is a function of the port
 * (scripts/lib/demo-idp.mjs), so ours is taken from our origin rather than failing the run.
 */
function readDemoIdp(origin: string): DemoIdpDocument {
  const doc = JSON.parse(
    readFileSync(join(process.cwd(), '.demo-idp.json'), 'utf8'),
  ) as DemoIdpDocument
  if (typeof doc.private_jwk?.d !== 'string') throw new Error('e2e: .demo-idp.json has no key')
  return { issuer: `${origin}/idp`, private_jwk: doc.private_jwk }
}

export async function setup(project: TestProject): Promise<void> {
  const gatewayPort = await freePort()
  const originPort = await freePort()
  const examplePorts = { python: await freePort(), go: await freePort() }
  const spaPort = await freePort()
  const gateway = `http://127.0.0.1:${gatewayPort}`
  const origin = `http://127.0.0.1:${originPort}`
  stateDir = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-'))
  const log = join(stateDir, 'gateway-log.jsonl')
  logFd = openSync(log, 'a')
  stack = spawn(process.execPath, ['scripts/start.mjs'], {
    cwd: process.cwd(),
    env: {
      ...process.env,
      GATEHOUSE_STATE_DIR: stateDir,
      GATEHOUSE_PORT: String(gatewayPort),
      DEMO_ORIGIN_PORT: String(originPort),
      PYTHON_ORIGIN_PORT: String(examplePorts.python),
      GO_ORIGIN_PORT: String(examplePorts.go),
      DEMO_SPA_PORT: String(spaPort),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let output = ''
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000)
  }
  stack.stdout?.on('data', keep)
  stack.stderr?.on('data', keep)
  captureLogLines(stack.stdout)
  captureLogLines(stack.stderr)
  const deadline = Date.now() + START_TIMEOUT_MS
  let idp: DemoIdpDocument
  try {
    await waitFor(`${gateway}/healthz`, deadline)
    await waitFor(`${origin}/__count`, deadline)
    idp = readDemoIdp(origin)
  } catch (err) {
    await teardown()
    throw new Error(`${(err as Error).message}\n--- npm start output ---\n${output}`)
  }
  project.provide('gatehouse', { gateway, origin, log, stateDir, idp, examplePorts, spaPort })
}

export async function teardown(): Promise<void> {
  if (stack?.pid !== undefined) {
    try {
      process.kill(-stack.pid, 'SIGTERM')
    } catch {
      // already gone
    }
    await new Promise((r) => setTimeout(r, 500))
  }
  if (logFd !== undefined) closeSync(logFd)
  logFd = undefined
  if (stateDir) rmSync(stateDir, { recursive: true, force: true })
}
