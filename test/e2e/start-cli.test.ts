// `npm start` as a dev server people can trust (#18): --help instead of starting, a broken
// configuration (or a secret missing from .dev.vars) refused before anything starts with every
// problem listed, and a stop (SIGTERM, or npm start killed outright) that leaves nothing behind on
// its ports. These runs start stacks of their own on free ports, beside the suite's stack.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import {
  acceptsConnection,
  eventually,
  freePort,
  processesNaming,
  runStart,
  spawnNode,
} from '../helpers/stack/start-process'

/** How long a stopped stack may take to release its ports and end its processes (#18). */
const STOP_DEADLINE_MS = 10_000
/** Start-up of a whole stack (migrations, seed, wrangler) on a busy two-core CI machine. */
const START_TIMEOUT_MS = 100_000
const ENV_NAMES = [
  'GATEHOUSE_PORT',
  'DEMO_ORIGIN_PORT',
  'PYTHON_ORIGIN_PORT',
  'GO_ORIGIN_PORT',
  'DEMO_SPA_PORT',
  'GATEHOUSE_CONFIG',
  'GATEHOUSE_STATE_DIR',
]
/** What a stack's processes are recognised by in their command lines. */
const STACK_PROCESS = /wrangler|workerd|start-group-leader/

const scratch = mkdtempSync(join(tmpdir(), 'gatehouse-start-cli-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

/** The demo configuration with `edit` applied, written to a scratch file; returns its path. */
function demoConfigWith(name: string, edit: (doc: Record<string, unknown>) => void): string {
  const doc = JSON.parse(readFileSync('config/demo.json', 'utf8')) as Record<string, unknown>
  edit(doc)
  const path = join(scratch, name)
  writeFileSync(path, JSON.stringify(doc, null, 2))
  return path
}

describe('npm start --help', () => {
  it.each([['--help'], ['-h']])(
    '%s prints the usage with every variable it reads and exits 0',
    async (flag) => {
      const { code, output } = await runStart([flag])
      expect(code).toBe(0)
      for (const name of ENV_NAMES) expect(output).toContain(name)
      expect(output).not.toMatch(/Ready on/)
    },
  )

  it('refuses an unknown flag with the usage and exit code 2', async () => {
    const { code, output } = await runStart(['--no-such-flag'])
    expect(code).toBe(2)
    expect(output).toContain('GATEHOUSE_PORT')
  })
})

describe('npm start with a configuration it cannot serve', () => {
  it('exits 1 listing every problem of the configuration, and never gets ready', async () => {
    const config = demoConfigWith('two-errors.json', (doc) => {
      doc.clock_skew_seconds = 'sixty'
      doc.max_token_lifetime_seconds = 'an hour'
    })
    const { code, output } = await runStart([], { GATEHOUSE_CONFIG: config })
    expect(code).toBe(1)
    expect(output).toContain('clock_skew_seconds')
    expect(output).toContain('max_token_lifetime_seconds')
    expect(output).not.toMatch(/ready/i)
  })

  it('exits 1 when the configuration names a secret that .dev.vars does not hold', async () => {
    const missing = 'ORIGIN_SECRET_START_CLI_NOT_IN_DEV_VARS'
    const config = demoConfigWith('missing-secret.json', (doc) => {
      const [route] = doc.routes as Record<string, unknown>[]
      if (route === undefined) throw new Error('config/demo.json has no route')
      route.origin_secret = missing
    })
    const { code, output } = await runStart([], { GATEHOUSE_CONFIG: config })
    expect(code).toBe(1)
    expect(output).toContain(missing)
    expect(output).not.toMatch(/ready/i)
  })
})

describe('stopping npm start', () => {
  it(
    'SIGTERM stops wrangler, workerd and the demo origin, leaving the ports free',
    async () => {
      const ports = {
        gateway: await freePort(),
        origin: await freePort(),
        python: await freePort(),
        go: await freePort(),
        spa: await freePort(),
      }
      const stateDir = mkdtempSync(join(scratch, 'state-'))
      const stack = spawnNode('scripts/start.mjs', [], {
        GATEHOUSE_STATE_DIR: stateDir,
        GATEHOUSE_PORT: String(ports.gateway),
        DEMO_ORIGIN_PORT: String(ports.origin),
        PYTHON_ORIGIN_PORT: String(ports.python),
        GO_ORIGIN_PORT: String(ports.go),
        DEMO_SPA_PORT: String(ports.spa),
      })
      try {
        await stack.waitForOutput(/^gateway\s+http/m, START_TIMEOUT_MS)
        expect(await acceptsConnection(ports.gateway)).toBe(true)
        expect(processesNaming(ports.gateway, STACK_PROCESS)).not.toEqual([])

        const stoppedAt = Date.now()
        stack.child.kill('SIGTERM') // the process only, as a supervisor or IDE does
        const exited = await Promise.race([
          stack.exited.then(() => true),
          new Promise<false>((r) => setTimeout(() => r(false), STOP_DEADLINE_MS)),
        ])
        expect(exited).toBe(true)
        const portsFree = await eventually(
          async () =>
            !(await acceptsConnection(ports.gateway)) && !(await acceptsConnection(ports.origin)),
          STOP_DEADLINE_MS - (Date.now() - stoppedAt),
        )
        expect(portsFree).toBe(true)
        const gone = await eventually(
          () => processesNaming(ports.gateway, STACK_PROCESS).length === 0,
          STOP_DEADLINE_MS - (Date.now() - stoppedAt),
        )
        expect(processesNaming(ports.gateway, STACK_PROCESS)).toEqual([])
        expect(gone).toBe(true)
      } finally {
        stack.killGroup()
      }
    },
    START_TIMEOUT_MS + 3 * STOP_DEADLINE_MS,
  )

  it('stops the gateway group, even a process that ignores SIGTERM, when npm start is killed with SIGKILL', async () => {
    // A stand-in for wrangler whose child (like workerd) listens and ignores SIGTERM, started by
    // the module npm start uses, from a parent that is then killed where no handler can run.
    const port = await freePort()
    const fakeWrangler = join(scratch, 'fake-wrangler.mjs')
    writeFileSync(
      fakeWrangler,
      `import { spawn } from 'node:child_process'
spawn(process.execPath, ['-e', \`process.on('SIGTERM', () => {})
require('node:net').createServer().listen(Number(process.argv[1]), '127.0.0.1', () => console.log('listening'))\`, process.argv[2]], { stdio: 'inherit' })
setInterval(() => {}, 60_000)
`,
    )
    const parent = join(scratch, 'parent.mjs')
    const startGateway = pathToFileURL(join(process.cwd(), 'scripts/lib/start-gateway.mjs')).href
    writeFileSync(
      parent,
      `import { startGateway } from '${startGateway}'
startGateway({ wrangler: process.execPath, args: [${JSON.stringify(fakeWrangler)}, '${port}'], cwd: process.cwd(), env: process.env })
setInterval(() => {}, 60_000)
`,
    )
    const run = spawnNode(parent, [], {})
    try {
      await run.waitForOutput(/listening/, 10_000)
      expect(await acceptsConnection(port)).toBe(true)
      run.child.kill('SIGKILL')
      await run.exited
      // The leader's grace period (5 s) for SIGTERM, then SIGKILL for the group.
      expect(await eventually(async () => !(await acceptsConnection(port)), STOP_DEADLINE_MS)).toBe(
        true,
      )
      await eventually(() => processesNaming(port, /fake-wrangler|listen/).length === 0, 2_000)
      expect(processesNaming(port, /fake-wrangler|listen/)).toEqual([])
    } finally {
      run.killGroup()
      for (const line of processesNaming(port, /fake-wrangler|listen/)) {
        process.kill(Number(line.split(' ')[0]), 'SIGKILL')
      }
    }
  }, 30_000)
})
