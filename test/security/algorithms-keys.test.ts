// Algorithms and keys: an attacker holding only the public JWKS, tokens of their own session and
// keys of their own cannot get a token accepted — not with alg none, not by HMAC-signing with
// any serialisation of our public key, not by embedding or pointing at a key, not by steering
// the kid, and not with degenerate, malleated or foreign signatures. Algorithm, header-member and
// kid cases are signed by the demo third-party issuer the gateway trusts, over exactly the header
// sent, so only the property under test is wrong; the signature and key-confusion cases keep
// genuine tokens and attacker keys. Every case asserts the reason the gateway logged.

import { beforeAll, describe, it } from 'vitest'
import {
  DEMO,
  DEMO_IDP,
  SUBJECT,
  attackerKey,
  b64url,
  demoIdpClaims,
  demoIdpHeader,
  expectAccepted,
  expectRefused,
  forge,
  hmacSign,
  publishedJwks,
  sessionOf,
  signDemoIdpRaw,
  split,
  unb64url,
  withBearer,
  type AttackerAlg,
  type Refusal,
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

/** A token of the demo issuer, validly signed over exactly this header (merged over its own). */
const demoSigned = (extra: Record<string, unknown>, claims = demoIdpClaims()) =>
  signDemoIdpRaw(demoIdpHeader(extra), claims)

describe('alg none and algorithm names', () => {
  it('accepts the genuine token and a raw-signed demo-issuer token as controls', async () => {
    await expectAccepted(SUBJECT.alice, () => api(token))
    const claims = demoIdpClaims()
    await expectAccepted(claims.sub as string, () => api(demoSigned({}, claims)))
  })

  it.each(['none', 'None', 'NONE', 'nOnE'])(
    'refuses alg %s with an empty signature segment before reading the alg',
    async (alg) => {
      const h = b64url(JSON.stringify(demoIdpHeader({ alg })))
      const p = b64url(JSON.stringify(demoIdpClaims()))
      await expectRefused('malformed', () => api(`${h}.${p}.`), {
        detail: /^not three non-empty segments$/,
      })
    },
  )

  it.each([
    'none',
    'None',
    'Ed25519',
    'ED25519',
    'eddsa',
    'EdDSA ',
    'ES256K',
    'ES256',
    'RS256',
    'PS256',
    'HS256',
  ])(
    "refuses alg %j on a token validly signed by the demo issuer's key (not in its allowlist)",
    async (alg) => {
      await expectRefused('alg_not_allowed', () => api(demoSigned({ alg })), {
        detail: `alg ${alg}`,
      })
    },
  )

  it.each<[string, unknown]>([
    ['an empty alg', ''],
    ['a numeric alg', 42],
    ['an alg array', ['EdDSA']],
    ['no alg', undefined],
  ])('refuses %s as malformed', async (_name, alg) => {
    await expectRefused('malformed', () => api(demoSigned({ alg })), { detail: /^alg missing$/ })
  })
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
    await expectRefused(
      'alg_not_allowed',
      async () => api(await hmacSign(hash, secret(), hdr({ alg }), t.payload)),
      { detail: `alg ${alg}` },
    )
  })

  it.each<[string, () => Uint8Array]>([
    ['the raw x bytes', () => unb64url(DEMO_IDP.publicJwk.x)],
    ['the JWK JSON', () => Buffer.from(JSON.stringify(DEMO_IDP.publicJwk))],
  ])("refuses HS256 keyed with the demo issuer's public key as %s", async (_name, secret) => {
    const header = demoIdpHeader({ alg: 'HS256' })
    await expectRefused(
      'alg_not_allowed',
      async () => api(hmacSign('SHA-256', secret(), header, demoIdpClaims())),
      { detail: 'alg HS256' },
    )
  })
})

describe('embedded and remote keys, crit and processing members', () => {
  it.each<[string, string, () => Record<string, unknown>]>([
    ['an embedded attacker jwk', 'jwk', () => ({ jwk: attackerJwk })],
    ["the demo issuer's own public jwk embedded", 'jwk', () => ({ jwk: DEMO_IDP.publicJwk })],
    [
      'a jku pointing at the attacker',
      'jku',
      () => ({ jku: 'https://attacker.example/jwks.json' }),
    ],
    [
      "a jku pointing at the demo issuer's own JWKS",
      'jku',
      () => ({ jku: `${DEMO_IDP.issuer}/jwks.json` }),
    ],
    ['an x5u', 'x5u', () => ({ x5u: 'https://attacker.example/cert.pem' })],
    ['an x5c chain', 'x5c', () => ({ x5c: [spki().toString('base64')] })],
    ['crit naming a registered claim', 'crit', () => ({ crit: ['exp'] })],
    ['crit naming an unknown extension', 'crit', () => ({ crit: ['urn:x'], 'urn:x': true })],
    ['an empty crit', 'crit', () => ({ crit: [] })],
    ['b64 false with crit (RFC 7797)', 'crit', () => ({ b64: false, crit: ['b64'] })],
    ['b64 true on its own', 'b64', () => ({ b64: true })],
    ['zip', 'zip', () => ({ zip: 'DEF' })],
    ['enc (a JWE marker)', 'enc', () => ({ enc: 'A256GCM' })],
    ['cty JWT (nesting)', 'cty', () => ({ cty: 'JWT' })],
    ['cty at+jwt', 'cty', () => ({ cty: 'at+jwt' })],
  ])(
    "refuses %s on a token validly signed by the demo issuer's key",
    async (_name, member, extra) => {
      await expectRefused('header_not_allowed', () => api(demoSigned(extra())), {
        detail: `header parameter ${member}`,
      })
    },
  )

  it.each<[string, () => Record<string, unknown>]>([
    ['an embedded attacker jwk', () => ({ jwk: attackerJwk })],
    ['a jku pointing at the attacker', () => ({ jku: 'https://attacker.example/jwks.json' })],
  ])('refuses %s on a token the attacker signed with that key', async (_name, extra) => {
    await expectRefused('header_not_allowed', async () =>
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
    'valueOf',
    '../../x',
    '../../../../../../dev/null',
    "' OR '1'='1",
    '1; DROP TABLE users --',
    '*',
    ' ',
    `${'k'.repeat(200)}\u0000`,
  ]

  it.each(kids)('refuses the HS256 kid %j with an empty secret at the algorithm', async (k) => {
    await expectRefused(
      'alg_not_allowed',
      async () =>
        api(hmacSign('SHA-256', new Uint8Array(0), hdr({ alg: 'HS256', kid: k }), t.payload)),
      { detail: 'alg HS256' },
    )
  })

  it.each(kids)(
    "refuses kid %j on a token validly signed by the demo issuer's key: no such key",
    async (k) => {
      await expectRefused('unknown_kid', () => api(demoSigned({ kid: k })))
    },
  )

  it.each<[string, unknown]>([
    ['a 257-character kid', 'x'.repeat(257)],
    ['an empty kid', ''],
    ['a numeric kid', 42],
    ['a null kid', null],
    ['a boolean kid', true],
    ['an array kid', ['a']],
    ['an object kid', { k: 1 }],
    ['no kid', undefined],
  ])('refuses %s on a validly signed token as malformed', async (_name, k) => {
    await expectRefused('malformed', () => api(demoSigned({ kid: k })), {
      detail: /^kid missing or too long$/,
    })
  })
})

describe('degenerate, malleated and foreign signatures', () => {
  const ED25519_L = (1n << 252n) + 27742317777372353535851937790883648493n
  const sig = () => unb64url(t.s)
  const withSig = (bytes: Uint8Array) => `${t.h}.${t.p}.${b64url(bytes)}`

  it.each<[string, () => string, Refusal]>([
    ['an all-zero signature (psychic)', () => withSig(new Uint8Array(64)), 'bad_signature'],
    ['an all-0xff signature', () => withSig(new Uint8Array(64).fill(0xff)), 'bad_signature'],
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
      'bad_signature',
    ],
    [
      'R and S swapped',
      () => withSig(Buffer.concat([sig().subarray(32), sig().subarray(0, 32)])),
      'bad_signature',
    ],
    [
      'the identity point as R with S = 0',
      () => withSig(Buffer.concat([Buffer.from([1]), Buffer.alloc(63)])),
      'bad_signature',
    ],
    ['a 63-byte truncation', () => withSig(sig().subarray(0, 63)), 'bad_signature'],
    [
      'a 65-byte extension',
      () => withSig(Buffer.concat([sig(), Buffer.from([0])])),
      'bad_signature',
    ],
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
      'bad_signature',
    ],
    [
      'ES256 r = s = 0 under our kid',
      () => `${b64url(JSON.stringify(hdr({ alg: 'ES256' })))}.${t.p}.${b64url(new Uint8Array(64))}`,
      'alg_not_allowed',
    ],
    [
      'the genuine signature under the other published kid',
      () => `${b64url(JSON.stringify(hdr({ kid: otherKid })))}.${t.p}.${t.s}`,
      'bad_signature',
    ],
  ])('refuses %s', async (_name, make, reason) => {
    await expectRefused(reason, () => api(make()), {
      detail: reason === 'alg_not_allowed' ? 'alg ES256' : undefined,
    })
  })

  it('refuses the signature of another genuine token spliced onto this payload', async () => {
    const other = split((await sessionOf(DEMO.alice)).accessToken)
    await expectRefused('bad_signature', () => api(`${t.h}.${t.p}.${other.s}`))
  })
})

describe('signatures from attacker-generated keys', () => {
  it.each<[AttackerAlg, string, Refusal]>([
    ['EdDSA', 'our current kid', 'bad_signature'],
    ['EdDSA', 'our other published kid', 'bad_signature'],
    ['EdDSA', 'its own thumbprint-like kid', 'unknown_kid'],
    ['ES256', 'our current kid', 'alg_not_allowed'],
    ['RS256', 'our current kid', 'alg_not_allowed'],
    ['PS256', 'our current kid', 'alg_not_allowed'],
  ])('refuses %s signed by the attacker under %s', async (alg, which, reason) => {
    const key = alg === 'EdDSA' ? attacker : await attackerKey(alg)
    const k =
      which === 'our current kid'
        ? kid
        : which === 'our other published kid'
          ? otherKid
          : 'attacker-kid-1'
    await expectRefused(
      reason,
      async () => api(await forge(alg, key.privateKey, hdr({ alg, kid: k }), t.payload)),
      { detail: reason === 'alg_not_allowed' ? `alg ${alg}` : undefined },
    )
  })

  it("refuses demo-issuer claims signed by the attacker under the demo issuer's kid", async () => {
    await expectRefused('bad_signature', async () =>
      api(await forge('EdDSA', attacker.privateKey, demoIdpHeader(), demoIdpClaims())),
    )
  })
})
