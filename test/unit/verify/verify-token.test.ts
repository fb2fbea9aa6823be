import { exportJWK } from 'jose'
import { describe, expect, it } from 'vitest'
import type { Algorithm, IssuerConfig } from '../../../src/keys/issuer'
import { importVerificationKey, type VerificationKey } from '../../../src/keys/jwk-import'
import { AuthError, type Reason } from '../../../src/lib/errors'
import {
  verifyAccessToken,
  type KeyLookup,
  type VerifiedToken,
  type VerifyContext,
} from '../../../src/verify/verify-token'

// The signature check hands WebCrypto views of one shared buffer that the parse already decoded
// the signature into. These tests interleave verifications (a key lookup that waits, several in
// flight at once) so that any mix-up of one token's bytes with another's would show.

const NOW = Math.floor(Date.now() / 1000)
const ISSUER_URL = 'https://issuer.test'

function b64(bytes: Uint8Array): string {
  let binary = ''
  for (const b of bytes) binary += String.fromCharCode(b)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}
const seg = (value: unknown) => b64(new TextEncoder().encode(JSON.stringify(value)))

const GENERATE = {
  EdDSA: { name: 'Ed25519' },
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
} as const
const SIGN = { EdDSA: { name: 'Ed25519' }, ES256: { name: 'ECDSA', hash: 'SHA-256' } } as const

interface Signer {
  readonly alg: 'EdDSA' | 'ES256'
  readonly kid: string
  readonly privateKey: CryptoKey
  readonly key: VerificationKey
}

async function signer(alg: 'EdDSA' | 'ES256', kid: string): Promise<Signer> {
  const pair = (await crypto.subtle.generateKey(GENERATE[alg], true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair
  const jwk = { ...(await exportJWK(pair.publicKey)), kid }
  const key = await importVerificationKey(jwk, [alg])
  if (typeof key === 'string') throw new Error(key)
  return { alg, kid, privateKey: pair.privateKey, key }
}

async function token(s: Signer, sub: string, extra: Record<string, unknown> = {}) {
  const input = `${seg({ alg: s.alg, kid: s.kid, typ: 'at+jwt' })}.${seg({
    iss: ISSUER_URL,
    sub,
    aud: 'api',
    iat: NOW,
    exp: NOW + 300,
    ...extra,
  })}`
  const sig = await crypto.subtle.sign(SIGN[s.alg], s.privateKey, new TextEncoder().encode(input))
  return `${input}.${b64(new Uint8Array(sig))}`
}

/** `a`'s header and payload with `b`'s signature. */
function swapSignature(a: string, b: string): string {
  return a.slice(0, a.lastIndexOf('.')) + b.slice(b.lastIndexOf('.'))
}

const ISSUER: IssuerConfig = {
  issuer: ISSUER_URL,
  self: false,
  jwksUri: `${ISSUER_URL}/jwks.json`,
  audiences: ['api'],
  algorithms: ['EdDSA', 'ES256'] as Algorithm[],
  tokenTypes: ['at+jwt'],
  tenant: null,
  tenants: null,
  scopeClaim: 'scope',
  scopeFormat: 'space',
}

/** Keys by kid; kids in `cold` are found only by a lookup that waits for a later task. */
function context(signers: readonly Signer[], cold: readonly string[] = []): VerifyContext {
  const byKid = new Map(signers.map((s) => [s.kid, s.key]))
  const keys: KeyLookup = {
    peek: (_issuer, kid) => (cold.includes(kid) ? undefined : byKid.get(kid)),
    resolve: async (_issuer, kid) => {
      await new Promise((resolve) => setTimeout(resolve, 5))
      const key = byKid.get(kid)
      if (key === undefined) throw new AuthError('unknown_kid')
      return key
    },
  }
  return {
    issuers: new Map([[ISSUER.issuer, ISSUER]]),
    nowSeconds: NOW,
    nowMs: NOW * 1000,
    clockSkewSeconds: 60,
    maxTokenLifetimeSeconds: 3600,
    keys,
    waitUntil: () => {},
  }
}

async function outcome(p: Promise<VerifiedToken>): Promise<string> {
  try {
    return (await p).subject
  } catch (err) {
    if (err instanceof AuthError) return `error:${err.reason satisfies Reason}`
    throw err
  }
}

describe('verifyAccessToken: signature bytes under interleaving', () => {
  it('verifies a token and returns its claims with the key that verified it', async () => {
    const s = await signer('EdDSA', 'k1')
    const verified = await verifyAccessToken(await token(s, 'user-1'), context([s]))
    expect(verified.subject).toBe('user-1')
    expect(verified.kid).toBe('k1')
    expect(verified.alg).toBe('EdDSA')
    expect(verified.key).toBe(s.key)
    expect(verified.issuer).toBe(ISSUER)
  })

  it('refuses a token carrying another valid token’s signature', async () => {
    const s = await signer('EdDSA', 'k1')
    const a = await token(s, 'user-a')
    const b = await token(s, 'user-b')
    const ctx = context([s])
    expect(await outcome(verifyAccessToken(b, ctx))).toBe('user-b') // b's bytes last in the buffer
    expect(await outcome(verifyAccessToken(swapSignature(a, b), ctx))).toBe('error:bad_signature')
    expect(await outcome(verifyAccessToken(a, ctx))).toBe('user-a')
  })

  it('keeps each token’s bytes while another is verified during its key lookup', async () => {
    const cold = await signer('EdDSA', 'cold')
    const warm = await signer('EdDSA', 'warm')
    const ctx = context([cold, warm], ['cold'])
    const a = await token(cold, 'user-a')
    const b = await token(warm, 'user-b')
    // a is parsed (its signature decoded into the shared buffer), then waits for its key while
    // b is parsed and verified with the buffer; a must still be checked over its own bytes.
    const results = await Promise.all([
      outcome(verifyAccessToken(a, ctx)),
      outcome(verifyAccessToken(b, ctx)),
      outcome(verifyAccessToken(swapSignature(a, b), ctx)),
      outcome(verifyAccessToken(swapSignature(b, a), ctx)),
    ])
    expect(results).toEqual(['user-a', 'user-b', 'error:bad_signature', 'error:bad_signature'])
  })

  it('verifies many tokens in flight at once, each over its own bytes', async () => {
    const ed = await signer('EdDSA', 'ed')
    const es = await signer('ES256', 'es')
    const ctx = context([ed, es], ['es'])
    const tokens: string[] = []
    for (let i = 0; i < 12; i++) tokens.push(await token(i % 3 === 0 ? es : ed, `user-${i}`))
    const forged = tokens.map((t, i) => swapSignature(t, tokens[(i + 3) % tokens.length] as string))
    const results = await Promise.all(
      [...tokens, ...forged].map((t) => outcome(verifyAccessToken(t, ctx))),
    )
    expect(results.slice(0, 12)).toEqual(tokens.map((_, i) => `user-${i}`))
    expect(results.slice(12)).toEqual(forged.map(() => 'error:bad_signature'))
  })

  it('relies on WebCrypto taking its inputs when verify() is called', async () => {
    // The shared buffer is refilled only once the call has answered, but the W3C spec (and
    // workerd) copy the inputs at the call anyway; this pins the latter.
    const s = await signer('EdDSA', 'k1')
    const data = new TextEncoder().encode('signed bytes')
    const sig = new Uint8Array(await crypto.subtle.sign(SIGN.EdDSA, s.privateKey, data))
    const verdict = crypto.subtle.verify(SIGN.EdDSA, s.key.byAlg.get('EdDSA')!, sig, data)
    data.fill(0)
    sig.fill(0)
    expect(await verdict).toBe(true)
  })
})
