import { describe, expect, it } from 'vitest'
import type { IssuerConfig } from '../../../src/config/config'
import { AuthError, type Reason } from '../../../src/lib/errors'
import { checkClaims, type ClaimPolicy, type TokenClaims } from '../../../src/verify/claims'

const NOW = 1_700_000_000
const SKEW = 60
const MAX_LIFETIME = 3600
const POLICY: ClaimPolicy = {
  nowSeconds: NOW,
  clockSkewSeconds: SKEW,
  maxTokenLifetimeSeconds: MAX_LIFETIME,
}

const ISSUER: IssuerConfig = {
  issuer: 'https://issuer.test',
  self: false,
  jwksUri: 'https://issuer.test/.well-known/jwks.json',
  audiences: ['api', 'admin-api'],
  algorithms: ['EdDSA'],
  tokenTypes: ['at+jwt'],
  tenant: null,
  tenants: null,
  scopeClaim: 'scope',
  scopeFormat: 'space',
}

const BASE = {
  iss: 'https://issuer.test',
  sub: 'user-1',
  aud: 'api',
  iat: NOW - 10,
  exp: NOW + 300,
  jti: 'jti-1',
  sid: 'sid-1',
  tid: 'tenant-a',
  client_id: 'web',
  scope: 'echo:read echo:write',
}

type Payload = Record<string, unknown>

/** BASE with overrides; an override of `undefined` removes the claim. */
function payload(overrides: Payload = {}): Payload {
  const out: Payload = { ...BASE, ...overrides }
  for (const [k, v] of Object.entries(overrides)) if (v === undefined) delete out[k]
  return out
}

function check(p: Payload, issuer: IssuerConfig = ISSUER): TokenClaims {
  return checkClaims(p, issuer, POLICY)
}

function reasonOf(p: Payload, issuer: IssuerConfig = ISSUER): Reason {
  try {
    check(p, issuer)
  } catch (err) {
    expect(err).toBeInstanceOf(AuthError)
    return (err as AuthError).reason
  }
  throw new Error('expected checkClaims to throw')
}

describe('checkClaims: a valid token', () => {
  it('returns every identity claim and the times', () => {
    expect(check(payload())).toEqual({
      subject: 'user-1',
      tenant: 'tenant-a',
      scope: 'echo:read echo:write',
      scopes: ['echo:read', 'echo:write'],
      sessionId: 'sid-1',
      tokenId: 'jti-1',
      clientId: 'web',
      boundKey: null,
      issuedAt: NOW - 10,
      amr: [],
      acr: null,
      authTime: null,
      expiresAt: NOW + 300,
    })
  })

  it('returns null for absent optional identifiers and iat', () => {
    const claims = check(
      payload({ sid: undefined, jti: undefined, client_id: undefined, iat: undefined }),
    )
    expect(claims.sessionId).toBeNull()
    expect(claims.tokenId).toBeNull()
    expect(claims.clientId).toBeNull()
    expect(claims.issuedAt).toBeNull()
  })
})

describe('checkClaims: time claims', () => {
  it('rejects a token without exp as invalid_claims', () => {
    expect(reasonOf(payload({ exp: undefined }))).toBe('invalid_claims')
  })

  it.each([
    ['exp', { exp: NOW - SKEW - 1 }],
    ['exp at exactly now minus skew', { exp: NOW - SKEW }],
  ])('rejects %s in the past beyond the skew as expired', (_label, overrides) => {
    expect(reasonOf(payload({ iat: NOW - 600, ...overrides }))).toBe('expired')
  })

  it('accepts exp in the past within the skew', () => {
    expect(check(payload({ iat: NOW - 600, exp: NOW - SKEW + 1 })).expiresAt).toBe(NOW - SKEW + 1)
  })

  it.each([
    ['nbf', { nbf: NOW + SKEW + 1 }],
    ['iat', { iat: NOW + SKEW + 1, exp: NOW + SKEW + 300 }],
  ])('rejects %s in the future beyond the skew as not_yet_valid', (_label, overrides) => {
    expect(reasonOf(payload(overrides))).toBe('not_yet_valid')
  })

  it.each([
    ['nbf', { nbf: NOW + SKEW }],
    ['iat', { iat: NOW + SKEW, exp: NOW + SKEW + 300 }],
  ])('accepts %s in the future within the skew', (_label, overrides) => {
    expect(() => check(payload(overrides))).not.toThrow()
  })

  it.each([
    ['a string exp', { exp: String(NOW + 300) }],
    ['a null exp', { exp: null }],
    ['a negative exp', { exp: -1 }],
    ['an infinite exp', { exp: Infinity }],
    ['a NaN exp', { exp: NaN }],
    ['a string nbf', { nbf: String(NOW) }],
    ['a boolean nbf', { nbf: true }],
    ['a null nbf', { nbf: null }],
    ['a string iat', { iat: String(NOW) }],
    ['an object iat', { iat: {} }],
    ['a negative iat', { iat: -5 }],
  ])('rejects %s as invalid_claims', (_label, overrides) => {
    expect(reasonOf(payload(overrides))).toBe('invalid_claims')
  })

  it('rejects exp - iat above the maximum lifetime as lifetime_too_long', () => {
    expect(reasonOf(payload({ iat: NOW, exp: NOW + MAX_LIFETIME + 1 }))).toBe('lifetime_too_long')
  })

  it('accepts exp - iat equal to the maximum lifetime', () => {
    expect(() => check(payload({ iat: NOW, exp: NOW + MAX_LIFETIME }))).not.toThrow()
  })

  it('rejects an old iat that makes the lifetime too long even though exp is near', () => {
    expect(reasonOf(payload({ iat: NOW - MAX_LIFETIME, exp: NOW + 10 }))).toBe('lifetime_too_long')
  })

  it('without iat, rejects exp further than the maximum lifetime from now', () => {
    const p = payload({ iat: undefined, exp: NOW + MAX_LIFETIME + 1 })
    expect(reasonOf(p)).toBe('lifetime_too_long')
  })

  it('without iat, accepts exp exactly the maximum lifetime from now', () => {
    expect(() => check(payload({ iat: undefined, exp: NOW + MAX_LIFETIME }))).not.toThrow()
  })
})

describe('checkClaims: audience', () => {
  it.each([
    ['a matching string', 'api'],
    ['the second accepted audience', 'admin-api'],
    ['an array containing an accepted audience', ['other', 'api']],
  ])('accepts %s', (_label, aud) => {
    expect(() => check(payload({ aud }))).not.toThrow()
  })

  it.each([
    ['a missing aud', undefined],
    ['a foreign string', 'other-api'],
    ['a case variant', 'API'],
    ['an array without an accepted audience', ['other']],
    ['an empty array', []],
    ['an array with a non-string element', ['api', 5]],
    ['an array with a null element', ['api', null]],
    ['an object', { aud: 'api' }],
    ['a number', 1],
  ])('rejects %s as wrong_audience', (_label, aud) => {
    expect(reasonOf(payload({ aud }))).toBe('wrong_audience')
  })
})

describe('checkClaims: subject', () => {
  it('accepts a subject of 256 characters and printable non-ASCII', () => {
    expect(check(payload({ sub: 's'.repeat(256) })).subject).toHaveLength(256)
    expect(check(payload({ sub: 'José|auth0' })).subject).toBe('José|auth0')
  })

  it.each([
    ['a missing sub', undefined],
    ['an empty sub', ''],
    ['a numeric sub', 42],
    ['a null sub', null],
    ['an array sub', ['user-1']],
    ['a sub with a newline', 'user\nX-Auth-Tenant: evil'],
    ['a sub with a carriage return', 'user\r1'],
    ['a sub with NUL', 'user\u00001'],
    ['a sub with DEL', 'user\u007f1'],
    ['a sub with NEL (C1 control)', 'user\u00851'],
    ['a sub with a tab', 'user\t1'],
    ['a sub over 256 characters', 's'.repeat(257)],
  ])('rejects %s as invalid_claims', (_label, sub) => {
    expect(reasonOf(payload({ sub }))).toBe('invalid_claims')
  })

  it.each([
    ['sid', 'sid\n1'],
    ['jti', ''],
    ['client_id', 7],
    ['tid', 'tenant\u0000a'],
  ])('rejects an unsafe %s as invalid_claims', (claim, value) => {
    expect(reasonOf(payload({ [claim]: value }))).toBe('invalid_claims')
  })
})

describe('checkClaims: scope', () => {
  it('splits a space-delimited scope', () => {
    const claims = check(payload({ scope: 'a b' }))
    expect(claims.scope).toBe('a b')
    expect(claims.scopes).toEqual(['a', 'b'])
  })

  it.each([
    ['absent', undefined],
    ['empty', ''],
  ])('returns no scopes when scope is %s', (_label, scope) => {
    const claims = check(payload({ scope }))
    expect(claims.scope).toBe('')
    expect(claims.scopes).toEqual([])
  })

  it.each([
    ['a double space', 'a  b'],
    ['a leading space', ' a'],
    ['a trailing space', 'a '],
    ['a tab', 'a\tb'],
    ['a double quote', 'a"b'],
    ['a backslash', 'a\\b'],
    ['a non-ASCII character', 'café'],
    ['a number', 1],
    ['an array', ['a', 'b']],
    ['over 2048 characters', 's'.repeat(2049)],
  ])('rejects a scope with %s as invalid_claims', (_label, scope) => {
    expect(reasonOf(payload({ scope }))).toBe('invalid_claims')
  })
})

describe('checkClaims: tenant', () => {
  it('uses the pinned tenant for a token without tid, and for one whose tid agrees', () => {
    const pinned = { ...ISSUER, tenant: 'partners' }
    expect(check(payload({ tid: undefined }), pinned).tenant).toBe('partners')
    expect(check(payload({ tid: 'partners' }), pinned).tenant).toBe('partners')
  })

  it('refuses a token whose tid differs from the pinned tenant (an issuer cannot pick a tenant)', () => {
    const pinned = { ...ISSUER, tenant: 'partners' }
    expect(() => check(payload({ tid: 'demo' }), pinned)).toThrow(
      expect.objectContaining({ reason: 'wrong_tenant' }),
    )
  })

  it('takes tid from the allowlist, and refuses a tid outside it or none at all', () => {
    const listed = { ...ISSUER, tenants: ['acme', 'globex'] }
    expect(check(payload({ tid: 'globex' }), listed).tenant).toBe('globex')
    for (const tid of ['demo', undefined]) {
      expect(() => check(payload({ tid }), listed)).toThrow(
        expect.objectContaining({ reason: 'wrong_tenant' }),
      )
    }
  })

  it('uses the tid claim when the issuer has no tenant', () => {
    expect(check(payload({ tid: 'tenant-b' })).tenant).toBe('tenant-b')
  })

  it('returns an empty tenant when neither the issuer nor the token names one', () => {
    expect(check(payload({ tid: undefined })).tenant).toBe('')
  })
})

describe('cnf (RFC 9449 §6)', () => {
  const JKT = '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I'

  it('reads the DPoP key thumbprint a token is bound to', () => {
    expect(check(payload({ cnf: { jkt: JKT } })).boundKey).toBe(JKT)
    expect(check(payload()).boundKey).toBeNull()
  })

  it.each([
    ['another confirmation method', { x5t: 'abc' }],
    ['a thumbprint that is not 43 base64url characters', { jkt: 'short' }],
    ['a number', { jkt: 42 }],
    ['a string cnf', 'jkt'],
    ['null', null],
  ])('refuses %s rather than accept a bound token as bearer', (_name, cnf) => {
    expect(reasonOf(payload({ cnf }))).toBe('invalid_claims')
  })
})

describe('checkClaims: how the user authenticated (amr, acr, auth_time)', () => {
  it('reads them as sent', () => {
    const claims = check(payload({ amr: ['pwd', 'otp', 'mfa'], acr: 'mfa', auth_time: NOW - 30 }))
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa'])
    expect(claims.acr).toBe('mfa')
    expect(claims.authTime).toBe(NOW - 30)
  })

  it.each([
    ['amr as a string', { amr: 'pwd' }],
    ['amr with a non-string', { amr: ['pwd', 7] }],
    ['amr with a space', { amr: ['pwd otp'] }],
    ['amr with 17 values', { amr: Array.from({ length: 17 }, (_, i) => `m${i}`) }],
    ['acr with a control character', { acr: 'mfa\n' }],
    ['acr as a number', { acr: 2 }],
    ['auth_time as a string', { auth_time: String(NOW) }],
    ['auth_time beyond the skew', { auth_time: NOW + SKEW + 1 }],
  ])('refuses %s as invalid_claims', (_name, claims) => {
    expect(reasonOf(payload(claims))).toBe('invalid_claims')
  })
})
