// Token shape and encoding: a token that is not exactly one strict compact JWS — three non-empty
// canonical base64url segments, JSON objects in UTF-8 — is refused by the parser before any key
// is looked at, and no reshaping of a valid token (padding, another alphabet, twin encodings) is
// accepted. Where a case changes the header or payload bytes, the demo issuer signs exactly the
// bytes sent, so a laxer parser would meet a valid signature: only the shape is wrong.

import { beforeAll, describe, expect, it } from 'vitest'
import {
  DEMO,
  DEMO_IDP,
  SUBJECT,
  b64url,
  demoIdpClaims,
  demoIdpHeader,
  expectAccepted,
  expectRefused,
  mintDemoIdp,
  sessionOf,
  signDemoIdpRaw,
  signDemoIdpSegments,
  split,
  unb64url,
  withBearer,
  type Refusal,
} from '../helpers/stack/attack-kit'

let token: string
let t: ReturnType<typeof split>

beforeAll(async () => {
  token = await mintDemoIdp()
  t = split(token)
})

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** The same bytes with a non-zero unused low bit in the last character (a non-canonical twin). */
function twinOf(segment: string): string {
  const last = ALPHABET.indexOf(segment.at(-1) as string)
  return segment.slice(0, -1) + ALPHABET[last ^ 1]
}

/** The first base64url segment `make(n)` (n = 0, 1, …) yields for which `fits` holds. */
function segmentWhere(make: (n: number) => unknown, fits: (segment: string) => boolean): string {
  for (let n = 0; ; n++) {
    const segment = b64url(JSON.stringify(make(n)))
    if (fits(segment)) return segment
  }
}
/** A length that leaves unused low bits in the last character, so a non-canonical twin exists. */
const twinnable = (segment: string) => segment.length % 4 !== 0
const std = (segment: string) => segment.replace(/-/g, '+').replace(/_/g, '/')

const api = (tok: string) => withBearer('/api/echo/x', tok)
const header = () => JSON.stringify(demoIdpHeader())
const payload = () => JSON.stringify(demoIdpClaims())

describe('token shape and encoding', () => {
  it('accepts the untouched demo-issuer token and a genuine token of the gateway', async () => {
    await expectAccepted(t.payload.sub as string, () => api(token))
    const genuine = (await sessionOf(DEMO.alice)).accessToken
    await expectAccepted(SUBJECT.alice, () => api(genuine))
  })

  it('accepts a token the raw signer made from the default header and claims (a control)', async () => {
    const raw = signDemoIdpRaw(demoIdpHeader(), demoIdpClaims({ claims: { sub: 'raw-control' } }))
    await expectAccepted('raw-control', () => api(raw))
  })

  it.each<[string, () => string, Refusal, RegExp?]>([
    ['two segments', () => `${t.h}.${t.p}`, 'malformed', /three non-empty segments/],
    ['four segments', () => `${t.h}.${t.p}.${t.s}.${t.s}`, 'malformed', /more than three/],
    ['an empty header segment', () => `.${t.p}.${t.s}`, 'malformed', /three non-empty segments/],
    ['an empty payload segment', () => `${t.h}..${t.s}`, 'malformed', /three non-empty segments/],
    ['an empty signature segment', () => `${t.h}.${t.p}.`, 'malformed', /three non-empty/],
    ['only dots', () => '..', 'malformed', /three non-empty segments/],
    ['a trailing dot after the signature', () => `${token}.`, 'malformed', /more than three/],
    ['a padded signature (=)', () => `${token}=`, 'malformed', /^signature encoding$/],
    ['a padded signature (==)', () => `${token}==`, 'malformed', /^signature encoding$/],
    [
      'a non-canonical twin of the signature encoding',
      () => `${t.h}.${t.p}.${twinOf(t.s)}`,
      'malformed',
      /^signature encoding$/,
    ],
    [
      'a non-canonical twin of the payload encoding, signed as sent',
      () => {
        const p = segmentWhere((n) => demoIdpClaims({ claims: { pad: 'x'.repeat(n) } }), twinnable)
        return signDemoIdpSegments(b64url(header()), twinOf(p))
      },
      'malformed',
      /^payload encoding$/,
    ],
    [
      'a non-canonical twin of the header encoding, signed as sent',
      () => {
        const h = segmentWhere((n) => demoIdpHeader({ x: 'x'.repeat(n) }), twinnable)
        return signDemoIdpSegments(twinOf(h), b64url(payload()))
      },
      'malformed',
      /^header encoding$/,
    ],
    [
      'a payload in the standard base64 alphabet, signed as sent',
      () => {
        // a claim of '?'s puts 0x3f bytes in the payload, whose base64url has '_' somewhere
        const p = segmentWhere(
          (n) => demoIdpClaims({ claims: { pad: '?'.repeat(n) } }),
          (s) => /[-_]/.test(s),
        )
        return signDemoIdpSegments(b64url(header()), std(p))
      },
      'malformed',
      /^payload encoding$/,
    ],
    [
      'a signature three bytes short',
      () => `${t.h}.${t.p}.${b64url(unb64url(t.s).subarray(0, 61))}`,
      'bad_signature',
    ],
    ['an extended signature segment', () => `${t.h}.${t.p}.${t.s}AAAA`, 'bad_signature'],
    [
      'a header that is not JSON',
      () => signDemoIdpRaw('{alg:EdDSA'),
      'malformed',
      /^header is not/,
    ],
    [
      'a header that is a JSON array',
      () => signDemoIdpRaw('["EdDSA"]'),
      'malformed',
      /^header is not a JSON object$/,
    ],
    [
      'a header that is a JSON string',
      () => signDemoIdpRaw('"EdDSA"'),
      'malformed',
      /^header is not a JSON object$/,
    ],
    [
      'a header that is JSON null',
      () => signDemoIdpRaw('null'),
      'malformed',
      /^header is not a JSON object$/,
    ],
    [
      'a payload that is a JSON array',
      () => signDemoIdpRaw(demoIdpHeader(), '[1,2]'),
      'malformed',
      /^payload is not a JSON object$/,
    ],
    [
      'a payload that is JSON null',
      () => signDemoIdpRaw(demoIdpHeader(), 'null'),
      'malformed',
      /^payload is not a JSON object$/,
    ],
    [
      'a payload with invalid UTF-8',
      () => {
        const json = payload()
        const bytes = Buffer.concat([
          Buffer.from(json.slice(0, -1)),
          Buffer.from(',"x":"'),
          Buffer.from([0xff]),
          Buffer.from('"}'),
        ])
        return signDemoIdpRaw(demoIdpHeader(), bytes)
      },
      'malformed',
      /^payload is not UTF-8 JSON$/,
    ],
    [
      'a header with a byte-order mark',
      () => signDemoIdpRaw(`\ufeff${header()}`),
      'malformed',
      /^header is not UTF-8 JSON$/,
    ],
    [
      'a payload with a byte-order mark',
      () => signDemoIdpRaw(demoIdpHeader(), `\ufeff${payload()}`),
      'malformed',
      /^payload is not UTF-8 JSON$/,
    ],
    [
      'a header whose last duplicate alg member is none (RFC 7515 §4: the last one counts)',
      () =>
        signDemoIdpRaw(
          `{"alg":"EdDSA","kid":${JSON.stringify(DEMO_IDP.kid)},"typ":"at+jwt","alg":"none"}`,
        ),
      'alg_not_allowed',
      /^alg none$/,
    ],
    [
      'the segments swapped (payload first)',
      () => `${t.p}.${t.h}.${t.s}`,
      'malformed',
      /^alg missing$/,
    ],
    ['the header repeated as payload', () => `${t.h}.${t.h}.${t.s}`, 'unknown_issuer'],
    [
      'a JWE-shaped five-part token',
      () => `${t.h}.${t.p}.${t.s}.${t.p}.${t.s}`,
      'malformed',
      /more than three/,
    ],
  ])('refuses %s with 401 before any origin call', async (_name, make, reason, detail) => {
    await expectRefused(reason, () => api(make()), { detail })
  })

  it.each<[string, () => string]>([
    ['whitespace inside the token', () => `${t.h}. ${t.p}.${t.s}`],
    ['a padded header segment', () => `${t.h}=.${t.p}.${t.s}`],
    ['a token quoted like a parameter', () => `"${token}"`],
    ['a comma-joined pair of tokens', () => `${token},${token}`],
    ['characters outside b64token', () => `${t.h}.${t.p}.${t.s}!`],
  ])('refuses %s as an invalid request (400)', async (_name, make) => {
    await expectRefused('invalid_request', () => api(make()), {
      detail: /^not a single Bearer or DPoP credential$/,
    })
  })

  it('refuses a token over 8 KiB without parsing it (400)', async () => {
    const big = signDemoIdpRaw(
      demoIdpHeader(),
      demoIdpClaims({ claims: { pad: 'x'.repeat(9000) } }),
    )
    const res = await expectRefused('token_too_large', () => api(big))
    expect(JSON.parse(res.body)).toEqual({
      error: 'invalid_request',
      error_description: 'The access token is too large',
    })
  })

  it('answers every rejection with the same vague body, never echoing the token', async () => {
    const res = await expectRefused('malformed', () => api(`${t.h}.${t.p}.${twinOf(t.s)}`))
    expect(JSON.parse(res.body)).toEqual({
      error: 'invalid_token',
      error_description: 'The access token is invalid',
    })
    expect(res.body).not.toContain(t.s.slice(0, 20))
  })
})
