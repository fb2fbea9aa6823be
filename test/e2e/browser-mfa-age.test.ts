// Step-up by age (#17) in real Chromium: a passkey-only session (acr mfa) passes /api/stepup while
// its auth_time is fresh, is asked to step up once auth_time is older than the route's
// max_auth_age_seconds, answers with the passkey, and the refused call is retried once. The demo
// profile's 300 s is too long to wait for, so this file starts a stack of its own (`npm start` on
// free ports and a state dir of its own, beside the suite's stack) serving a copy of
// config/demo.json whose /api/stepup has max_auth_age_seconds = MAX_AGE_SECONDS.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  act,
  addVirtualAuthenticator,
  gatewayCalls,
  logInOnDemoPage,
  recordWire,
  useChromium,
} from '../helpers/stack/browser'
import { DEMO } from '../helpers/stack/stack'
import {
  eventually,
  freePort,
  processesNaming,
  spawnNode,
  type StartProcess,
} from '../helpers/stack/start-process'

/** /api/stepup's max_auth_age_seconds on this stack: long enough for one call, short to wait. */
const MAX_AGE_SECONDS = 4
/** Migrations, seed and wrangler dev of a second stack while the suite's own one runs. */
const START_TIMEOUT_MS = 100_000
const STOP_DEADLINE_MS = 10_000
/** What this stack's processes are recognised by in their command lines. */
const STACK_PROCESS = /wrangler|workerd|start-group-leader/

const scratch = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-mfa-age-'))
let stack: StartProcess | undefined
let gatewayPort = 0
/** This stack's gateway by name (WebAuthn refuses IP-address origins), and by IP. */
let gatewayByName = ''
let gatewayByIp = ''
let origin = ''

beforeAll(async () => {
  const doc = JSON.parse(readFileSync('config/demo.json', 'utf8')) as {
    routes: { prefix: string; max_auth_age_seconds?: number }[]
  }
  const route = doc.routes.find((r) => r.prefix === '/api/stepup')
  if (route?.max_auth_age_seconds === undefined) {
    throw new Error('config/demo.json has no /api/stepup route with max_auth_age_seconds')
  }
  route.max_auth_age_seconds = MAX_AGE_SECONDS
  const config = join(scratch, 'demo-short-auth-age.json')
  writeFileSync(config, JSON.stringify(doc, null, 2))

  gatewayPort = await freePort()
  const originPort = await freePort()
  gatewayByIp = `http://127.0.0.1:${gatewayPort}`
  gatewayByName = `http://localhost:${gatewayPort}`
  origin = `http://127.0.0.1:${originPort}`
  stack = spawnNode('scripts/start.mjs', [], {
    GATEHOUSE_CONFIG: config,
    GATEHOUSE_STATE_DIR: join(scratch, 'state'),
    GATEHOUSE_PORT: String(gatewayPort),
    DEMO_ORIGIN_PORT: String(originPort),
    PYTHON_ORIGIN_PORT: String(await freePort()),
    GO_ORIGIN_PORT: String(await freePort()),
    DEMO_SPA_PORT: String(await freePort()),
  })
  await stack.waitForOutput(/^gateway\s+http/m, START_TIMEOUT_MS)
  expect(stack.output()).toContain('demo-short-auth-age.json')
}, START_TIMEOUT_MS + 10_000)

afterAll(async () => {
  if (stack !== undefined) {
    // As a supervisor stops it: npm start stops wrangler, workerd and the demo origin itself.
    stack.child.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      stack.exited,
      new Promise((r) => (timer = setTimeout(r, STOP_DEADLINE_MS))),
    ])
    clearTimeout(timer)
    await eventually(
      () => processesNaming(gatewayPort, STACK_PROCESS).length === 0,
      STOP_DEADLINE_MS,
    )
    stack.killGroup() // whatever of the group did not stop in time
  }
  rmSync(scratch, { recursive: true, force: true })
}, 3 * STOP_DEADLINE_MS)

/** Requests this stack's demo origin has served so far. */
async function originCount(): Promise<number> {
  const res = await fetch(`${origin}/__count`)
  return ((await res.json()) as { count: number }).count
}

/** A fresh demo user made through this stack's admin API (as attack-kit's createUser does). */
async function createUser(label: string): Promise<{ username: string; password: string }> {
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${gatewayByIp}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    })
  const login = await post('/auth/login', {
    ...DEMO.admin,
    client: 'mobile',
    device_id: 'e2e-mfa-age',
  })
  expect(login.status).toBe(200)
  const { access_token: adminToken } = (await login.json()) as { access_token: string }
  const user = {
    username: `${label}-${crypto.randomUUID().slice(0, 8)}`,
    password: `pw-${crypto.randomUUID()}`,
  }
  const created = await post(
    '/admin/users',
    { tenant: 'demo', ...user, scopes: ['echo:read'] },
    { authorization: `Bearer ${adminToken}` },
  )
  expect(created.status).toBe(201)
  return user
}

/** The `auth_time` claim of the access token in a token endpoint's answer (read, not verified). */
async function authTimeOf(answer: Promise<{ json(): Promise<unknown> }>): Promise<number> {
  const { access_token: token } = (await (await answer).json()) as { access_token: string }
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
    auth_time: number
  }
  return payload.auth_time
}

/** Resolves to the answer to the next POST `path` at this stack's gateway by name. */
const nextAnswer = (page: Page, path: string) =>
  page.waitForResponse(
    (r) => r.url() === `${gatewayByName}${path}` && r.request().method() === 'POST',
  )

const newContext = useChromium()

describe('a passkey session whose auth_time ages past max_auth_age_seconds', () => {
  it('passes /api/stepup while fresh, then is asked to step up and retries once after the passkey', async () => {
    const user = await createUser('age')
    const page = await (await newContext()).newPage()
    await logInOnDemoPage(page, { user, base: gatewayByName })
    await addVirtualAuthenticator(page)
    expect(await act(page, '#passkey-add')).toMatchObject({ outcome: 'ok', factors: '1' })
    await act(page, '#recovery-done')
    expect(await act(page, '#logout')).toMatchObject({ outcome: 'ok', session: 'none' })

    // Passkey only: the session is an MFA session (acr mfa) from its auth_time on.
    const loginAnswer = nextAnswer(page, '/auth/passkeys/login')
    const loggedIn = await act(page, '#passkey-login')
    expect(loggedIn).toMatchObject({ outcome: 'ok', session: 'active', acr: 'mfa' })
    expect((loggedIn.amr ?? '').split(' ')).not.toContain('pwd')
    const authTime = await authTimeOf(loginAnswer)
    expect(Math.abs(authTime - Date.now() / 1000)).toBeLessThan(MAX_AGE_SECONDS)
    const wire = await recordWire(page, { gateways: [gatewayByName] })

    const before = await originCount()
    const fresh = await act(page, '#call-stepup')
    expect(fresh).toMatchObject({ action: 'stepup', outcome: 'ok', httpStatus: '200' })
    expect(fresh.stepUp).toBe('none')
    expect(await originCount()).toBe(before + 1)

    // The gateway compares whole seconds: the age exceeds the limit from auth_time + max + 1 s.
    const agedAt = (authTime + MAX_AGE_SECONDS + 1) * 1000 + 100
    await expect
      .poll(() => Date.now() >= agedAt, { timeout: (MAX_AGE_SECONDS + 3) * 1000, interval: 50 })
      .toBe(true)

    const challenged = page.waitForResponse((r) => r.url() === `${gatewayByName}/api/stepup/hello`)
    const asked = await act(page, '#call-stepup')
    expect(asked).toMatchObject({
      action: 'stepup',
      outcome: 'pending',
      httpStatus: '401',
      stepUp: 'required',
      session: 'active',
      acr: 'mfa', // the factor is strong enough; only its age falls short
    })
    const refusal = await challenged
    expect(refusal.status()).toBe(401)
    const challenge = (await refusal.allHeaders())['www-authenticate'] ?? ''
    expect(challenge).toContain('error="insufficient_user_authentication"')
    expect(challenge).toContain(`max_age=${MAX_AGE_SECONDS}`)
    expect(JSON.parse((await page.locator('#output').textContent()) ?? '')).toEqual({
      acr_values: ['mfa'],
      max_age: MAX_AGE_SECONDS,
    })
    expect(await page.locator('#factor-prompt').isVisible()).toBe(true)
    const afterRefusal = await originCount()
    expect(afterRefusal).toBe(before + 1) // refused at the edge

    const stepUpAnswer = nextAnswer(page, '/auth/step-up')
    const passed = await act(page, '#prompt-passkey')
    expect(passed).toMatchObject({
      action: 'stepup',
      outcome: 'ok',
      httpStatus: '200',
      stepUp: 'passed',
      acr: 'mfa',
      session: 'active',
    })
    expect(await page.locator('#factor-prompt').isVisible()).toBe(false)
    expect(await authTimeOf(stepUpAnswer)).toBeGreaterThan(authTime + MAX_AGE_SECONDS)
    // The refused call reached the origin exactly once: its retry after the step-up.
    expect(await originCount()).toBe(afterRefusal + 1)
    await expect
      .poll(() => gatewayCalls(wire))
      .toEqual([
        'GET /api/stepup/hello 200',
        'GET /api/stepup/hello 401',
        'POST /auth/step-up/options 200',
        'POST /auth/step-up 200',
        'GET /api/stepup/hello 200',
      ])
  })
})
