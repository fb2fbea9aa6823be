// Issuers per route and the scope claim per issuer, through the real app: a token of a trusted
// issuer that the route does not name is refused (401 issuer_not_allowed) before its scopes or
// the origin, though its signature, audience and scopes are all valid; an issuer configured with
// `scope_claim: "scp"`, `scope_format: "array"` is read from that claim in that shape only.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { authConfig } from '../helpers/auth'
import {
  ORIGIN,
  captureLogs,
  installNetwork,
  send,
  testConfig,
  testEnv,
  uniqueIssuer,
  type LogCapture,
  type Network,
} from '../helpers/gateway'
import { makeKey, type TestKey } from '../helpers/keys'
import { mint } from '../helpers/tokens'

let net: Network
let logs: LogCapture
let keyA: TestKey
let keyB: TestKey
let issuerA: string
let issuerB: string

const route = (prefix: string, extra: Record<string, unknown> = {}) => ({
  prefix,
  origin: ORIGIN,
  auth: 'token',
  read_scopes: ['echo:read'],
  origin_secret: 'ORIGIN_SECRET_TEST',
  ...extra,
})

beforeEach(async () => {
  net = installNetwork()
  logs = captureLogs()
  keyA = await makeKey('EdDSA')
  keyB = await makeKey('EdDSA')
  issuerA = uniqueIssuer('a')
  issuerB = uniqueIssuer('b')
  net.jwks.set(issuerA, [keyA])
  net.jwks.set(issuerB, [keyB])
})
afterEach(() => vi.restoreAllMocks())

/** A refusal by reason: status, challenge, the logged reason, and the origin never called. */
async function expectRefused(res: Response, reason: string, error: string): Promise<void> {
  expect(res.status).toBe(401)
  expect(res.headers.get('www-authenticate')).toContain(`error="${error}"`)
  expect(logs.lastReason()).toBe(reason)
  expect(net.originCalls).toHaveLength(0)
}

describe('routes[].issuers', () => {
  const twoIssuers = () =>
    testEnv(
      testConfig({
        issuers: [{ issuer: issuerA }, { issuer: issuerB }],
        routes: [route('/api/orders', { issuers: [issuerA] }), route('/api/shared')],
      }),
    )

  it('refuses a validly signed token of a trusted issuer the route does not name', async () => {
    const gw = twoIssuers()
    const token = await mint(keyB, { issuer: issuerB, scope: 'echo:read' })
    await expectRefused(
      await send(gw, '/api/orders/1', { token }),
      'issuer_not_allowed',
      'invalid_token',
    )
    // The same token is good where its issuer is accepted: only the issuer was wrong.
    expect((await send(gw, '/api/shared/1', { token })).status).toBe(200)
    expect(net.originCalls).toHaveLength(1)
  })

  it('accepts a token of an issuer the route names', async () => {
    const gw = twoIssuers()
    const token = await mint(keyA, { issuer: issuerA, scope: 'echo:read' })
    expect((await send(gw, '/api/orders/1', { token })).status).toBe(200)
    expect(net.originCalls).toHaveLength(1)
  })

  it('refuses the issuer before the scopes: no insufficient_scope hint for a foreign token', async () => {
    const gw = twoIssuers()
    const token = await mint(keyB, { issuer: issuerB, scope: 'other:read' })
    await expectRefused(
      await send(gw, '/api/orders/1', { token }),
      'issuer_not_allowed',
      'invalid_token',
    )
  })

  it('with a self issuer, a route that names none accepts only the self issuer', async () => {
    const config = authConfig()
    config.issuers = [
      ...(config.issuers as unknown[]),
      { issuer: issuerB, jwks_uri: `${issuerB}/jwks.json`, audiences: ['api'], tenant: 'acme' },
    ]
    const routes = config.routes as Record<string, unknown>[]
    routes.push(route('/api/partners', { issuers: [issuerB] }))
    const gw = testEnv(config)
    const token = await mint(keyB, { issuer: issuerB, scope: 'echo:read' })
    await expectRefused(
      await send(gw, '/api/echo/1', { token }),
      'issuer_not_allowed',
      'invalid_token',
    )
    expect((await send(gw, '/api/partners/1', { token })).status).toBe(200)
  })
})

describe('issuers[].scope_claim, scope_format', () => {
  /** One issuer whose tokens carry their scopes as an `scp` array (Okta, Entra). */
  function scpIssuer() {
    const config = testConfig({ issuers: [{ issuer: issuerA }], routes: [route('/api/orders')] })
    const [issuer] = config.issuers as Record<string, unknown>[]
    Object.assign(issuer ?? {}, { scope_claim: 'scp', scope_format: 'array' })
    return testEnv(config)
  }

  it('reads the scopes of an scp array', async () => {
    const token = await mint(keyA, {
      issuer: issuerA,
      claims: { scope: undefined, scp: ['orders:write', 'echo:read'] },
    })
    const res = await send(scpIssuer(), '/api/orders/1', { token })
    expect(res.status).toBe(200)
    expect(net.originCalls).toHaveLength(1)
    expect(net.originCalls[0]?.headers.get('x-auth-scopes')).toBe('orders:write echo:read')
  })

  it('does not read scopes from the scope claim of an issuer configured for scp', async () => {
    const token = await mint(keyA, { issuer: issuerA, scope: 'echo:read' })
    const res = await send(scpIssuer(), '/api/orders/1', { token })
    expect(res.status).toBe(403)
    expect(logs.lastReason()).toBe('insufficient_scope')
    expect(net.originCalls).toHaveLength(0)
  })

  it('refuses a string where an array is configured as invalid_claims', async () => {
    const token = await mint(keyA, { issuer: issuerA, claims: { scp: 'echo:read' } })
    await expectRefused(
      await send(scpIssuer(), '/api/orders/1', { token }),
      'invalid_claims',
      'invalid_token',
    )
  })

  it.each([[['echo:read', 5]], [['two words']], [{ 0: 'echo:read' }]])(
    'refuses a malformed scp array (%j) as invalid_claims',
    async (scp) => {
      const token = await mint(keyA, { issuer: issuerA, claims: { scp } })
      await expectRefused(
        await send(scpIssuer(), '/api/orders/1', { token }),
        'invalid_claims',
        'invalid_token',
      )
    },
  )
})
