// gatehouse/origin's verifier (origin/index.js): every check of docs/ASSERTION.md § What an
// origin checks refuses exactly what it names. Each refusal signs a token with jose over the
// gateway's claim set with one property wrong (or sends a genuine one with the request changed),
// so only the check under test can refuse it; one case verifies the gateway's own signer.

import { SignJWT, exportJWK, generateKeyPair, type JWTPayload } from 'jose'
import { describe, expect, it } from 'vitest'
import {
  ASSERTION_HEADER,
  contentDigest,
  createAssertionVerifier,
  type AssertionRequest,
  type AssertionVerifierOptions,
} from '../../../origin/index.js'
import { signAssertion } from '../../../src/proxy/assertion'

const ISSUER = 'https://gatehouse.test'
const AUDIENCE = 'https://orders.internal'
const SECRET = 'origin-secret-for-assertion-tests-0123456789'
const NOW_S = 1_800_000_000
const NOW_MS = NOW_S * 1000
const TARGET = '/api/orders/7?expand=items&x=%2F'
const encoder = new TextEncoder()

let jtiCounter = 0
const nextJti = () => `req-${++jtiCounter}.0`

function claims(over: Record<string, unknown> = {}): JWTPayload {
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    iat: NOW_S,
    exp: NOW_S + 30,
    jti: nextJti(),
    htm: 'GET',
    htu: `${AUDIENCE}${TARGET}`,
    body: 'none',
    sub: 'usr_alice',
    tid: 'acme',
    scope: 'orders:read',
    rev: 'checked',
    ...over,
  }
}

/** Drops the named claims (a claim set the gateway never sends). */
function without(payload: JWTPayload, ...names: string[]): JWTPayload {
  const copy: Record<string, unknown> = { ...payload }
  for (const name of names) delete copy[name]
  return copy
}

function signHs(
  payload: JWTPayload,
  header: Record<string, unknown> = {},
  secret: string | Uint8Array = SECRET,
): Promise<string> {
  const key = typeof secret === 'string' ? encoder.encode(secret) : secret
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', typ: 'gatehouse-assertion+jwt', ...header })
    .sign(key)
}

function request(token: string | null, over: Partial<AssertionRequest> = {}): AssertionRequest {
  const headers: Record<string, string> = { host: 'orders.internal' }
  if (token !== null) headers[ASSERTION_HEADER] = token
  return { method: 'GET', host: 'orders.internal', target: TARGET, headers, body: null, ...over }
}

function hs256(o: Partial<AssertionVerifierOptions> = {}) {
  return createAssertionVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    secret: SECRET,
    now: () => NOW_MS,
    ...o,
  })
}

async function reasonFor(token: string, over: Partial<AssertionRequest> = {}, o = {}) {
  const result = await hs256(o).verify(request(token, over))
  return result.ok ? 'accepted' : result.reason
}

describe('accepting', () => {
  it('accepts a genuine assertion for the request it names and returns its claims', async () => {
    const result = await hs256().verify(request(await signHs(claims())))
    expect(result).toMatchObject({ ok: true, claims: { sub: 'usr_alice', tid: 'acme' } })
  })

  it('accepts what the gateway itself signs (src/proxy/assertion.ts), body bound', async () => {
    const body = encoder.encode('{"amount":100}')
    const token = await signAssertion(
      {
        issuer: ISSUER,
        audience: AUDIENCE,
        method: 'post',
        url: `${AUDIENCE}${TARGET}`,
        identity: {
          issuer: ISSUER,
          subject: 'usr_alice',
          tenant: 'acme',
          scope: 'orders:write',
          sessionId: 'sid-1',
          clientId: 'gatehouse-web',
          dpopKey: null,
        },
        selfIssuer: ISSUER,
        revocation: 'checked',
        body: 'bound',
        bodyDigest: await contentDigest(body),
        jti: 'req-gateway.0',
        nowSeconds: NOW_S,
      },
      { alg: 'HS256', secret: SECRET },
    )
    const result = await hs256().verify(request(token, { method: 'POST', body }))
    expect(result).toMatchObject({ ok: true, claims: { htm: 'POST', sub: 'usr_alice' } })
  })

  it('accepts a WHATWG Headers object and a Host header with the scheme’s default port', async () => {
    const token = await signHs(claims())
    const headers = new Headers({ [ASSERTION_HEADER]: token })
    const result = await hs256().verify({ ...request(null), host: 'Orders.Internal:443', headers })
    expect(result.ok).toBe(true)
  })

  it('ignores the scheme: an https htu is accepted on a plain-http origin', async () => {
    const token = await signHs(claims({ htu: `http://orders.internal${TARGET}` }))
    expect(await reasonFor(token)).toBe('accepted')
  })

  it('accepts an expired assertion within the skew, and an iat within it', async () => {
    expect(await reasonFor(await signHs(claims({ iat: NOW_S - 34, exp: NOW_S - 4 })))).toBe(
      'accepted',
    )
    expect(await reasonFor(await signHs(claims({ iat: NOW_S + 4, exp: NOW_S + 34 })))).toBe(
      'accepted',
    )
  })

  it('accepts an unbound body only when the origin says so', async () => {
    const token = () => signHs(claims({ htm: 'POST', body: 'unbound' }))
    const body = encoder.encode('anything')
    expect(await reasonFor(await token(), { method: 'POST', body })).toBe('body_unbound')
    expect(
      await reasonFor(await token(), { method: 'POST', body }, { acceptUnboundBody: true }),
    ).toBe('accepted')
  })
})

describe('1. signature, algorithm and typ', () => {
  it('refuses a request without the header', async () => {
    expect(await reasonFor('', { headers: {} })).toBe('missing_assertion')
  })

  it.each([
    ['not a JWS', 'garbage'],
    ['two header lines joined by Node', 'a.b.c, a.b.c'],
    ['a JWE-shaped value', 'a.b.c.d.e'],
  ])('refuses %s as malformed', async (_name, token) => {
    expect(await reasonFor(token)).toBe('malformed')
  })

  it('refuses an assertion signed with another secret', async () => {
    const token = await signHs(claims(), {}, 'another-origin-secret-0123456789abcdef')
    expect(await reasonFor(token)).toBe('bad_signature')
  })

  it('refuses a genuine assertion whose payload was changed', async () => {
    const [h, , s] = (await signHs(claims())).split('.')
    const forged = btoa(JSON.stringify(claims({ sub: 'usr_admin' }))).replace(/=+$/, '')
    const payload = forged.replace(/\+/g, '-').replace(/\//g, '_')
    expect(await reasonFor(`${h}.${payload}.${s}`)).toBe('bad_signature')
  })

  it('refuses HS384 under the same secret: the algorithm is pinned, not read', async () => {
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'HS384', typ: 'gatehouse-assertion+jwt' })
      .sign(encoder.encode(SECRET))
    expect(await reasonFor(token)).toBe('alg_not_allowed')
  })

  it('refuses alg none', async () => {
    const b64 = (v: unknown) =>
      btoa(JSON.stringify(v)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')
    const token = `${b64({ alg: 'none', typ: 'gatehouse-assertion+jwt' })}.${b64(claims())}.x`
    expect(await reasonFor(token)).toBe('alg_not_allowed')
  })

  it.each([
    ['JWT', { typ: 'JWT' }],
    ['an access token type', { typ: 'at+jwt' }],
    ['no typ', { typ: undefined }],
  ])('refuses typ %s', async (_name, header) => {
    expect(await reasonFor(await signHs(claims(), header))).toBe('wrong_type')
  })
})

describe('2. issuer and audience', () => {
  it('refuses another issuer', async () => {
    expect(await reasonFor(await signHs(claims({ iss: 'https://evil.test' })))).toBe('wrong_issuer')
  })

  it('refuses an assertion for another origin', async () => {
    expect(await reasonFor(await signHs(claims({ aud: 'https://billing.internal' })))).toBe(
      'wrong_audience',
    )
  })
})

describe('3. time', () => {
  it('refuses an assertion expired beyond the skew', async () => {
    expect(await reasonFor(await signHs(claims({ iat: NOW_S - 36, exp: NOW_S - 6 })))).toBe(
      'expired',
    )
  })

  it('refuses an iat beyond the skew in the future', async () => {
    expect(await reasonFor(await signHs(claims({ iat: NOW_S + 6, exp: NOW_S + 36 })))).toBe(
      'not_yet_valid',
    )
  })

  it('refuses a lifetime longer than the gateway signs', async () => {
    expect(await reasonFor(await signHs(claims({ exp: NOW_S + 31 })))).toBe('lifetime_too_long')
  })

  it('honours maxSkewSeconds', async () => {
    const token = await signHs(claims({ iat: NOW_S - 40, exp: NOW_S - 10 }))
    expect(await reasonFor(token, {}, { maxSkewSeconds: 15 })).toBe('accepted')
  })

  it.each(['iat', 'exp', 'jti', 'htm', 'htu', 'body', 'iss', 'aud'])(
    'refuses a claim set without %s as malformed',
    async (name) => {
      expect(await reasonFor(await signHs(without(claims(), name)))).toBe('malformed')
    },
  )
})

describe('4. method, host and target', () => {
  it('refuses another method', async () => {
    expect(await reasonFor(await signHs(claims()), { method: 'DELETE' })).toBe('wrong_method')
  })

  it.each([
    ['another host', 'billing.internal'],
    ['another port', 'orders.internal:8443'],
    ['no Host header', null],
  ])('refuses %s', async (_name, host) => {
    expect(await reasonFor(await signHs(claims()), { host })).toBe('wrong_host')
  })

  it.each([
    ['another path', '/api/orders/8?expand=items&x=%2F'],
    ['another query', '/api/orders/7?expand=all&x=%2F'],
    ['no query', '/api/orders/7'],
    ['the path decoded', '/api/orders/7?expand=items&x=/'],
    ['the path with a letter encoded', '/api/%6Frders/7?expand=items&x=%2F'],
    ['a dot segment', '/api/x/../orders/7?expand=items&x=%2F'],
    ['a trailing slash', '/api/orders/7/?expand=items&x=%2F'],
  ])('refuses %s', async (_name, target) => {
    expect(await reasonFor(await signHs(claims()), { target })).toBe('wrong_target')
  })

  it('refuses an htu that is not an absolute URL', async () => {
    expect(await reasonFor(await signHs(claims({ htu: TARGET })))).toBe('malformed')
  })
})

describe('5. body', () => {
  const body = encoder.encode('{"amount":100}')
  const boundPost = async (over: Record<string, unknown> = {}) =>
    signHs(claims({ htm: 'POST', body: 'bound', body_digest: await contentDigest(body), ...over }))

  it('accepts the body the digest names', async () => {
    expect(await reasonFor(await boundPost(), { method: 'POST', body })).toBe('accepted')
  })

  it('refuses another body under a bound digest', async () => {
    const other = encoder.encode('{"amount":100000}')
    expect(await reasonFor(await boundPost(), { method: 'POST', body: other })).toBe(
      'body_mismatch',
    )
  })

  it('refuses a missing body under a bound digest', async () => {
    expect(await reasonFor(await boundPost(), { method: 'POST', body: null })).toBe('body_mismatch')
  })

  it('refuses a body where the assertion says none', async () => {
    expect(await reasonFor(await signHs(claims()), { body })).toBe('body_unexpected')
  })

  it.each([
    ['no digest', { body_digest: undefined }],
    ['a sha-512 digest', { body_digest: `sha-512=:${'A'.repeat(86)}==:` }],
    ['an unknown body state', { body: 'signed' }],
  ])('refuses %s as malformed', async (_name, over) => {
    expect(await reasonFor(await boundPost(over), { method: 'POST', body })).toBe('malformed')
  })
})

describe('6. single use', () => {
  it('refuses the same assertion twice', async () => {
    const verifier = hs256()
    const token = await signHs(claims())
    expect((await verifier.verify(request(token))).ok).toBe(true)
    expect(await verifier.verify(request(token))).toEqual({ ok: false, reason: 'replayed' })
  })

  it('does not let a refused attempt use up the jti of a genuine request', async () => {
    const verifier = hs256()
    const token = await signHs(claims())
    expect((await verifier.verify(request(token, { target: '/elsewhere' }))).ok).toBe(false)
    expect((await verifier.verify(request(token))).ok).toBe(true)
  })

  it('lets only one of two concurrent requests with one jti through', async () => {
    const verifier = hs256()
    const token = await signHs(claims())
    const results = await Promise.all([
      verifier.verify(request(token)),
      verifier.verify(request(token)),
    ])
    expect(results.map((r) => r.ok).sort()).toEqual([false, true])
  })

  it('keeps at most replayCacheSize jtis, the oldest leaving first', async () => {
    const verifier = hs256({ replayCacheSize: 2 })
    const tokens = [await signHs(claims()), await signHs(claims()), await signHs(claims())]
    for (const token of tokens) expect((await verifier.verify(request(token))).ok).toBe(true)
    expect((await verifier.verify(request(tokens[2] as string))).ok).toBe(false)
    expect((await verifier.verify(request(tokens[0] as string))).ok).toBe(true)
  })
})

describe('EdDSA with the published JWKS', () => {
  async function eddsaSetup(status = 200) {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true })
    const jwk = { ...(await exportJWK(publicKey)), kid: 'key-1', alg: 'EdDSA', use: 'sig' }
    let fetches = 0
    const verifier = createAssertionVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksUrl: `${ISSUER}/.well-known/origin-assertion-jwks.json`,
      now: () => NOW_MS,
      fetch: async () => {
        fetches++
        return new Response(JSON.stringify({ keys: [jwk] }), { status })
      },
    })
    const sign = (payload: JWTPayload, kid = 'key-1') =>
      new SignJWT(payload)
        .setProtectedHeader({ alg: 'EdDSA', typ: 'gatehouse-assertion+jwt', kid })
        .sign(privateKey)
    return { verifier, sign, jwk, fetches: () => fetches }
  }

  it('accepts an assertion signed by a published key, fetching the JWKS once', async () => {
    const { verifier, sign, fetches } = await eddsaSetup()
    expect((await verifier.verify(request(await sign(claims())))).ok).toBe(true)
    expect((await verifier.verify(request(await sign(claims())))).ok).toBe(true)
    expect(fetches()).toBe(1)
  })

  it('refuses a kid the JWKS does not publish', async () => {
    const { verifier, sign } = await eddsaSetup()
    expect(await verifier.verify(request(await sign(claims(), 'key-unknown')))).toEqual({
      ok: false,
      reason: 'unknown_kid',
    })
  })

  it('refuses HS256 signed with the public key as the secret (key confusion)', async () => {
    const { verifier, jwk } = await eddsaSetup()
    const token = await signHs(claims(), { kid: 'key-1' }, encoder.encode(JSON.stringify(jwk)))
    expect(await verifier.verify(request(token))).toEqual({ ok: false, reason: 'alg_not_allowed' })
  })

  it('refuses an HS256 assertion on an EdDSA verifier even under the route secret', async () => {
    const { verifier } = await eddsaSetup()
    expect(await verifier.verify(request(await signHs(claims())))).toEqual({
      ok: false,
      reason: 'alg_not_allowed',
    })
  })

  it('says the keys are unavailable when the JWKS cannot be fetched', async () => {
    const { verifier, sign } = await eddsaSetup(503)
    expect(await verifier.verify(request(await sign(claims())))).toEqual({
      ok: false,
      reason: 'jwks_unavailable',
    })
  })
})

describe('options', () => {
  it.each([
    ['no key', {}],
    ['both keys', { secret: SECRET, jwksUrl: `${ISSUER}/jwks` }],
    ['a short secret', { secret: 'short' }],
    ['no issuer', { secret: SECRET, issuer: '' }],
    ['no audience', { secret: SECRET, audience: '' }],
  ])('refuses %s at creation', (_name, o) => {
    expect(() => createAssertionVerifier({ issuer: ISSUER, audience: AUDIENCE, ...o })).toThrow(
      TypeError,
    )
  })
})
