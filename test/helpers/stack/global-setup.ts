// Starts the real local stack exactly as a user would (`node scripts/start.mjs`, i.e. npm start)
// on a throwaway state directory and free ports (so a developer's own `npm start` on 8787 can
// keep running), waits until the gateway and the demo origin answer, provides their URLs to the
// tests, and stops the whole process group after the run.

import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'

const START_TIMEOUT_MS = 90_000

declare module 'vitest' {
  export interface ProvidedContext {
    gatehouse: { gateway: string; origin: string }
  }
}

let stack: ChildProcess | undefined
let stateDir: string | undefined

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

export async function setup(project: TestProject): Promise<void> {
  const gatewayPort = await freePort()
  const originPort = await freePort()
  const gateway = `http://127.0.0.1:${gatewayPort}`
  const origin = `http://127.0.0.1:${originPort}`
  stateDir = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-'))
  stack = spawn(process.execPath, ['scripts/start.mjs'], {
    cwd: process.cwd(),
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
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000)
  }
  stack.stdout?.on('data', keep)
  stack.stderr?.on('data', keep)
  const deadline = Date.now() + START_TIMEOUT_MS
  try {
    await waitFor(`${gateway}/healthz`, deadline)
    await waitFor(`${origin}/__count`, deadline)
  } catch (err) {
    await teardown()
    throw new Error(`${(err as Error).message}\n--- npm start output ---\n${output}`)
  }
  project.provide('gatehouse', { gateway, origin })
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
  if (stateDir) rmSync(stateDir, { recursive: true, force: true })
}
