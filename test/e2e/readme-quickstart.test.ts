// README blocks a reader runs against `npm start` as they are written: § Quick start's walk
// through the demo with curl (login, the call the origin verifies, refresh, mobile login and
// refresh, logout, the refusals) and the rate-limit loop of § APIs from browsers and sockets. Each
// runs verbatim in bash, in an empty directory of its own (the walkthrough's cookie file `jar`
// goes there), against the e2e stack; only the port differs from a reader's, through the
// GATEHOUSE_PORT the README documents. Then what they printed, and what the gateway logged for
// each request (the status codes the printed bodies stand for).

import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ROOT, readmeBlocks, type ReadmeBlock } from '../helpers/stack/readme'
import { GATEWAY } from '../helpers/stack/stack'
import { eventually } from '../helpers/stack/start-process'

const THIS_TEST = 'test/e2e/readme-quickstart.test.ts'
const { origin: ORIGIN, log: LOG } = inject('gatehouse')
const BLOCK_TIMEOUT_MS = 30_000
const LOG_WAIT_MS = 5_000
/** /api/limited: 5 requests per 10 s per subject (config/demo.json, wrangler.toml). */
const LIMIT_PERIOD_MS = 10_000
/** Room the rate-limit block needs inside one window: a login, node, six requests. */
const BURST_ROOM_MS = 4_000

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** The block marked to run in this test whose code contains `text`. */
function blockWith(text: string): ReadmeBlock {
  const blocks = readmeBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8')).filter(
    (b) => b.marker?.kind === 'runs-in' && b.marker.test === THIS_TEST && b.code.includes(text),
  )
  if (blocks.length !== 1) {
    throw new Error(`README.md: ${blocks.length} blocks runs-in ${THIS_TEST} contain ${text}`)
  }
  const block = blocks[0] as ReadmeBlock
  if (block.lang !== 'sh') throw new Error(`README.md:${block.line}: runs-in a non-sh block`)
  return block
}

interface Run {
  readonly dir: string
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs `block` as written with `set -e` in bash, in an empty directory, on the stack's port. */
async function runBlock(block: ReadmeBlock): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-readme-'))
  dirs.push(dir)
  const script = join(dir, '.block.sh')
  writeFileSync(script, `set -e\n${block.code}`)
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GATEHOUSE_PORT: new URL(GATEWAY).port,
    // The reader's `node` is the one running the tests.
    PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
  }
  return new Promise((resolve) => {
    execFile(
      'bash',
      [script],
      { cwd: dir, env, timeout: BLOCK_TIMEOUT_MS },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1
        resolve({ dir, code, stdout, stderr })
      },
    )
  })
}

/** The gateway log's request lines appended after byte `from` of the log file. */
function requestsLoggedSince(from: number): { method: string; route: string; status: number }[] {
  const text = readFileSync(LOG).subarray(from).toString('utf8')
  return text
    .split('\n')
    .filter((line) => line.endsWith('}'))
    .map(
      (line) =>
        JSON.parse(line) as { event?: string; method: string; route: string; status: number },
    )
    .filter((entry) => entry.event === 'request')
    .map(({ method, route, status }) => ({ method, route, status }))
}

describe('README § Quick start: walk through the demo with curl', () => {
  it('runs as written: login, the verified echo, refresh, mobile login and refresh, logout, refusals', async () => {
    const from = statSync(LOG).size
    const run = await runBlock(blockWith('/auth/logout'))
    const context = `exit ${run.code}\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`
    expect(run.code, context).toBe(0)
    expect(run.stderr, context).toBe('')

    const lines = run.stdout.trimEnd().split('\n')
    expect(lines, context).toHaveLength(10)
    const [login, echo, refreshed, mobile, logout, after, noToken, badToken, open, jwks] =
      lines as [string, string, string, string, string, string, string, string, string, string]

    // 1. The login's answer; the refresh cookie went to the jar.
    const loggedIn = JSON.parse(login) as Record<string, unknown>
    expect(loggedIn).toEqual({
      access_token: expect.stringMatching(/^eyJ/),
      token_type: 'Bearer',
      expires_in: 900,
      scope: 'echo:read echo:write',
    })
    expect(readFileSync(join(run.dir, 'jar'), 'utf8')).toMatch(
      /\t__Secure-gatehouse_refresh\tghr1\./,
    )

    // 2. The origin verified the assertion the gateway signed for alice's call.
    expect(JSON.parse(echo)).toMatchObject({
      method: 'GET',
      path: '/api/echo/hello',
      gateway: {
        ok: true,
        via: 'assertion',
        claims: {
          iss: GATEWAY,
          sub: 'usr_3e3_demo_alice',
          htm: 'GET',
          htu: `${ORIGIN}/api/echo/hello`,
        },
      },
    })

    // 3. The cookie refresh: a new access token of the same session.
    const web = JSON.parse(refreshed) as Record<string, unknown>
    expect(web).toMatchObject({ token_type: 'Bearer', scope: 'echo:read echo:write' })
    expect(web.access_token).toMatch(/^eyJ/)
    expect(web.access_token).not.toBe(loggedIn.access_token)
    expect(web).not.toHaveProperty('refresh_token')

    // 4. The mobile refresh with the token the login answered with: the next one in the body.
    expect(JSON.parse(mobile)).toMatchObject({
      access_token: expect.stringMatching(/^eyJ/),
      token_type: 'Bearer',
      refresh_token: expect.stringMatching(/^ghr1\./),
    })

    // 5. Logout, then the cookie's refresh token is refused.
    expect(logout).toBe('204')
    const refused = /^(\{.*\}) (\d{3})$/.exec(after)
    expect(refused, after).not.toBeNull()
    expect(JSON.parse(refused?.[1] ?? '')).toMatchObject({ error: 'invalid_grant' })
    expect(refused?.[2]).toBe('401')

    // No token, a bad one; the public route and the JWKS.
    expect(noToken.trimEnd()).toBe('HTTP/1.1 401 Unauthorized')
    expect(badToken).toBe('401')
    expect(JSON.parse(open)).toMatchObject({ method: 'GET', path: '/api/public/x' })
    const keys = (JSON.parse(jwks) as { keys: { alg: string }[] }).keys
    expect(keys.length).toBeGreaterThanOrEqual(1)
    expect(keys.every((key) => key.alg === 'EdDSA')).toBe(true)

    // What the gateway answered each request of the block (its log line is written after the
    // response, so it may lag a little).
    const expected = [
      { method: 'POST', route: '/auth/login', status: 200 },
      { method: 'GET', route: '/api/echo', status: 200 },
      { method: 'POST', route: '/auth/refresh', status: 200 },
      { method: 'POST', route: '/auth/login', status: 200 },
      { method: 'POST', route: '/auth/refresh', status: 200 },
      { method: 'POST', route: '/auth/logout', status: 204 },
      { method: 'POST', route: '/auth/refresh', status: 401 },
      { method: 'GET', route: '/api/echo', status: 401 },
      { method: 'GET', route: '/api/echo', status: 401 },
      { method: 'GET', route: '/api/public', status: 200 },
      { method: 'GET', route: '/.well-known/jwks.json', status: 200 },
    ]
    await eventually(() => requestsLoggedSince(from).length >= expected.length, LOG_WAIT_MS)
    expect(requestsLoggedSince(from)).toEqual(expected)
  })
})

describe('README § APIs from browsers and sockets: the rate-limit loop', () => {
  it('runs as written: five 200s, then 429', async () => {
    const block = blockWith('/api/limited')
    // The limit counts in fixed windows aligned to the epoch: start where the block fits in one,
    // as the README's note about a burst across two windows says.
    const intoWindow = Date.now() % LIMIT_PERIOD_MS
    if (intoWindow > LIMIT_PERIOD_MS - BURST_ROOM_MS) {
      await new Promise((r) => setTimeout(r, LIMIT_PERIOD_MS - intoWindow + 50))
    }
    const run = await runBlock(block)
    const context = `exit ${run.code}\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`
    expect(run.code, context).toBe(0)
    expect(run.stderr, context).toBe('')
    expect(run.stdout).toBe('200 200 200 200 200 429 \n')
  })
})
