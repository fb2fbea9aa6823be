import { describe, expect, it } from 'vitest'
import type { IssuerConfig } from '../../../src/config/config'
import {
  HEADER,
  decodeIdentityValue,
  encodeIdentityValue,
} from '../../../src/origin/identity-headers'
import {
  createIdentityVerifier,
  type IdentityVerifierOptions,
  type IncomingRequest,
} from '../../../src/origin/verify-identity'
import { signIdentityHeaders, type ForwardIdentity } from '../../../src/proxy/identity-signing'
import { checkClaims } from '../../../src/verify/claims'

const NOW = 1_700_000_000
const SECRET = 'origin-secret-current-0123456789abcdef'
const OLD_SECRET = 'origin-secret-previous-0123456789abcdef'
const METHOD = 'GET'
const TARGET = '/api/echo/hello?x=1'
const REQUEST_ID = '6f1c2b9e-0000-4000-8000-000000000001'

const IDENTITY: ForwardIdentity = {
  issuer: 'https://issuer.test',
  subject: 'José 100% real|auth0',
  tenant: 'tenant-a',
  scope: 'echo:read echo:write',
  sessionId: 'sid-1',
  clientId: 'web',
  dpopKey: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
}

interface SignOptions {
  identity?: ForwardIdentity | null
  secret?: string
  method?: string
  target?: string
}

async function signed(o: SignOptions = {}): Promise<Headers> {
  const headers = new Headers({ accept: '*/*' })
  await signIdentityHeaders(headers, {
    method: o.method ?? METHOD,
    target: o.target ?? TARGET,
    secret: o.secret ?? SECRET,
    identity: o.identity === undefined ? IDENTITY : o.identity,
    revocation: o.identity === null ? null : 'skipped; tier=low',
    requestId: REQUEST_ID,
    nowSeconds: NOW + 0.75,
  })
  return headers
}

function verifier(options: Partial<IdentityVerifierOptions> = {}) {
  return createIdentityVerifier({ secrets: [SECRET], now: () => NOW * 1000, ...options })
}

function request(headers: IncomingRequest['headers'], o: Partial<IncomingRequest> = {}) {
  return { method: METHOD, target: TARGET, headers, ...o }
}

function withHeader(headers: Headers, name: string, value: string | null): Headers {
  const copy = new Headers(headers)
  if (value === null) copy.delete(name)
  else copy.set(name, value)
  return copy
}

describe('identity value encoding', () => {
  it.each(['José', '100%', 'a%41', 'auth0|123', '%zz', '日本 語', 'plain-ascii_1'])(
    'round-trips %j',
    (value) => {
      const wire = encodeIdentityValue(value)
      expect(wire).toMatch(/^[\x20-\x7e]*$/)
      expect(decodeIdentityValue(wire)).toBe(value)
    },
  )

  it('leaves printable ASCII without % unchanged', () => {
    expect(encodeIdentityValue('auth0|123 x')).toBe('auth0|123 x')
  })

  it('refuses a value that is not validly percent-encoded', () => {
    expect(decodeIdentityValue('%zz')).toBeNull()
    expect(decodeIdentityValue('%C3')).toBeNull()
  })
})

describe('createIdentityVerifier: accepted requests', () => {
  it('returns the decoded identity of a signed request', async () => {
    const result = await verifier()(request(await signed()))
    expect(result).toEqual({
      ok: true,
      identity: {
        subject: 'José 100% real|auth0',
        issuer: 'https://issuer.test',
        tenant: 'tenant-a',
        scopes: ['echo:read', 'echo:write'],
        session: 'sid-1',
        client: 'web',
        dpopKey: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
        revocation: 'skipped; tier=low',
        requestId: REQUEST_ID,
      },
    })
  })

  it('puts only ASCII on the wire for a UTF-8 subject', async () => {
    expect((await signed()).get(HEADER.subject)).toBe('Jos%C3%A9 100%25 real|auth0')
  })

  it('accepts an anonymous request with a null subject and no scopes', async () => {
    const result = await verifier()(request(await signed({ identity: null })))
    expect(result.ok).toBe(true)
    if (!result.ok) return
    expect(result.identity.subject).toBeNull()
    expect(result.identity.scopes).toEqual([])
    expect(result.identity.requestId).toBe(REQUEST_ID)
  })

  it('accepts a request signed with the previous secret during a rotation', async () => {
    const verify = verifier({ secrets: [SECRET, OLD_SECRET] })
    expect((await verify(request(await signed({ secret: OLD_SECRET })))).ok).toBe(true)
  })

  it('accepts a Node-style headers record with lower-case keys', async () => {
    const record: Record<string, string | string[]> = Object.fromEntries(await signed())
    const result = await verifier()(request(record))
    expect(result.ok && result.identity.subject).toBe('José 100% real|auth0')
  })

  it('accepts a Node-style record whose header array holds a single value', async () => {
    const record: Record<string, string | string[]> = Object.fromEntries(await signed())
    record[HEADER.subject] = [record[HEADER.subject] as string]
    expect((await verifier()(request(record))).ok).toBe(true)
  })

  it('accepts a timestamp exactly maxAgeSeconds old', async () => {
    const verify = verifier({ maxAgeSeconds: 30, now: () => (NOW + 30) * 1000 })
    expect((await verify(request(await signed()))).ok).toBe(true)
  })
})

describe('createIdentityVerifier: rejected requests', () => {
  it.each([
    ['method', { method: 'POST' }],
    ['path', { target: '/api/echo/other?x=1' }],
    ['query', { target: '/api/echo/hello?x=2' }],
    ['dropped query', { target: '/api/echo/hello' }],
  ])('rejects a tampered %s as bad_signature', async (_label, override) => {
    expect(await verifier()(request(await signed(), override))).toEqual({
      ok: false,
      reason: 'bad_signature',
    })
  })

  it.each([
    ['subject', HEADER.subject, 'mallory'],
    ['scopes', HEADER.scopes, 'echo:read echo:write admin'],
    ['tenant', HEADER.tenant, 'tenant-b'],
    ['session', HEADER.session, null],
    ['request id', HEADER.requestId, '6f1c2b9e-0000-4000-8000-000000000002'],
    ['timestamp', HEADER.timestamp, String(NOW + 1)],
    ['nonce', HEADER.nonce, 'AAAAAAAAAAAAAAAAAAAAAA'],
  ])('rejects a tampered %s header as bad_signature', async (_label, name, value) => {
    const headers = withHeader(await signed(), name, value)
    expect(await verifier()(request(headers))).toEqual({ ok: false, reason: 'bad_signature' })
  })

  it('rejects an anonymous request to which a subject was added as bad_signature', async () => {
    const headers = withHeader(await signed({ identity: null }), HEADER.subject, 'admin')
    expect(await verifier()(request(headers))).toEqual({ ok: false, reason: 'bad_signature' })
  })

  it('rejects a request signed with another secret as bad_signature', async () => {
    const headers = await signed({ secret: 'some-other-origin-secret-0123456789' })
    expect(await verifier()(request(headers))).toEqual({ ok: false, reason: 'bad_signature' })
  })

  it.each([
    ['too old', NOW + 61],
    ['from the future', NOW - 61],
  ])('rejects a timestamp %s beyond maxAgeSeconds as stale', async (_label, nowSeconds) => {
    const verify = verifier({ maxAgeSeconds: 60, now: () => nowSeconds * 1000 })
    expect(await verify(request(await signed()))).toEqual({ ok: false, reason: 'stale' })
  })

  it('rejects the second use of the same signed headers as replayed', async () => {
    const verify = verifier()
    const headers = await signed()
    expect((await verify(request(headers))).ok).toBe(true)
    expect(await verify(request(headers))).toEqual({ ok: false, reason: 'replayed' })
  })

  it('keeps refusing replays of fresh nonces once the replay cache is full', async () => {
    const capacity = 4
    const verify = verifier({ replayCacheSize: capacity })
    const sent: Headers[] = []
    for (let i = 0; i <= capacity; i++) {
      const headers = await signed()
      expect((await verify(request(headers))).ok).toBe(true)
      sent.push(headers)
    }
    // One request over capacity pushes out only the oldest nonce; every other one is still
    // inside its freshness window and must not replay.
    for (const headers of sent.slice(1)) {
      expect(await verify(request(headers))).toEqual({ ok: false, reason: 'replayed' })
    }
  })

  it('accepts two requests signed separately (each gets its own nonce)', async () => {
    const verify = verifier()
    expect((await verify(request(await signed()))).ok).toBe(true)
    expect((await verify(request(await signed()))).ok).toBe(true)
  })

  it('rejects a request without a signature as missing_signature', async () => {
    const headers = withHeader(await signed(), HEADER.signature, null)
    expect(await verifier()(request(headers))).toEqual({ ok: false, reason: 'missing_signature' })
  })

  it.each([
    ['garbage', HEADER.signature, 'garbage'],
    ['an unknown version', HEADER.signature, 'v3=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['the retired version 1', HEADER.signature, 'v1=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['invalid characters', HEADER.signature, 'v2=!!!!'],
    ['a short MAC', HEADER.signature, 'v2=AAAAAAAAAAAAAAAAAAAAAA'],
    ['a non-numeric timestamp', HEADER.timestamp, 'yesterday'],
    ['a missing timestamp', HEADER.timestamp, null],
    ['a missing nonce', HEADER.nonce, null],
    ['a short nonce', HEADER.nonce, 'abc'],
  ])('rejects %s as malformed', async (_label, name, value) => {
    const headers = withHeader(await signed(), name, value)
    expect(await verifier()(request(headers))).toEqual({ ok: false, reason: 'malformed' })
  })

  it('rejects a Node-style record with a duplicated identity header', async () => {
    const record: Record<string, string | string[]> = Object.fromEntries(await signed())
    const subject = record[HEADER.subject] as string
    record[HEADER.subject] = [subject, subject]
    const result = await verifier()(request(record))
    expect(result.ok).toBe(false)
  })

  it('rejects a Node-style record with a duplicated signature header as malformed', async () => {
    const record: Record<string, string | string[]> = Object.fromEntries(await signed())
    const signature = record[HEADER.signature] as string
    record[HEADER.signature] = [signature, signature]
    expect(await verifier()(request(record))).toEqual({ ok: false, reason: 'malformed' })
  })

  it('refuses to be created without a secret', () => {
    expect(() => createIdentityVerifier({ secrets: [] })).toThrow()
  })
})

describe('gateway to origin: scopes', () => {
  const ISSUER: IssuerConfig = {
    issuer: 'https://issuer.test',
    self: false,
    jwksUri: 'https://issuer.test/jwks',
    audiences: ['api'],
    algorithms: ['EdDSA'],
    tokenTypes: ['at+jwt'],
    tenant: null,
    tenants: null,
    scopeClaim: 'scope',
    scopeFormat: 'space',
  }

  // Regression: scope-tokens may contain '%'; the origin must see exactly the scopes checked.
  it('delivers a scope containing "%" to the origin unchanged', async () => {
    const claims = checkClaims(
      { sub: 'user-1', aud: 'api', iat: NOW, exp: NOW + 300, scope: 'echo:read%20admin' },
      ISSUER,
      { nowSeconds: NOW, clockSkewSeconds: 60, maxTokenLifetimeSeconds: 3600 },
    )
    expect(claims.scopes).toEqual(['echo:read%20admin'])
    const headers = await signed({ identity: { ...IDENTITY, scope: claims.scope } })
    const result = await verifier()(request(headers))
    expect(result.ok && result.identity.scopes).toEqual(['echo:read%20admin'])
  })
})
