// Claims and time, black-box: the attacker cannot sign with our key, so every claim-level attack
// is either an edit of a genuine token (signature kept) or a token signed by their own key under
// our kid. Each must be refused before an origin sees it, whatever the claim says: a longer
// life, another subject, a wider scope, another audience or issuer, or another token type.

import { beforeAll, describe, expect, it } from 'vitest'
import {
  DEMO,
  SUBJECT,
  attackerKey,
  expectAccepted,
  expectRejected,
  forge,
  sessionOf,
  split,
  tamper,
  withBearer,
} from '../helpers/stack/attack-kit'

let token: string
let t: ReturnType<typeof split>
let attacker: CryptoKeyPair
const now = () => Math.floor(Date.now() / 1000)

beforeAll(async () => {
  token = (await sessionOf(DEMO.alice)).accessToken
  t = split(token)
  attacker = await attackerKey('EdDSA')
})

const api = (tok: string, path = '/api/echo/x') => withBearer(path, tok)
const without = (claim: string) => {
  const copy = { ...t.payload }
  delete copy[claim]
  return copy
}

describe('a genuine token is what the gateway minted, no more', () => {
  it('carries only the RFC 9068 claims, a 15-minute life, and is accepted as alice', async () => {
    expect(Object.keys(t.payload).sort()).toEqual(
      ['aud', 'client_id', 'exp', 'iat', 'iss', 'jti', 'scope', 'sid', 'sub', 'tid'].sort(),
    )
    expect((t.payload.exp as number) - (t.payload.iat as number)).toBe(900)
    expect(t.header).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt' })
    await expectAccepted(SUBJECT.alice, () => api(token))
  })
})

describe('edits of a genuine token (signature kept)', () => {
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
    await expectRejected(401, () => api(tamper(token, { payload: payload() })))
  })

  it.each(['JWT', 'jwt', 'id+jwt', 'application/jwt', 'refresh+jwt', 'dpop+jwt', 'logout+jwt'])(
    'refuses the token retyped as typ %s',
    async (typ) => {
      await expectRejected(401, () => api(tamper(token, { header: { ...t.header, typ } })))
    },
  )

  it('refuses the token with typ removed', async () => {
    const header = { ...t.header }
    delete header.typ
    await expectRejected(401, () => api(tamper(token, { header })))
  })
})

describe('claims chosen by an attacker who signs with their own key under our kid', () => {
  it.each<[string, () => Record<string, unknown>]>([
    ['already expired', () => ({ ...t.payload, iat: now() - 7200, exp: now() - 3600 })],
    [
      'issued an hour in the future',
      () => ({ ...t.payload, iat: now() + 3600, exp: now() + 4000 }),
    ],
    ['not valid before an hour from now', () => ({ ...t.payload, nbf: now() + 3600 })],
    ['living a year', () => ({ ...t.payload, iat: now(), exp: now() + 31_536_000 })],
    ['living a year without iat', () => ({ ...without('iat'), exp: now() + 31_536_000 })],
    ['without exp', () => without('exp')],
    ['without sub', () => without('sub')],
    [
      'with a subject that smuggles a header',
      () => ({ ...t.payload, sub: 'x\r\nx-auth-subject: admin' }),
    ],
    ['with exp as a string', () => ({ ...t.payload, exp: String(now() + 600) })],
    ['with a negative iat', () => ({ ...t.payload, iat: -1 })],
    ['with the admin scope', () => ({ ...t.payload, scope: 'gatehouse:admin' })],
  ])('refuses a token %s', async (_name, payload) => {
    await expectRejected(401, async () =>
      api(await forge('EdDSA', attacker.privateKey, t.header, payload())),
    )
  })
})

describe('issuer and audience', () => {
  const iss = () => t.payload.iss as string
  it.each<[string, () => unknown]>([
    ['our issuer with a trailing slash', () => `${iss()}/`],
    ['our issuer in upper case', () => iss().toUpperCase()],
    ['our issuer as localhost', () => iss().replace('127.0.0.1', 'localhost')],
    ['our issuer over https', () => iss().replace('http:', 'https:')],
    ['our issuer inside an array', () => [iss()]],
    ['a number', () => 1],
    ['a foreign issuer', () => 'https://attacker.example'],
  ])('refuses iss = %s', async (_name, value) => {
    await expectRejected(401, () => api(tamper(token, { payload: { ...t.payload, iss: value() } })))
  })

  it('refuses a token without iss', async () => {
    await expectRejected(401, () => api(tamper(token, { payload: without('iss') })))
  })

  it('refuses a token without aud', async () => {
    await expectRejected(401, () => api(tamper(token, { payload: without('aud') })))
  })
})

describe('policy after a valid token', () => {
  it('answers 403 insufficient_scope, not a pass, when a valid token lacks the write scope', async () => {
    const reader = (await sessionOf(DEMO.admin)).accessToken // admin holds echo:read only
    const res = await expectRejected(403, () =>
      withBearer('/api/echo/x', reader, { method: 'POST', body: '{}' }),
    )
    expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"')
    expect(res.headers.get('www-authenticate')).toContain('scope="echo:write"')
  })
})
