// Claims and time, black-box. Every claim-level case is a token validly signed by the demo
// third-party issuer the gateway trusts, with exactly one property wrong — a time claim, the
// lifetime, the audience, an identity claim, the pinned tenant, the type or the issuer — so the
// gateway must refuse it at the check that property names, and the logged reason proves it did.
// Edits of a genuine token (the attack open to anyone holding one) are refused by the signature.

import { beforeAll, describe, expect, it } from 'vitest'
import {
  DEMO,
  DEMO_IDP,
  SUBJECT,
  expectAccepted,
  expectRefused,
  mintDemoIdp,
  nowSeconds as now,
  sessionOf,
  split,
  tamper,
  withBearer,
  type MintOptions,
  type Refusal,
} from '../helpers/stack/attack-kit'

let token: string
let t: ReturnType<typeof split>

beforeAll(async () => {
  token = (await sessionOf(DEMO.alice)).accessToken
  t = split(token)
})

const api = (tok: string, path = '/api/echo/x') => withBearer(path, tok)
const without = (claim: string) => {
  const copy = { ...t.payload }
  delete copy[claim]
  return copy
}

type Row = [name: string, options: () => MintOptions, reason: Refusal, detail?: RegExp]

/** Mints the row's token, sends it, and proves the refusal reason and an untouched origin. */
async function refusesMinted(options: MintOptions, reason: Refusal, detail?: RegExp) {
  const minted = await mintDemoIdp(options)
  await expectRefused(reason, () => api(minted), { detail })
}

describe('a genuine token is what the gateway minted, no more', () => {
  it('carries only the RFC 9068 claims, a 15-minute life, and is accepted as alice', async () => {
    expect(Object.keys(t.payload).sort()).toEqual(
      [
        'acr',
        'amr',
        'aud',
        'auth_time',
        'client_id',
        'exp',
        'iat',
        'iss',
        'jti',
        'scope',
        'sid',
        'sub',
        'tid',
      ].sort(),
    )
    // How alice authenticated (DESIGN § Tokens): a password alone, just now.
    expect(t.payload).toMatchObject({ amr: ['pwd'], acr: 'pwd', auth_time: t.payload.iat })
    expect((t.payload.exp as number) - (t.payload.iat as number)).toBe(900)
    expect(t.header).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt' })
    await expectAccepted(SUBJECT.alice, () => api(token))
  })
})

describe('a token of the trusted demo issuer, within every bound', () => {
  it.each<[string, () => MintOptions]>([
    ['with the default claims', () => ({})],
    [
      'with an audience array that contains ours',
      () => ({ claims: { aud: ['x', 'gatehouse-demo'] } }),
    ],
    ['living exactly the maximum hour', () => ({ claims: { iat: now(), exp: now() + 3600 } })],
    [
      'expired 30 s ago, inside the 60 s clock skew',
      () => ({ claims: { iat: now() - 300, exp: now() - 30 } }),
    ],
    [
      'issued 30 s ahead, inside the clock skew',
      () => ({ claims: { iat: now() + 30, exp: now() + 300 } }),
    ],
    ['without tid (the pinned tenant applies)', () => ({ omit: ['tid'] })],
    ['typed application/at+jwt', () => ({ header: { typ: 'application/at+jwt' } })],
    ['typed AT+JWT', () => ({ header: { typ: 'AT+JWT' } })],
  ])('is accepted %s, and the origin sees its subject in the pinned tenant', async (_name, o) => {
    const sub = `partner-${crypto.randomUUID().slice(0, 8)}`
    const options = o()
    const minted = await mintDemoIdp({ ...options, claims: { ...options.claims, sub } })
    const echo = await expectAccepted(sub, () => api(minted))
    expect(echo.headers['x-auth-tenant']).toBe('partners')
    expect(echo.headers['x-auth-issuer']).toBe(DEMO_IDP.issuer)
  })
})

describe('time claims of a validly signed token', () => {
  it.each<Row>([
    [
      'expired five minutes ago',
      () => ({ claims: { iat: now() - 600, exp: now() - 300 } }),
      'expired',
    ],
    [
      'expired 90 s ago, beyond the 60 s clock skew',
      () => ({ claims: { iat: now() - 600, exp: now() - 90 } }),
      'expired',
    ],
    ['without exp', () => ({ omit: ['exp'] }), 'invalid_claims', /^exp missing$/],
    [
      'with exp as a string',
      () => ({ claims: { exp: String(now() + 300) } }),
      'invalid_claims',
      /^exp missing$/,
    ],
    ['with a negative exp', () => ({ claims: { exp: -1 } }), 'invalid_claims', /^exp missing$/],
    [
      'issued an hour in the future',
      () => ({ claims: { iat: now() + 3600, exp: now() + 3900 } }),
      'not_yet_valid',
      /^iat in the future$/,
    ],
    [
      'issued two minutes ahead, beyond the clock skew',
      () => ({ claims: { iat: now() + 120, exp: now() + 400 } }),
      'not_yet_valid',
      /^iat in the future$/,
    ],
    [
      'not valid before an hour from now',
      () => ({ claims: { nbf: now() + 3600 } }),
      'not_yet_valid',
      /^nbf in the future$/,
    ],
    [
      'not valid before two minutes from now, beyond the clock skew',
      () => ({ claims: { nbf: now() + 120 } }),
      'not_yet_valid',
      /^nbf in the future$/,
    ],
    ['with nbf as a string', () => ({ claims: { nbf: String(now()) } }), 'invalid_claims', /^nbf$/],
    ['with a negative iat', () => ({ claims: { iat: -1 } }), 'invalid_claims', /^iat$/],
    ['with iat as a string', () => ({ claims: { iat: String(now()) } }), 'invalid_claims', /^iat$/],
    [
      'living a year',
      () => ({ claims: { iat: now(), exp: now() + 31_536_000 } }),
      'lifetime_too_long',
    ],
    [
      'living a year without iat',
      () => ({ claims: { exp: now() + 31_536_000 }, omit: ['iat'] }),
      'lifetime_too_long',
    ],
    [
      'living a minute longer than the maximum hour',
      () => ({ claims: { iat: now() - 60, exp: now() + 3601 } }),
      'lifetime_too_long',
    ],
    [
      'issued a day ago and still valid for five minutes',
      () => ({ claims: { iat: now() - 86_400, exp: now() + 300 } }),
      'lifetime_too_long',
    ],
  ])('refuses a token %s', async (_name, o, reason, detail) => {
    await refusesMinted(o(), reason, detail)
  })
})

describe('audience and identity claims of a validly signed token', () => {
  it.each<Row>([
    ['for another audience', () => ({ claims: { aud: 'another-api' } }), 'wrong_audience'],
    ['without aud', () => ({ omit: ['aud'] }), 'wrong_audience'],
    [
      'for our audience in upper case',
      () => ({ claims: { aud: 'GATEHOUSE-DEMO' } }),
      'wrong_audience',
    ],
    ['for an array of other audiences', () => ({ claims: { aud: ['a', 'b'] } }), 'wrong_audience'],
    [
      'for an array with ours and a number',
      () => ({ claims: { aud: ['gatehouse-demo', 1] } }),
      'wrong_audience',
    ],
    [
      'with an audience that is an object',
      () => ({ claims: { aud: { 0: 'gatehouse-demo' } } }),
      'wrong_audience',
    ],
    ['without sub', () => ({ omit: ['sub'] }), 'invalid_claims', /^sub missing$/],
    ['with an empty sub', () => ({ claims: { sub: '' } }), 'invalid_claims', /^sub is not/],
    ['with a numeric sub', () => ({ claims: { sub: 42 } }), 'invalid_claims', /^sub is not/],
    [
      'with a subject that smuggles a header',
      () => ({ claims: { sub: 'x\r\nx-auth-subject: admin' } }),
      'invalid_claims',
      /^sub is not/,
    ],
    [
      'with a 257-character sub',
      () => ({ claims: { sub: 's'.repeat(257) } }),
      'invalid_claims',
      /^sub is not/,
    ],
    [
      'with a scope array',
      () => ({ claims: { scope: ['echo:read'] } }),
      'invalid_claims',
      /^scope is not a string$/,
    ],
    [
      'with a scope of two spaces',
      () => ({ claims: { scope: 'echo:read  echo:admin' } }),
      'invalid_claims',
      /^scope is not space-delimited/,
    ],
    [
      'with a scope carrying a quote',
      () => ({ claims: { scope: 'echo:read "x' } }),
      'invalid_claims',
      /^scope is not space-delimited/,
    ],
    ['with a numeric jti', () => ({ claims: { jti: 7 } }), 'invalid_claims', /^jti is not/],
    [
      'with a sid carrying NUL',
      () => ({ claims: { sid: 's\u0000' } }),
      'invalid_claims',
      /^sid is not/,
    ],
    [
      'with an object client_id',
      () => ({ claims: { client_id: {} } }),
      'invalid_claims',
      /^client_id is not/,
    ],
    ['with an empty tid', () => ({ claims: { tid: '' } }), 'invalid_claims', /^tid is not/],
  ])('refuses a token %s', async (_name, o, reason, detail) => {
    await refusesMinted(o(), reason, detail)
  })
})

describe('the tenant pinned to the demo issuer', () => {
  it.each(['demo', 'acme', 'PARTNERS', 'partners ', 'other-tenant'])(
    'refuses a validly signed token that claims tenant %j',
    async (tid) => {
      await refusesMinted({ claims: { tid } }, 'wrong_tenant', /pinned tenant/)
    },
  )
})

describe('the token type of a validly signed token', () => {
  it.each([
    'JWT',
    'jwt',
    'id+jwt',
    'application/jwt',
    'refresh+jwt',
    'dpop+jwt',
    'logout+jwt',
    'at+jwt ',
  ])('refuses the token typed %j', async (typ) => {
    await refusesMinted({ header: { typ } }, 'wrong_type')
  })

  it('refuses the token without typ (the demo issuer lists only at+jwt)', async () => {
    await refusesMinted({ header: { typ: undefined } }, 'wrong_type')
  })
})

describe('the issuer of a validly signed token', () => {
  const demo = () => DEMO_IDP.issuer
  it.each<[string, () => unknown]>([
    ['the demo issuer with a trailing slash', () => `${demo()}/`],
    ['the demo issuer in upper case', () => demo().toUpperCase()],
    ['the demo issuer as localhost', () => demo().replace('127.0.0.1', 'localhost')],
    ['the demo issuer over https', () => demo().replace('http:', 'https:')],
    ['the demo issuer inside an array', () => [demo()]],
    ['a number', () => 1],
    ['a foreign issuer', () => 'https://attacker.example'],
  ])('refuses iss = %s', async (_name, iss) => {
    await refusesMinted({ claims: { iss: iss() } }, 'unknown_issuer')
  })

  it('refuses a token without iss', async () => {
    await refusesMinted({ omit: ['iss'] }, 'unknown_issuer')
  })

  it("rejects a token whose kid belongs to another issuer (the demo key naming the gateway's iss)", async () => {
    await refusesMinted({ claims: { iss: t.payload.iss } }, 'unknown_kid')
  })

  it("rejects a token naming the demo issuer under the gateway's kid", async () => {
    await refusesMinted({ header: { kid: t.header.kid } }, 'unknown_kid')
  })

  it('refuses a third-party token on the admin API, whatever scopes it claims', async () => {
    const minted = await mintDemoIdp({
      claims: { scope: 'echo:read gatehouse:admin gatehouse:operator' },
    })
    await expectRefused('issuer_not_allowed', () => withBearer('/admin/keys', minted))
  })
})

describe('edits of a genuine token are refused by its signature', () => {
  it.each<[string, () => Record<string, unknown>]>([
    ['exp pushed a day ahead', () => ({ ...t.payload, exp: now() + 86_400 })],
    ['exp removed', () => without('exp')],
    ['iat moved into the future', () => ({ ...t.payload, iat: now() + 3600 })],
    ['nbf added in the future', () => ({ ...t.payload, nbf: now() + 3600 })],
    ['sub changed to the admin', () => ({ ...t.payload, sub: SUBJECT.admin })],
    ['sub removed', () => without('sub')],
    [
      'scope widened to gatehouse:admin',
      () => ({ ...t.payload, scope: 'echo:read gatehouse:admin' }),
    ],
    ['aud changed', () => ({ ...t.payload, aud: 'another-api' })],
    [
      'aud turned into an array with ours',
      () => ({ ...t.payload, aud: ['another-api', t.payload.aud] }),
    ],
    ['tid changed', () => ({ ...t.payload, tid: 'other-tenant' })],
    ['sid changed', () => ({ ...t.payload, sid: 'AAAAAAAAAAAAAAAAAAAAAA' })],
    ['jti changed (a revocation dodge)', () => ({ ...t.payload, jti: crypto.randomUUID() })],
    [
      'claims reordered (same content)',
      () => Object.fromEntries(Object.entries(t.payload).reverse()),
    ],
    ['an extra claim added', () => ({ ...t.payload, admin: true })],
  ])('refuses the token with %s', async (_name, payload) => {
    await expectRefused('bad_signature', () => api(tamper(token, { payload: payload() })))
  })
})

describe('policy after a valid token', () => {
  it('answers 403 insufficient_scope, not a pass, when a valid token lacks the write scope', async () => {
    const reader = (await sessionOf(DEMO.admin)).accessToken // admin holds echo:read only
    await expectRefused(
      'insufficient_scope',
      () => withBearer('/api/echo/x', reader, { method: 'POST', body: '{}' }),
      { scope: 'echo:write' },
    )
  })

  it('answers 403 insufficient_scope to a validly signed third-party token without echo:read', async () => {
    const minted = await mintDemoIdp({ claims: { scope: 'echo:write' } })
    await expectRefused('insufficient_scope', () => api(minted), { scope: 'echo:read' })
  })
})
