// Every token rejection class, driven through the real app with real KV: each case asserts the
// status, the RFC 6750 challenge and that the origin was never called.

import { env } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { jwksKvKey } from '../../src/keys/key-store'
import {
  captureLogs,
  installNetwork,
  send,
  servicesOf,
  setupIssuer,
  uniqueIssuer,
  type LogCapture,
  type Network,
} from '../helpers/gateway'
import { makeKey, type TestKey } from '../helpers/keys'
import { b64url, fromB64url, mint, nowSeconds, signRaw, split } from '../helpers/tokens'

let net: Network
let logs: LogCapture
let key: TestKey
let issuer: string
let gw: Awaited<ReturnType<typeof setupIssuer>>['env']

beforeEach(async () => {
  net = installNetwork()
  logs = captureLogs()
  key = await makeKey('EdDSA')
  const setup = await setupIssuer(net, [key])
  issuer = setup.issuer
  gw = setup.env
})
afterEach(() => vi.restoreAllMocks())

async function expectRejected(
  token: string | null,
  status: number,
  error: string | null,
  reason: string,
  init: RequestInit = {},
): Promise<Response> {
  const res = await send(gw, '/api/echo/resource', token === null ? init : { ...init, token })
  expect(res.status).toBe(status)
  expect(logs.lastReason()).toBe(reason)
  const challenge = res.headers.get('www-authenticate')
  if (error === null) expect(challenge).toBe('Bearer realm="gatehouse"')
  else expect(challenge).toContain(`error="${error}"`)
  expect(net.originCalls).toHaveLength(0)
  return res
}

describe('transport of the token', () => {
  it('accepts a valid token and a lower-case scheme', async () => {
    const token = await mint(key, { issuer })
    const res = await send(gw, '/api/echo/x', { headers: { authorization: `bearer ${token}` } })
    expect(res.status).toBe(200)
    expect(net.originCalls).toHaveLength(1)
  })

  it('answers 401 with a bare challenge when no token is sent', async () => {
    const res = await expectRejected(null, 401, null, 'missing_token')
    expect(await res.json()).toMatchObject({ error: 'invalid_token' })
  })

  it('refuses a token in the query string', async () => {
    const token = await mint(key, { issuer })
    const res = await send(gw, `/api/echo/x?access_token=${token}`)
    expect(res.status).toBe(400)
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_request"')
    expect(net.originCalls).toHaveLength(0)
  })

  it('refuses a token in the query string even alongside a header', async () => {
    const token = await mint(key, { issuer })
    const res = await send(gw, `/api/echo/x?a=1&ACCESS_TOKEN=${token}`, { token })
    expect(res.status).toBe(400)
    expect(net.originCalls).toHaveLength(0)
  })

  it('refuses two credentials in one Authorization header', async () => {
    const token = await mint(key, { issuer })
    await expectRejected(null, 400, 'invalid_request', 'invalid_request', {
      headers: { authorization: `Bearer ${token}, Bearer ${token}` },
    })
  })

  it('refuses other schemes and an empty bearer', async () => {
    const token = await mint(key, { issuer })
    for (const value of [`Basic ${token}`, 'Bearer ', 'Bearer', `Token ${token}`]) {
      const res = await send(gw, '/api/echo/x', { headers: { authorization: value } })
      expect([400, 401]).toContain(res.status)
    }
    expect(net.originCalls).toHaveLength(0)
  })

  it('never reads an access token from a cookie', async () => {
    const token = await mint(key, { issuer })
    await expectRejected(null, 401, null, 'missing_token', {
      headers: { cookie: `access_token=${token}` },
    })
  })

  it('refuses a token over 8 KiB before parsing it', async () => {
    const token = await mint(key, { issuer, claims: { pad: 'x'.repeat(9000) } })
    await expectRejected(token, 400, 'invalid_request', 'token_too_large')
  })
})

describe('token shape and encoding', () => {
  it('refuses a padded signature', async () => {
    const token = await mint(key, { issuer })
    await expectRejected(`${token}==`, 401, 'invalid_token', 'malformed')
    await expectRejected(`${token}=`, 401, 'invalid_token', 'malformed')
  })

  it('refuses a non-canonical re-encoding of a valid signature', async () => {
    const token = await mint(key, { issuer })
    const { h, p, s } = split(token)
    // A 64-byte Ed25519 signature ends in a character with 4 unused bits; flip one of them.
    const last = s.charCodeAt(s.length - 1)
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const twin = alphabet[alphabet.indexOf(String.fromCharCode(last)) + 1] as string
    await expectRejected(`${h}.${p}.${s.slice(0, -1)}${twin}`, 401, 'invalid_token', 'malformed')
  })

  it('refuses two, four and empty segments', async () => {
    const token = await mint(key, { issuer })
    const { h, p, s } = split(token)
    for (const bad of [`${h}.${p}`, `${h}.${p}.${s}.${s}`, `${h}..${s}`, `.${p}.${s}`]) {
      const res = await send(gw, '/api/echo/x', { token: bad })
      expect(res.status).toBe(401)
    }
    expect(net.originCalls).toHaveLength(0)
  })

  it('refuses a payload that was tampered with after signing', async () => {
    const token = await mint(key, { issuer, scope: 'echo:read' })
    const { h, s, payload } = split(token)
    const widened = b64url(JSON.stringify({ ...payload, scope: 'echo:read echo:write admin' }))
    await expectRejected(`${h}.${widened}.${s}`, 401, 'invalid_token', 'bad_signature')
  })
})

describe('algorithms and keys', () => {
  it('refuses alg none with and without a signature', async () => {
    const { payload } = split(await mint(key, { issuer }))
    const h = b64url(JSON.stringify({ alg: 'none', kid: key.kid, typ: 'at+jwt' }))
    const p = b64url(JSON.stringify(payload))
    await expectRejected(`${h}.${p}.`, 401, 'invalid_token', 'malformed')
    await expectRejected(`${h}.${p}.${b64url('x')}`, 401, 'invalid_token', 'alg_not_allowed')
  })

  it('refuses HS256 signed with every serialisation of the published public key', async () => {
    const { payload } = split(await mint(key, { issuer }))
    const secrets = [
      JSON.stringify(key.jwk),
      JSON.stringify({ keys: [key.jwk] }),
      key.jwk.x as string,
      new TextDecoder().decode(fromB64url(key.jwk.x as string)),
    ]
    for (const secret of secrets) {
      const hmac = await crypto.subtle.importKey(
        'raw',
        new TextEncoder().encode(secret),
        { name: 'HMAC', hash: 'SHA-256' },
        false,
        ['sign'],
      )
      const input = `${b64url(JSON.stringify({ alg: 'HS256', kid: key.kid, typ: 'at+jwt' }))}.${b64url(JSON.stringify(payload))}`
      const sig = await crypto.subtle.sign('HMAC', hmac, new TextEncoder().encode(input))
      await expectRejected(
        `${input}.${b64url(new Uint8Array(sig))}`,
        401,
        'invalid_token',
        'alg_not_allowed',
      )
    }
  })

  it('refuses an embedded jwk, a jku, an x5u and crit', async () => {
    const attacker = await makeKey('EdDSA')
    const { payload } = split(await mint(key, { issuer }))
    const headers = [
      { jwk: attacker.jwk },
      { jku: 'https://evil.test/jwks.json' },
      { x5u: 'https://evil.test/cert.pem' },
      { x5c: ['MIIB'] },
      { crit: ['exp'] },
    ]
    for (const extra of headers) {
      const token = await signRaw(
        attacker,
        { alg: 'EdDSA', kid: attacker.kid, typ: 'at+jwt', ...extra },
        payload,
      )
      await expectRejected(token, 401, 'invalid_token', 'header_not_allowed')
    }
  })

  it('never uses a key of another issuer, even with its kid', async () => {
    const otherKey = await makeKey('EdDSA')
    const other = uniqueIssuer('other')
    net.jwks.set(other, [otherKey])
    // The token names our issuer but is signed by the other issuer's key and kid.
    await expectRejected(await mint(otherKey, { issuer }), 401, 'invalid_token', 'unknown_kid')
  })

  it('refuses an unknown kid', async () => {
    const stranger = await makeKey('EdDSA', 'not-published')
    await expectRejected(await mint(stranger, { issuer }), 401, 'invalid_token', 'unknown_kid')
  })

  it('refuses an algorithm the key was not published for', async () => {
    const { payload } = split(await mint(key, { issuer }))
    // An Ed25519 key presented as ES256: the key may only verify EdDSA.
    const h = b64url(JSON.stringify({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' }))
    await expectRejected(
      `${h}.${b64url(JSON.stringify(payload))}.${b64url(new Uint8Array(64).fill(1))}`,
      401,
      'invalid_token',
      'alg_not_allowed',
    )
  })

  it('refuses PS256 from a key published with alg RS256, though the issuer allows PS256', async () => {
    const rsa = await makeKey('RS256')
    net.jwks.set(issuer, [key, rsa])
    // The same private key, signing RSA-PSS: valid PS256 bytes for a key pinned to RS256.
    const pss = await crypto.subtle.importKey(
      'jwk',
      { ...(await crypto.subtle.exportKey('jwk', rsa.privateKey)), alg: 'PS256' },
      { name: 'RSA-PSS', hash: 'SHA-256' },
      false,
      ['sign'],
    )
    const { payload } = split(await mint(key, { issuer }))
    const token = await signRaw(
      { ...rsa, alg: 'PS256', privateKey: pss },
      { alg: 'PS256', kid: rsa.kid, typ: 'at+jwt' },
      payload,
    )
    await expectRejected(token, 401, 'invalid_token', 'alg_not_allowed')
    // The key itself is trusted: RS256 from it passes.
    expect(
      (await send(gw, '/api/echo/resource', { token: await mint(rsa, { issuer }) })).status,
    ).toBe(200)
  })

  it('never trusts a key the issuer published with its private members', async () => {
    const leaked = await makeKey('EdDSA', 'leaked-private')
    const jwk = await crypto.subtle.exportKey('jwk', leaked.privateKey)
    net.extraJwks.set(issuer, [{ ...jwk, kid: leaked.kid, alg: 'EdDSA', use: 'sig' }])
    await expectRejected(await mint(leaked, { issuer }), 401, 'invalid_token', 'unknown_kid')
  })

  it('never trusts a 1024-bit RSA key, however correctly it signs', async () => {
    // jose will neither generate nor sign under 2048 bits; WebCrypto will.
    const pair = (await crypto.subtle.generateKey(
      {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: 1024,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      },
      true,
      ['sign', 'verify'],
    )) as CryptoKeyPair
    const kid = 'rsa-1024'
    const jwk = (await crypto.subtle.exportKey('jwk', pair.publicKey)) as JsonWebKey
    net.extraJwks.set(issuer, [{ kty: 'RSA', n: jwk.n, e: jwk.e, kid, alg: 'RS256', use: 'sig' }])
    const weak: TestKey = { alg: 'RS256', kid, ...pair, jwk: { ...jwk, kid } }
    const { payload } = split(await mint(key, { issuer }))
    const token = await signRaw(weak, { alg: 'RS256', kid, typ: 'at+jwt' }, payload)
    await expectRejected(token, 401, 'invalid_token', 'unknown_kid')
  })

  // CVE-2022-21449: workerd's own ECDSA refuses these too, so the spy proves our pre-check is the
  // one that answers — crypto.subtle.verify is never asked about an r or s of zero.
  it.each([
    ['r = s = 0', (_sig: Uint8Array) => new Uint8Array(64)],
    ['r = 0', (sig: Uint8Array) => new Uint8Array([...new Uint8Array(32), ...sig.slice(32)])],
    ['s = 0', (sig: Uint8Array) => new Uint8Array([...sig.slice(0, 32), ...new Uint8Array(32)])],
  ])('refuses the ECDSA psychic signature (%s) before any crypto', async (_name, zero) => {
    const ec = await makeKey('ES256')
    net.jwks.set(issuer, [key, ec])
    const { h, p, s } = split(await mint(ec, { issuer }))
    const verify = vi.spyOn(crypto.subtle, 'verify')
    const ecdsaCalls = () =>
      verify.mock.calls.filter(([params]) => (params as { name?: string }).name === 'ECDSA').length
    await expectRejected(
      `${h}.${p}.${b64url(zero(fromB64url(s)))}`,
      401,
      'invalid_token',
      'bad_signature',
    )
    expect(ecdsaCalls()).toBe(0)
    // The control: the spy does see WebCrypto verify the intact token.
    expect((await send(gw, '/api/echo/x', { token: `${h}.${p}.${s}` })).status).toBe(200)
    expect(ecdsaCalls()).toBe(1)
  })

  it('refuses a DER-encoded ECDSA signature', async () => {
    const ec = await makeKey('ES256')
    net.jwks.set(issuer, [key, ec])
    const { h, p, s } = split(await mint(ec, { issuer }))
    const raw = fromB64url(s)
    const der = new Uint8Array([
      0x30,
      0x44,
      0x02,
      0x20,
      ...raw.slice(0, 32),
      0x02,
      0x20,
      ...raw.slice(32),
    ])
    await expectRejected(`${h}.${p}.${b64url(der)}`, 401, 'invalid_token', 'bad_signature')
  })

  it.each(['ES256', 'RS256', 'PS256'] as const)(
    'accepts %s tokens from a key published for it',
    async (alg) => {
      const k = await makeKey(alg)
      net.jwks.set(issuer, [key, k])
      const res = await send(gw, '/api/echo/x', { token: await mint(k, { issuer }) })
      expect(res.status).toBe(200)
    },
  )
})

describe('claims and time', () => {
  it('says an expired token expired, so the client refreshes', async () => {
    const res = await expectRejected(
      await mint(key, { issuer, expiresIn: -120 }),
      401,
      'invalid_token',
      'expired',
    )
    expect(res.headers.get('www-authenticate')).toContain('expired')
  })

  it('refuses a token without exp', async () => {
    await expectRejected(
      await mint(key, { issuer, omit: ['exp'] }),
      401,
      'invalid_token',
      'invalid_claims',
    )
  })

  it('refuses a token issued in the future or not yet valid', async () => {
    await expectRejected(
      await mint(key, { issuer, issuedAgo: -600 }),
      401,
      'invalid_token',
      'not_yet_valid',
    )
    await expectRejected(
      await mint(key, { issuer, claims: { nbf: nowSeconds() + 600 } }),
      401,
      'invalid_token',
      'not_yet_valid',
    )
  })

  it('refuses a token that lives longer than the maximum lifetime', async () => {
    await expectRejected(
      await mint(key, { issuer, expiresIn: 7200 }),
      401,
      'invalid_token',
      'lifetime_too_long',
    )
    await expectRejected(
      await mint(key, { issuer, expiresIn: 7200, omit: ['iat'] }),
      401,
      'invalid_token',
      'lifetime_too_long',
    )
  })

  it('refuses a wrong or missing audience and an unknown issuer', async () => {
    await expectRejected(
      await mint(key, { issuer, audience: 'other-api' }),
      401,
      'invalid_token',
      'wrong_audience',
    )
    await expectRejected(
      await mint(key, { issuer, omit: ['aud'] }),
      401,
      'invalid_token',
      'wrong_audience',
    )
    await expectRejected(
      await mint(key, { issuer: 'https://evil.test' }),
      401,
      'invalid_token',
      'unknown_issuer',
    )
  })

  it('refuses a subject with control characters or none at all', async () => {
    await expectRejected(
      await mint(key, { issuer, subject: 'alice\nx-auth-subject: admin' }),
      401,
      'invalid_token',
      'invalid_claims',
    )
    await expectRejected(
      await mint(key, { issuer, omit: ['sub'] }),
      401,
      'invalid_token',
      'invalid_claims',
    )
  })

  it('refuses a token of another type and an untyped token', async () => {
    await expectRejected(
      await mint(key, { issuer, header: { typ: 'JWT' } }),
      401,
      'invalid_token',
      'wrong_type',
    )
    await expectRejected(
      await mint(key, { issuer, header: { typ: 'id+jwt' } }),
      401,
      'invalid_token',
      'wrong_type',
    )
    await expectRejected(
      await mint(key, { issuer, omit: ['typ'] }),
      401,
      'invalid_token',
      'wrong_type',
    )
  })

  it('accepts typ in any case and with the application/ prefix', async () => {
    for (const typ of ['AT+JWT', 'application/at+jwt']) {
      const res = await send(gw, '/api/echo/x', {
        token: await mint(key, { issuer, header: { typ } }),
      })
      expect(res.status).toBe(200)
    }
  })

  it('answers 403 insufficient_scope naming the scope a write needs', async () => {
    const token = await mint(key, { issuer, scope: 'echo:read' })
    const res = await send(gw, '/api/echo/x', { token, method: 'POST', body: '{}' })
    expect(res.status).toBe(403)
    expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"')
    expect(res.headers.get('www-authenticate')).toContain('scope="echo:write"')
    expect(net.originCalls).toHaveLength(0)
  })
})

describe('verified-token cache', () => {
  it('re-verifies a cached token once its kid names a different key (a key replaced under the same kid)', async () => {
    const token = await mint(key, { issuer })
    expect((await send(gw, '/api/echo/x', { token })).status).toBe(200) // verified, cached
    // The issuer replaces the key but keeps the kid; this isolate learns the new key from a
    // token signed by it, so the kid is held again — by another key object.
    const replacement = await makeKey('EdDSA', key.kid)
    net.jwks.set(issuer, [replacement])
    servicesOf(gw).keyStore.forget(issuer)
    await env.JWKS_CACHE.delete(jwksKvKey(issuer))
    expect(
      (await send(gw, '/api/echo/x', { token: await mint(replacement, { issuer }) })).status,
    ).toBe(200)
    net.originCalls.length = 0 // expectRejected proves this request reached no origin
    await expectRejected(token, 401, 'invalid_token', 'bad_signature')
  })
})
