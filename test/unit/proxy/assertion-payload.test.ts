// The assertion's payload is written from cached JSON parts on the hot path; it must say exactly
// what the claim set (assertionClaims, docs/ASSERTION.md) says, for every shape of request.

import { describe, expect, it } from 'vitest'
import {
  assertionClaims,
  assertionPayloadJson,
  type AssertionInput,
} from '../../../src/proxy/assertion'

const BASE: AssertionInput = {
  issuer: 'https://gatehouse.test',
  audience: 'https://orders.internal',
  method: 'post',
  url: 'https://orders.internal/api/orders?x="1"&y=\\u2028',
  identity: {
    issuer: 'https://gatehouse.test',
    subject: 'José "100%" real|auth0 ',
    tenant: 'acme',
    scope: 'orders:read orders:write',
    sessionId: 'sid-1',
    clientId: 'web',
    dpopKey: null,
  },
  selfIssuer: 'https://gatehouse.test',
  revocation: 'checked',
  body: 'bound',
  bodyDigest: 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:',
  jti: 'req-1.0',
  nowSeconds: 1_700_000_000.7,
}

describe('the assertion payload', () => {
  it.each<[string, Partial<AssertionInput>]>([
    ['a bound body and every identity claim', {}],
    ['no body', { body: 'none', bodyDigest: null, method: 'GET' }],
    [
      'an anonymous request',
      { identity: null, revocation: null, body: 'unbound', bodyDigest: null },
    ],
    [
      'a third-party, DPoP-bound token without session or client',
      {
        identity: {
          issuer: 'https://idp.test',
          subject: 'u1',
          tenant: '',
          scope: '',
          sessionId: null,
          clientId: null,
          dpopKey: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
        },
        revocation: null,
      },
    ],
  ])('says exactly the claim set for %s', (_name, patch) => {
    const input = { ...BASE, ...patch }
    expect(JSON.parse(assertionPayloadJson(input))).toEqual(assertionClaims(input))
    // Twice: the second comes from the cached parts.
    expect(JSON.parse(assertionPayloadJson(input))).toEqual(assertionClaims(input))
  })

  it('does not reuse an identity’s claims under another self issuer', () => {
    const input = { ...BASE, identity: { ...BASE.identity!, issuer: 'https://idp.test' } }
    expect(JSON.parse(assertionPayloadJson(input)).token_iss).toBe('https://idp.test')
    const asSelf = { ...input, selfIssuer: 'https://idp.test' }
    expect(JSON.parse(assertionPayloadJson(asSelf)).token_iss).toBeUndefined()
  })
})
