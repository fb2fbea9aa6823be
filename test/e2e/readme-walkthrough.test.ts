// README § Add your own service, as a reader follows it: the section's shell blocks, exactly as
// written, in one bash session in a fresh copy of the checkout (no .dev.vars, no local state),
// the two blocks that keep running in the background (each waited for, as a reader waits for its
// terminal to say it is up). Only the ports differ from a reader's, through the variables the
// README documents (GATEHOUSE_PORT, DEMO_ORIGIN_PORT, ORDERS_PORT, …), so the run shares the
// machine with any other stack. Then: the user was created, the origin answered with the identity
// it verified (examples/orders-service/server.mjs, the README's Node origin snippet), the refused
// requests never reached it, and nothing is left running.

import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ROOT, copyCheckout, readmeBlocks, type ReadmeBlock } from '../helpers/stack/readme'
import {
  acceptsConnection,
  eventually,
  freePort,
  processesNaming,
} from '../helpers/stack/start-process'

const SECTION = 'Add your own service'
const THIS_TEST = 'test/e2e/readme-walkthrough.test.ts'
/** npm start in a fresh copy: migrations of three local databases, seeding, wrangler dev. */
const READY_TIMEOUT_SECONDS = 120
const RUN_TIMEOUT_MS = 170_000
const STOP_TIMEOUT_MS = 15_000

let copy: string | undefined
let group: number | undefined

afterAll(() => {
  stopGroup('SIGKILL')
  if (copy !== undefined) rmSync(copy, { recursive: true, force: true })
})

function stopGroup(signal: NodeJS.Signals): void {
  if (group === undefined) return
  try {
    process.kill(-group, signal)
  } catch {
    // the group is gone
  }
}

function sectionBlocks(): ReadmeBlock[] {
  const blocks = readmeBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8')).filter(
    (b) => b.section === SECTION,
  )
  if (blocks.length === 0) throw new Error(`README.md has no § ${SECTION} with code blocks`)
  return blocks
}

/**
 * What a block that keeps running prints once it is up: its `# → ` line, as far as the port (a
 * reader's port is not ours). The test waits for that, as a reader waits for the terminal.
 */
function readyText(block: ReadmeBlock): string {
  const said = /^# → (.*?127\.0\.0\.1:)\d+/m.exec(block.code)?.[1]
  if (said === undefined) {
    throw new Error(`README.md:${block.line}: a block that keeps running says nothing to wait for`)
  }
  return said
}

/**
 * The bash script of the walkthrough: each block that this test runs, verbatim, after a
 * `::block <line>` line; a block that keeps running goes to the background with its output in
 * `<logs>/<line>.log`, and the script waits until it says it is up.
 */
function walkthroughScript(blocks: ReadmeBlock[], logs: string): string {
  const parts = [
    'set -e',
    '__ready() {',
    `  for _ in $(seq 1 ${READY_TIMEOUT_SECONDS * 4}); do`,
    '    grep -qF -- "$2" "$1" 2>/dev/null && return 0',
    '    sleep 0.25',
    '  done',
    '  echo "::not ready: $1 never said $2"',
    '  return 1',
    '}',
  ]
  for (const block of blocks) {
    const marker = block.marker
    if (marker?.kind !== 'runs-in' || marker.test !== THIS_TEST) continue
    if (block.lang !== 'sh') throw new Error(`README.md:${block.line}: runs-in a non-sh block`)
    parts.push(`echo '::block ${block.line}'`)
    if (marker.keepsRunning) {
      const log = `${logs}/${block.line}.log`
      parts.push(`(\n${block.code}) > '${log}' 2>&1 &`)
      parts.push(`__ready '${log}' '${readyText(block)}'`)
    } else {
      parts.push(block.code)
    }
  }
  return parts.join('\n') + '\n'
}

/** Output of the block whose code contains `text` (the lines after its `::block` line). */
function outputOf(output: string, blocks: ReadmeBlock[], text: string): string {
  const block = blocks.find((b) => b.code.includes(text))
  if (block === undefined) throw new Error(`no block of § ${SECTION} contains ${text}`)
  const start = output.indexOf(`::block ${block.line}\n`)
  if (start < 0) return ''
  const rest = output.slice(start + `::block ${block.line}\n`.length)
  const next = rest.indexOf('::block ')
  return next < 0 ? rest : rest.slice(0, next)
}

function logOf(logs: string, blocks: ReadmeBlock[], text: string): string {
  const block = blocks.find((b) => b.code.includes(text))
  if (block === undefined) throw new Error(`no block of § ${SECTION} contains ${text}`)
  try {
    return readFileSync(join(logs, `${block.line}.log`), 'utf8')
  } catch {
    return ''
  }
}

describe('README § Add your own service', () => {
  it('runs as written in a fresh copy: the user, the verified call, the refusals, nothing left running', async () => {
    const blocks = sectionBlocks()
    copy = copyCheckout()
    const logs = join(copy, '.walkthrough-logs')
    mkdirSync(logs)
    const script = join(logs, 'walkthrough.sh')
    writeFileSync(script, walkthroughScript(blocks, logs))
    const ports = {
      GATEHOUSE_PORT: await freePort(),
      DEMO_ORIGIN_PORT: await freePort(),
      PYTHON_ORIGIN_PORT: await freePort(),
      GO_ORIGIN_PORT: await freePort(),
      DEMO_SPA_PORT: await freePort(),
      ORDERS_PORT: await freePort(),
    }
    const env: NodeJS.ProcessEnv = { ...process.env }
    // A reader's shell: npm start resolves GATEHOUSE_CONFIG from where npm runs, not from ours.
    delete env.INIT_CWD
    for (const [name, port] of Object.entries(ports)) env[name] = String(port)

    const child = spawn('bash', [script], { cwd: copy, env, detached: true })
    group = child.pid
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => stopGroup('SIGKILL'), RUN_TIMEOUT_MS)
      child.once('exit', (c) => {
        clearTimeout(timer)
        resolve(c)
      })
    })
    const gatewayLog = logOf(logs, blocks, 'npm start')
    const ordersLog = () => logOf(logs, blocks, 'orders-service/server.mjs')
    const context = `${output}\n--- npm start ---\n${gatewayLog.slice(-4000)}\n--- orders ---\n${ordersLog()}`
    expect(code, context).toBe(0)

    // 1–4: the secret, the service, the route, the restart with the new file.
    expect(readFileSync(join(copy, '.dev.vars'), 'utf8')).toMatch(
      /^ORIGIN_SECRET_ORDERS="[A-Za-z0-9+/=]{32,}"$/m,
    )
    expect(ordersLog()).toContain(`orders service on http://127.0.0.1:${ports.ORDERS_PORT}`)
    const served = JSON.parse(readFileSync(join(copy, 'my-gatehouse.json'), 'utf8')) as {
      routes: Record<string, unknown>[]
    }
    const route = JSON.parse(
      readFileSync(join(ROOT, 'examples/orders-service/route.json'), 'utf8'),
    ) as Record<string, unknown>
    expect(served.routes).toContainEqual({
      ...route,
      origin: `http://127.0.0.1:${ports.ORDERS_PORT}`,
    })
    expect(gatewayLog).toContain(`gateway       http://127.0.0.1:${ports.GATEHOUSE_PORT}`)
    expect(gatewayLog).toContain('my-gatehouse.json')

    // 5: carol, with the scope the route reads with.
    const created = JSON.parse(outputOf(output, blocks, '/admin/users')) as Record<string, unknown>
    expect(created).toMatchObject({ tenant: 'demo', username: 'carol', scopes: ['orders:read'] })
    const carol = created.id as string
    expect(carol).toMatch(/^usr_/)

    // 6: the service answered with the identity the assertion named.
    expect(JSON.parse(outputOf(output, blocks, '$B/api/orders/42'))).toEqual({
      order: '42',
      for: carol,
      tenant: 'demo',
      scope: 'orders:read',
    })

    // 7: no token, the wrong scope twice, and around the gateway.
    expect(outputOf(output, blocks, '-X POST').trim().split('\n')).toEqual([
      '401',
      '403',
      '403',
      '401',
    ])
    // The service saw carol's call and the request that went around the gateway, nothing else.
    const seen = ordersLog()
      .split('\n')
      .filter((line) => line.startsWith('orders: '))
    expect(seen).toEqual([
      `orders: GET /api/orders/42 for ${carol} of demo`,
      'orders: refused GET /api/orders/42 (missing_assertion)',
    ])

    // Stopping the session stops everything it started: npm start's gateway and the service.
    stopGroup('SIGTERM')
    const stopped = await eventually(
      async () =>
        !(await acceptsConnection(ports.GATEHOUSE_PORT)) &&
        !(await acceptsConnection(ports.ORDERS_PORT)) &&
        processesNaming(ports.GATEHOUSE_PORT, /wrangler|workerd/).length === 0,
      STOP_TIMEOUT_MS,
    )
    expect(stopped, processesNaming(ports.GATEHOUSE_PORT, /wrangler|workerd/).join('\n')).toBe(true)
  }, 200_000)
})
