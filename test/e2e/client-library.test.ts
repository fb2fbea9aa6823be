// gatehouse/client outside the browser, against the real `npm start` stack: the README's Node
// snippet (README § DPoP), run verbatim as a user would; a mobile client through second factors
// (an authenticator app enrolled, a login that asks for it, a route that asks for a step-up);
// and the demo page's copy of the library (GET /demo/client/<file>) byte for byte the files the
// package exports. Passkeys need a browser: browser-mfa.test.ts.

import { execFile } from 'node:child_process'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { MfaRequiredError, StepUpRequiredError, createGatehouseClient } from '../../client/index.js'
import { createUser } from '../helpers/stack/attack-kit'
import { base32Decode, currentTotpStep, totpCode } from '../helpers/stack/browser'
import { GATEWAY, originCount } from '../helpers/stack/stack'

const ROOT = process.cwd()
const run = promisify(execFile)

/** The fenced block of README.md that starts with `// <name>`. */
async function readmeBlock(name: string): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  const start = readme.indexOf(`\`\`\`js\n// ${name}\n`)
  if (start < 0) throw new Error(`README.md has no js block starting with // ${name}`)
  const body = readme.slice(start + '```js\n'.length)
  return body.slice(0, body.indexOf('```'))
}

describe('gatehouse/client from Node', () => {
  it('runs the README’s Node snippet: a DPoP-bound call, and the token alone refused', async () => {
    const code = await readmeBlock('dpop-demo.mjs')
    // As `node dpop-demo.mjs` inside the checkout: `gatehouse/client` resolves from there.
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], {
      cwd: ROOT,
      env: { ...process.env, GATEHOUSE_URL: GATEWAY },
      timeout: 30_000,
    })
    const [bound, called, stolen] = stdout.trim().split('\n')
    const jkt = /^DPoP bound to ([A-Za-z0-9_-]{43})$/.exec(bound ?? '')?.[1]
    expect(jkt, stdout).toBeDefined()
    expect(called).toBe(`200 usr_3e3_demo_alice ${jkt}`)
    expect(stolen).toBe('401 as Bearer')
  })

  it('enrols an authenticator app, then finishes a login and a step-up with its codes', async () => {
    const user = await createUser('node-mfa')
    const newClient = () =>
      createGatehouseClient({
        baseUrl: GATEWAY,
        tenant: 'demo',
        client: 'mobile',
        deviceId: 'node-mfa',
      })
    const client = newClient()
    const first = await client.login(user)
    expect(first).toMatchObject({ tokenType: 'DPoP', acr: 'pwd', amr: ['pwd'] })
    const enrollment = await client.enrollTotp({ label: 'node' })
    const secret = base32Decode(enrollment.secret)
    const step = currentTotpStep()
    const added = await client.confirmTotp(enrollment.factorId, totpCode(secret, step))
    expect(added.recoveryCodes).toHaveLength(10)
    const listed = await client.listFactors()
    expect(listed.factors.map((f) => f.type)).toEqual(['totp'])
    expect(listed.recoveryCodesRemaining).toBe(10)

    // The password session predates the factor: /api/stepup wants a fresh MFA, and the origin
    // is not reached until the client steps up.
    const before = await originCount()
    const refused = await client.request('/api/stepup/node').catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(StepUpRequiredError)
    expect(refused).toMatchObject({ status: 401, acrValues: ['mfa'], maxAge: 300 })
    // fetch() returns the same answer as it is.
    expect((await client.fetch('/api/stepup/node')).status).toBe(401)
    expect(await originCount()).toBe(before)
    const stepped = await client.stepUp({ otp: totpCode(secret, step + 1) })
    expect(stepped.acr).toBe('mfa')
    expect(stepped.amr).toEqual(expect.arrayContaining(['otp', 'mfa']))
    expect((await client.request('/api/stepup/node')).status).toBe(200)
    expect(await originCount()).toBe(before + 1)

    // A new login asks for the second factor; a wrong code leaves it pending for the right one.
    const other = newClient()
    const pending = await other.login(user).catch((e: unknown) => e)
    expect(pending).toBeInstanceOf(MfaRequiredError)
    expect((pending as MfaRequiredError).factors).toEqual(
      expect.arrayContaining(['totp', 'recovery_code']),
    )
    expect(other.session()).toBeNull()
    const near = [-1, 0, 1, 2, 3].map((d) => totpCode(secret, step + d))
    const wrong = ['000000', '111111', '222222'].find((c) => !near.includes(c))!
    await expect(other.completeMfa({ otp: wrong })).rejects.toMatchObject({
      status: 401,
      code: 'invalid_grant',
    })
    await expect(
      other.completeMfa({ recoveryCode: added.recoveryCodes![0]! }),
    ).resolves.toMatchObject({
      tokenType: 'DPoP',
      acr: 'mfa',
    })
    expect((await other.request('/api/stepup/node')).status).toBe(200)
    await other.logout()
    await client.logout()
  })

  it('serves the demo page exactly the library modules the package exports', async () => {
    const files = (await readdir(join(ROOT, 'client'))).filter((f) => f.endsWith('.js'))
    expect(files).toContain('index.js')
    for (const file of files) {
      const served = await fetch(`${GATEWAY}/demo/client/${file}`)
      expect(served.status, file).toBe(200)
      expect(await served.text(), `${file}: run node scripts/embed-client.mjs`).toBe(
        await readFile(join(ROOT, 'client', file), 'utf8'),
      )
    }
    expect((await fetch(`${GATEWAY}/demo/client/index.d.ts`)).status).toBe(404)
  })
})
