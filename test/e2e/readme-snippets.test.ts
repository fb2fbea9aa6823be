// README.md's code blocks, each marked with how it runs (test/helpers/stack/readme.ts): a file a
// test runs, a block a test runs as written, requests a test makes the same way, commands left to
// a person (with the reason), or an illustration. No block goes unmarked, and a snippet is its
// file byte for byte. Then the package entry an origin imports, gatehouse/origin, as a user's own
// project outside this checkout sees it (plain Node, no build step): it verifies an assertion the
// running gateway signed, and the legacy-headers snippet accepts a request signed over the
// gateway's canonical string, once.

import { execFile, spawn } from 'node:child_process'
import { createHmac, randomBytes } from 'node:crypto'
import { copyFileSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { join, relative } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it, inject } from 'vitest'
import {
  HEADER,
  SIGNATURE_VERSION,
  canonicalString,
  encodeIdentityValue,
  type SignedHeader,
} from '../../src/origin/identity-headers'
import { ROOT, packageUserProject, readmeBlocks } from '../helpers/stack/readme'
import { GATEWAY, loginAs } from '../helpers/stack/stack'
import { acceptsConnection, eventually, freePort } from '../helpers/stack/start-process'

const run = promisify(execFile)
const ORIGIN = inject('gatehouse').origin
const SERVER_START_TIMEOUT_MS = 10_000

/**
 * Signs a request the way the gateway does for identity = "headers": HMAC-SHA256 under the route
 * secret over the gateway's own canonical string (src/origin/identity-headers.ts, the module its
 * signer and the built verifier share). The gateway's signer itself needs the Workers runtime.
 */
function signLikeTheGateway(method: string, target: string, secret: string): Headers {
  const values: Partial<Record<SignedHeader, string>> = {
    [HEADER.issuer]: encodeIdentityValue(GATEWAY),
    [HEADER.subject]: encodeIdentityValue('usr_legacy_reader'),
    [HEADER.tenant]: 'demo',
    [HEADER.scopes]: encodeIdentityValue('orders:read'),
    [HEADER.revocation]: 'checked',
    [HEADER.requestId]: 'readme-legacy-1',
  }
  const timestamp = String(Math.floor(Date.now() / 1000))
  const nonce = randomBytes(16).toString('base64url')
  const mac = createHmac('sha256', secret)
    .update(canonicalString({ method, target, timestamp, nonce, headers: values }))
    .digest('base64url')
  const headers = new Headers(values as Record<string, string>)
  headers.set(HEADER.timestamp, timestamp)
  headers.set(HEADER.nonce, nonce)
  headers.set(HEADER.signature, `${SIGNATURE_VERSION}=${mac}`)
  return headers
}

const userProjects: string[] = []
afterAll(() => {
  for (const dir of userProjects) rmSync(dir, { recursive: true, force: true })
})

function userProject(): string {
  const dir = packageUserProject()
  userProjects.push(dir)
  return dir
}

/** Every file under test/, as text: where a snippet's file must be named by the test that runs it. */
function testSources(): string[] {
  const files = readdirSync(join(ROOT, 'test'), { recursive: true, encoding: 'utf8' })
  return files
    .filter((file) => file.endsWith('.ts'))
    .map((file) => readFileSync(join(ROOT, 'test', file), 'utf8'))
}

/** The value of `name` in the checkout's .dev.vars (npm start wrote it for the e2e stack). */
function devVar(name: string): string {
  const text = readFileSync(join(ROOT, '.dev.vars'), 'utf8')
  const value = new RegExp(`^${name}="?([^"\\n]*)"?$`, 'm').exec(text)?.[1]
  if (value === undefined) throw new Error(`.dev.vars has no ${name}`)
  return value
}

describe('README code blocks', () => {
  it('marks every block with how it runs, and each snippet is its file byte for byte', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const sources = testSources()
    const problems: string[] = []
    for (const block of readmeBlocks(readme)) {
      const at = `README.md:${block.line} (${block.lang || 'text'}, § ${block.section})`
      const marker = block.marker
      if (marker === null) {
        problems.push(
          block.rawMarker === null
            ? `${at}: no marker; say how it runs (test/helpers/stack/readme.ts)`
            : `${at}: unknown marker <!-- ${block.rawMarker} -->`,
        )
        continue
      }
      if (marker.kind === 'snippet') {
        let file: string
        try {
          file = readFileSync(join(ROOT, marker.file), 'utf8')
        } catch {
          problems.push(`${at}: ${marker.file} does not exist`)
          continue
        }
        if (file !== block.code) problems.push(`${at}: differs from ${marker.file}`)
        if (!sources.some((source) => source.includes(marker.file))) {
          problems.push(`${at}: no test under test/ names ${marker.file}`)
        }
      }
      if (marker.kind === 'runs-in' || marker.kind === 'mirrors') {
        let test: string
        try {
          test = readFileSync(join(ROOT, marker.test), 'utf8')
        } catch {
          problems.push(`${at}: ${marker.test} does not exist`)
          continue
        }
        if (marker.kind === 'runs-in' && !test.includes('README')) {
          problems.push(`${at}: ${marker.test} does not read README.md`)
        }
      }
    }
    expect(problems).toEqual([])
  })
})

describe('gatehouse/origin from a project of its own', () => {
  it('imports by name on plain Node and verifies an assertion the gateway signed', async () => {
    const alice = await loginAs('alice')
    const res = await fetch(`${GATEWAY}/api/echo/readme?from=package`, {
      headers: { authorization: `Bearer ${alice.accessToken}` },
    })
    expect(res.status).toBe(200)
    const echo = (await res.json()) as {
      method: string
      path: string
      query: string
      headers: Record<string, string>
    }
    const request = {
      method: echo.method,
      host: echo.headers.host,
      target: `${echo.path}${echo.query}`,
      headers: { 'gatehouse-assertion': echo.headers['gatehouse-assertion'] },
    }
    // What an origin's own code does, in a project whose node_modules holds only the package.
    const code = `
      import { createAssertionVerifier } from 'gatehouse/origin'
      const env = JSON.parse(process.env.CHECK)
      const verifier = createAssertionVerifier(env.options)
      const result = await verifier.verify(env.request)
      console.log(JSON.stringify({ node: process.versions.node, result }))`
    const dir = userProject()
    const options = { issuer: GATEWAY, audience: ORIGIN, secret: devVar('ORIGIN_SECRET_DEMO') }
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], {
      cwd: dir,
      env: { ...process.env, CHECK: JSON.stringify({ options, request }) },
      timeout: 20_000,
    })
    const out = JSON.parse(stdout) as { node: string; result: { ok: boolean; claims?: object } }
    expect(Number(out.node.split('.')[0])).toBeGreaterThanOrEqual(20)
    expect(out.result).toMatchObject({
      ok: true,
      claims: { sub: 'usr_3e3_demo_alice', tid: 'demo', htm: 'GET', iss: GATEWAY },
    })
    expect(relative(ROOT, dir).startsWith('..')).toBe(true)
  })

  it('runs the legacy-headers snippet: a request signed as the gateway signs passes once, its replay and an unsigned one do not', async () => {
    const dir = userProject()
    copyFileSync(join(ROOT, 'examples/readme/legacy-headers.mjs'), join(dir, 'legacy-headers.mjs'))
    const port = await freePort()
    const secret = 'readme-legacy-origin-secret-0123456789abcdef'
    const server = spawn(process.execPath, ['legacy-headers.mjs'], {
      cwd: dir,
      env: { ...process.env, PORT: String(port), GATEHOUSE_ORIGIN_SECRET: secret },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let logged = ''
    server.stderr.on('data', (chunk: Buffer) => (logged += chunk.toString()))
    try {
      expect(await eventually(() => acceptsConnection(port), SERVER_START_TIMEOUT_MS)).toBe(true)
      const target = '/orders/7?view=full'
      const headers = signLikeTheGateway('GET', target, secret)
      const url = `http://127.0.0.1:${port}${target}`
      const first = await fetch(url, { headers })
      expect(first.status).toBe(200)
      expect(await first.text()).toBe('hello usr_legacy_reader of demo')
      expect((await fetch(url, { headers })).status).toBe(401)
      expect((await fetch(url)).status).toBe(401)
      await eventually(() => logged.includes('missing_signature'), 2_000)
      expect(logged.trim().split('\n')).toEqual(['refused: replayed', 'refused: missing_signature'])
    } finally {
      server.kill('SIGKILL')
    }
  })
})
