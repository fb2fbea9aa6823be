// Algorithms and keys: an attacker holding only the public JWKS, tokens of their own session and
// keys of their own cannot get a token accepted — not with alg none, not by HMAC-signing with
// any serialisation of our public key, not by embedding or pointing at a key, not by steering
// the kid, and not with degenerate, malleated or foreign signatures.

import { beforeAll, describe, it } from 'vitest'
import {
  DEMO,
  SUBJECT,
  attackerKey,
  b64url,
  expectAccepted,
  expectRejected,
  forge,
  hmacSign,
  publishedJwks,
  sessionOf,
  split,
  unb64url,
  withBearer,
  type AttackerAlg,
} from '../helpers/stack/attack-kit'

let token: string
let t: ReturnType<typeof split>
let kid: string
let otherKid: string
let jwksText: string
let jwk: Record<string, string>
let attacker: CryptoKeyPair
let attackerJwk: JsonWebKey

beforeAll(async () => {
  token = (await sessionOf(DEMO.alice)).accessToken
  t = split(token)
  kid = t.header.kid as string
  const jwks = await publishedJwks()
  jwksText = jwks.text
  jwk = jwks.keys.find((k) => k.kid === kid) as Record<string, string>
  otherKid = jwks.keys.find((k) => k.kid !== kid)?.kid ?? 'no-second-key'
  attacker = await attackerKey('EdDSA')
  attackerJwk = await crypto.subtle.exportKey('jwk', attacker.publicKey)
})

const api = (tok: string) => withBearer('/api/echo/x', tok)
const hdr = (extra: Record<string, unknown>) => ({ alg: 'EdDSA', kid, typ: 'at+jwt', ...extra })

/** SubjectPublicKeyInfo DER of an Ed25519 key (RFC 8410): fixed prefix + the 32 key bytes. */
function spki(): Buffer {
  return Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), unb64url(jwk.x as string)])
}
const pem = (newline: string) =>
  `-----BEGIN PUBLIC KEY-----\n${spki().toString('base64')}\n-----END PUBLIC KEY-----${newline}`

describe('alg none and algorithm names', () => {
  it('accepts the genuine token as a control', async () => {
    await expectAccepted(SUBJECT.alice, () => api(token))
  })

  it.each(['none', 'None', 'NONE', 'nOnE'])(
    'refuses alg %s with an empty signature',
    async (alg) => {
      const h = b64url(JSON.stringify(hdr({ alg })))
      await expectRejected(401, () => api(`${h}.${t.p}.`))
    },
  )

  it.each(['none', 'Ed25519', 'ED25519', 'eddsa', 'EdDSA ', 'ES256K', 'RS256', 'HS256', ''])(
    'refuses alg %j carrying the genuine signature',
    async (alg) => {
      await expectRejected(401, () => api(`${b64url(JSON.stringify(hdr({ alg })))}.${t.p}.${t.s}`))
    },
  )
})

describe('HMAC key confusion with every serialisation of the published key', () => {
  const secrets: Array<[string, () => Uint8Array]> = [
    ['the raw x bytes', () => unb64url(jwk.x as string)],
    ['x as base64url text', () => Buffer.from(jwk.x as string)],
    ['the JWK JSON as published', () => Buffer.from(JSON.stringify(jwk))],
    [
      'the thumbprint-canonical JWK JSON',
      () => Buffer.from(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x })),
    ],
    ['the JWKS document as served', () => Buffer.from(jwksText)],
    ['the PEM SPKI with a trailing newline', () => Buffer.from(pem('\n'))],
    ['the PEM SPKI without a trailing newline', () => Buffer.from(pem(''))],
    ['the DER SPKI bytes', () => spki()],
  ]
  const hashes = [
    ['HS256', 'SHA-256'],
    ['HS384', 'SHA-384'],
    ['HS512', 'SHA-512'],
  ] as const
  const rows = hashes.flatMap(([alg, hash]) =>
    secrets.map(([name, secret]) => [alg, name, hash, secret] as const),
  )

  it.each(rows)('refuses %s keyed with %s', async (alg, _name, hash, secret) => {
    await expectRejected(401, async () =>
      api(await hmacSign(hash, secret(), hdr({ alg }), t.payload)),
    )
  })
})

describe('embedded and remote keys', () => {
  it.each<[string, () => Record<string, unknown>]>([
    ['an embedded attacker jwk', () => ({ jwk: attackerJwk })],
    ['our own public jwk embedded', () => ({ jwk })],
    ['a jku pointing at the attacker', () => ({ jku: 'https://attacker.example/jwks.json' })],
    ['a jku pointing at our own JWKS', () => ({ jku: 'http://127.0.0.1/.well-known/jwks.json' })],
    ['an x5u', () => ({ x5u: 'https://attacker.example/cert.pem' })],
    ['an x5c chain', () => ({ x5c: [spki().toString('base64')] })],
    ['crit', () => ({ crit: ['exp'] })],
    ['b64 false (RFC 7797)', () => ({ b64: false, crit: ['b64'] })],
    ['zip', () => ({ zip: 'DEF' })],
    ['cty JWT (nesting)', () => ({ cty: 'JWT' })],
  ])('refuses %s signed by the attacker', async (_name, extra) => {
    await expectRejected(401, async () =>
      api(await forge('EdDSA', attacker.privateKey, hdr(extra()), t.payload)),
    )
  })
})

describe('kid injection and prototype keys', () => {
  const kids: unknown[] = [
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'hasOwnProperty',
    '../../x',
    '../../../../../../dev/null',
    "' OR '1'='1",
    '1; DROP TABLE users --',
    '*',
    ' ',
    'x'.repeat(257),
    `${'k'.repeat(200)}\u0000`,
  ]
  const rows = kids.flatMap((k) => [
    [k, 'HS256 with an empty secret'] as const,
    [k, 'EdDSA'] as const,
  ])

  it.each(rows)('refuses kid %j (%s)', async (k, how) => {
    await expectRejected(401, async () =>
      api(
        how === 'EdDSA'
          ? await forge('EdDSA', attacker.privateKey, hdr({ kid: k }), t.payload)
          : await hmacSign('SHA-256', new Uint8Array(0), hdr({ alg: 'HS256', kid: k }), t.payload),
      ),
    )
  })

  it.each([42, null, true, ['a'], { k: 1 }, undefined])(
    'refuses a non-string kid %j',
    async (k) => {
      const header: Record<string, unknown> = hdr({ kid: k })
      if (k === undefined) delete header.kid
      await expectRejected(401, async () =>
        api(await forge('EdDSA', attacker.privateKey, header, t.payload)),
      )
    },
  )
})

describe('degenerate, malleated and foreign signatures', () => {
  const ED25519_L = (1n << 252n) + 27742317777372353535851937790883648493n
  const sig = () => unb64url(t.s)
  const withSig = (bytes: Uint8Array) => `${t.h}.${t.p}.${b64url(bytes)}`

  it.each<[string, () => string]>([
    ['an all-zero signature (psychic)', () => withSig(new Uint8Array(64))],
    ['an all-0xff signature', () => withSig(new Uint8Array(64).fill(0xff))],
    [
      'the non-canonical S + L twin of the genuine signature',
      () => {
        const s = sig()
        let S = 0n
        for (let i = 31; i >= 0; i--) S = (S << 8n) | BigInt(s[32 + i] as number)
        let v = S + ED25519_L
        for (let i = 0; i < 32; i++) {
          s[32 + i] = Number(v & 0xffn)
          v >>= 8n
        }
        return withSig(s)
      },
    ],
    ['R and S swapped', () => withSig(Buffer.concat([sig().subarray(32), sig().subarray(0, 32)]))],
    [
      'the identity point as R with S = 0',
      () => withSig(Buffer.concat([Buffer.from([1]), Buffer.alloc(63)])),
    ],
    ['a 63-byte truncation', () => withSig(sig().subarray(0, 63))],
    ['a 65-byte extension', () => withSig(Buffer.concat([sig(), Buffer.from([0])]))],
    [
      'a DER-wrapped signature',
      () =>
        withSig(
          Buffer.concat([
            Buffer.from([0x30, 0x44, 0x02, 0x20]),
            sig().subarray(0, 32),
            Buffer.from([0x02, 0x20]),
            sig().subarray(32),
          ]),
        ),
    ],
    [
      'ES256 r = s = 0 under our kid',
      () => `${b64url(JSON.stringify(hdr({ alg: 'ES256' })))}.${t.p}.${b64url(new Uint8Array(64))}`,
    ],
    [
      'the genuine signature under the other published kid',
      () => `${b64url(JSON.stringify(hdr({ kid: otherKid })))}.${t.p}.${t.s}`,
    ],
  ])('refuses %s', async (_name, make) => {
    await expectRejected(401, () => api(make()))
  })

  it('refuses the signature of another genuine token spliced onto this payload', async () => {
    const other = split((await sessionOf(DEMO.alice)).accessToken)
    await expectRejected(401, () => api(`${t.h}.${t.p}.${other.s}`))
  })
})

describe('signatures from attacker-generated keys', () => {
  it.each<[AttackerAlg, string]>([
    ['EdDSA', 'our current kid'],
    ['EdDSA', 'our other published kid'],
    ['EdDSA', 'its own thumbprint-like kid'],
    ['ES256', 'our current kid'],
    ['RS256', 'our current kid'],
    ['PS256', 'our current kid'],
  ])('refuses %s signed by the attacker under %s', async (alg, which) => {
    const key = alg === 'EdDSA' ? attacker : await attackerKey(alg)
    const k =
      which === 'our current kid'
        ? kid
        : which === 'our other published kid'
          ? otherKid
          : 'attacker-kid-1'
    await expectRejected(401, async () =>
      api(await forge(alg, key.privateKey, hdr({ alg, kid: k }), t.payload)),
    )
  })
})
