// Origins in Python (PyJWT) and Go (standard library) trust Gatehouse through the assertion
// alone, against the real `npm start` stack: the demo profile routes /api/py (HS256 under the
// demo origin secret, body_binding = required) and /api/go (EdDSA, keys from the gateway's
// origin-assertion JWKS) to the example origins this file starts. Accepted: GET and POST with a
// body through the gateway. Refused, with the reason the origin names: what a tap between gateway
// and origin captured, sent again with another body, to another path, method or host, twice, or
// to an instance of the origin whose clock is 40 s ahead (an assertion that arrives after it
// expired, without waiting 30 s). Each language's own verifier unit tests run here too.
// Without the Debian toolchains (installed when missing) a language's suite is skipped, saying why.

import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  DEBIAN_PYTHON,
  GO_ENV,
  QUIET_ENV,
  buildGoOrigin,
  demoOriginSecret,
  ensureToolchain,
  sendRaw,
  startOrigin,
  startTap,
  type RunningOrigin,
  type Tap,
} from '../helpers/stack/example-origins'
import { loginAs } from '../helpers/stack/stack'

const { gateway, examplePorts } = inject('gatehouse')
/** The origin's clock runs this far ahead in the "late" instance: past exp (30 s) + skew (5 s). */
const LATE_BY_SECONDS = 40
const BUILD_TIMEOUT_MS = 180_000

interface Language {
  readonly name: 'python' | 'go'
  readonly prefix: string
  /** The port the route names: the tap listens there. */
  readonly routePort: number
  readonly signing: 'HS256' | 'EdDSA'
  readonly skip: string | null
  /** Starts the origin on `port`, its audience the route's origin, its clock `offset` s ahead. */
  start(port: number, offset: number): Promise<RunningOrigin>
  unitTests(): { status: number | null; output: string }
}

const root = process.cwd()
const jwksUrl = `${gateway}/.well-known/origin-assertion-jwks.json`
let goBuild: ReturnType<typeof buildGoOrigin> | null = null

const LANGUAGES: Language[] = [
  {
    name: 'python',
    prefix: '/api/py',
    routePort: examplePorts.python,
    signing: 'HS256',
    skip: ensureToolchain('python'),
    start: (port, offset) =>
      startOrigin(
        DEBIAN_PYTHON,
        [
          'server.py',
          ...['--port', String(port), '--issuer', gateway],
          ...['--audience', `http://127.0.0.1:${examplePorts.python}`],
          ...['--clock-offset', String(offset)],
        ],
        port,
        join(root, 'examples', 'origin-python'),
        { ORIGIN_SECRET: demoOriginSecret() },
      ),
    unitTests: () =>
      run(DEBIAN_PYTHON, ['-m', 'unittest', '-v', 'test_verify'], 'examples/origin-python'),
  },
  {
    name: 'go',
    prefix: '/api/go',
    routePort: examplePorts.go,
    signing: 'EdDSA',
    skip: ensureToolchain('go'),
    start: (port, offset) => {
      goBuild ??= buildGoOrigin()
      return startOrigin(
        goBuild.binary,
        [
          ...['-port', String(port), '-issuer', gateway, '-jwks-url', jwksUrl],
          ...['-audience', `http://127.0.0.1:${examplePorts.go}`],
          ...['-clock-offset', String(offset)],
        ],
        port,
        root,
      )
    },
    unitTests: () => run('go', ['test', '-count=1', '-v', '.'], 'examples/origin-go', GO_ENV),
  },
]

function run(command: string, args: string[], dir: string, env = QUIET_ENV) {
  const result = spawnSync(command, args, { cwd: join(root, dir), encoding: 'utf8', env })
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

/** A port free now, for the origin behind the tap and for its late twin. */
async function freePort(): Promise<number> {
  const { createServer } = await import('node:net')
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

let token: string
beforeAll(async () => {
  token = (await loginAs('alice')).accessToken
})
afterAll(() => goBuild?.cleanup())

for (const lang of LANGUAGES) {
  const title = `the ${lang.name} origin (${lang.signing})`
  if (lang.skip !== null) console.warn(`origin-languages: skipping ${title}: ${lang.skip}`)

  describe.skipIf(lang.skip !== null)(
    lang.skip === null ? title : `${title} — SKIPPED: ${lang.skip}`,
    () => {
      let origin: RunningOrigin
      let late: RunningOrigin
      let tap: Tap
      const routeHost = `127.0.0.1:${lang.routePort}`
      let n = 0
      const unique = (what: string) => `${lang.prefix}/${what}-${++n}?id=7&x=%2F`

      beforeAll(async () => {
        origin = await lang.start(await freePort(), 0)
        late = await lang.start(await freePort(), LATE_BY_SECONDS)
        tap = await startTap(lang.routePort, origin.port)
      }, BUILD_TIMEOUT_MS)
      afterAll(async () => {
        await tap?.close()
        origin?.stop()
        late?.stop()
      })

      /** A request through the gateway as alice; returns the origin's answer and the wire. */
      async function throughGateway(target: string, init: RequestInit = {}) {
        const res = await fetch(`${gateway}${target}`, {
          ...init,
          headers: { authorization: `Bearer ${token}`, ...init.headers },
        })
        const json = (await res.json()) as {
          ok: boolean
          claims?: Record<string, unknown>
          body_bytes?: number
        }
        return { status: res.status, json, wire: tap.recorded(target) }
      }

      it(
        'passes its own verifier unit tests (crafted tokens: time, algorithms, JWKS)',
        () => {
          const { status, output } = lang.unitTests()
          expect(status, output).toBe(0)
        },
        BUILD_TIMEOUT_MS,
      )

      it('accepts a GET through the gateway and sees the caller in the claims', async () => {
        const target = unique('orders')
        const { status, json, wire } = await throughGateway(target)
        expect({ status, ok: json.ok }).toEqual({ status: 200, ok: true })
        expect(json.claims).toMatchObject({
          iss: gateway,
          aud: `http://${routeHost}`,
          htm: 'GET',
          htu: `http://${routeHost}${target}`,
          body: 'none',
          sub: 'usr_3e3_demo_alice',
          tid: 'demo',
        })
        expect(wire.headers['x-auth-signature']).toBeUndefined()
      })

      it('accepts a POST whose body the assertion binds', async () => {
        const target = unique('pay')
        const body = JSON.stringify({ amount: 100, currency: 'EUR' })
        const { status, json, wire } = await throughGateway(target, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        })
        expect({ status, ok: json.ok, body_bytes: json.body_bytes }).toEqual({
          status: 200,
          ok: true,
          body_bytes: body.length,
        })
        expect(json.claims).toMatchObject({ htm: 'POST', body: 'bound' })
        expect(json.claims?.body_digest).toBe(wire.headers['content-digest'])
      })

      it('refuses a captured assertion sent again with another body', async () => {
        const target = unique('pay')
        const { wire } = await throughGateway(target, { method: 'POST', body: '{"amount":100}' })
        const forged = await sendRaw(origin.port, { ...wire, body: Buffer.from('{"amount":1e9}') })
        expect({ status: forged.status, reason: forged.json.reason }).toEqual({
          status: 401,
          reason: 'body_mismatch',
        })
      })

      it('refuses a captured request replayed exactly', async () => {
        const target = unique('replay')
        const { status, wire } = await throughGateway(target)
        expect(status).toBe(200)
        const replay = await sendRaw(origin.port, wire)
        expect({ status: replay.status, reason: replay.json.reason }).toEqual({
          status: 401,
          reason: 'replayed',
        })
      })

      it.each([
        ['another path', { target: `${lang.prefix}/admin?id=7&x=%2F` }, 'wrong_target'],
        ['another query', { query: '?id=8&x=%2F' }, 'wrong_target'],
        ['another method', { method: 'DELETE' }, 'wrong_method'],
        ['another host (the origin’s own address)', { host: 'origin' }, 'wrong_host'],
      ])('refuses a captured assertion sent to %s', async (_name, change, reason) => {
        const target = unique('captured')
        const { wire } = await throughGateway(target)
        const sent = {
          ...wire,
          method: 'method' in change ? change.method : wire.method,
          target:
            'target' in change
              ? change.target
              : 'query' in change
                ? target.replace(/\?.*/, change.query)
                : target,
          headers: {
            ...wire.headers,
            host: 'host' in change ? `127.0.0.1:${origin.port}` : (wire.headers.host ?? ''),
          },
        }
        const answer = await sendRaw(origin.port, sent)
        expect({ status: answer.status, reason: answer.json.reason }).toEqual({
          status: 401,
          reason,
        })
      })

      it('refuses an assertion that arrives after it expired (the origin’s clock 40 s ahead)', async () => {
        const target = unique('late')
        const { wire } = await throughGateway(target)
        const answer = await sendRaw(late.port, wire)
        expect({ status: answer.status, reason: answer.json.reason }).toEqual({
          status: 401,
          reason: 'expired',
        })
      })

      it('refuses a captured assertion whose claims were edited', async () => {
        const target = unique('edited')
        const { wire } = await throughGateway(target)
        const [h, p, s] = (wire.headers['gatehouse-assertion'] ?? '').split('.')
        const claims = JSON.parse(Buffer.from(p ?? '', 'base64url').toString()) as Record<
          string,
          unknown
        >
        const edited = Buffer.from(
          JSON.stringify({ ...claims, sub: 'usr_28c_demo_admin', jti: 'fresh.0' }),
        ).toString('base64url')
        const answer = await sendRaw(origin.port, {
          ...wire,
          headers: { ...wire.headers, 'gatehouse-assertion': `${h}.${edited}.${s}` },
        })
        expect({ status: answer.status, reason: answer.json.reason }).toEqual({
          status: 401,
          reason: 'bad_signature',
        })
      })

      it('refuses a request that did not come through the gateway', async () => {
        const answer = await sendRaw(origin.port, {
          method: 'GET',
          target: `${lang.prefix}/direct`,
          headers: { host: routeHost, 'x-auth-subject': 'usr_28c_demo_admin' },
        })
        expect({ status: answer.status, reason: answer.json.reason }).toEqual({
          status: 401,
          reason: 'missing_assertion',
        })
      })
    },
  )
}
