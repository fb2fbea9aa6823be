// Token shape and encoding: a token that is not exactly one strict compact JWS — three non-empty
// canonical base64url segments, JSON objects in UTF-8 — is refused before any key is looked at,
// and no reshaping of a valid token (padding, another alphabet, twin encodings) is accepted.

import { beforeAll, describe, expect, it } from 'vitest'
import {
  DEMO,
  SUBJECT,
  b64url,
  expectAccepted,
  expectRejected,
  sessionOf,
  split,
  withBearer,
} from '../helpers/stack/attack-kit'

let token: string
let t: ReturnType<typeof split>

beforeAll(async () => {
  token = (await sessionOf(DEMO.alice)).accessToken
  t = split(token)
})

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** The same bytes with a non-zero unused low bit in the last character (a non-canonical twin). */
function twinOf(segment: string): string {
  const last = ALPHABET.indexOf(segment.at(-1) as string)
  return segment.slice(0, -1) + ALPHABET[last ^ 1]
}

const enc = (json: string) => b64url(json)

describe('token shape and encoding', () => {
  it('accepts the untouched token and the origin sees alice', async () => {
    await expectAccepted(SUBJECT.alice, () => withBearer('/api/echo/x', token))
  })

  it.each<[string, () => string]>([
    ['two segments', () => `${t.h}.${t.p}`],
    ['four segments', () => `${t.h}.${t.p}.${t.s}.${t.s}`],
    ['an empty header segment', () => `.${t.p}.${t.s}`],
    ['an empty payload segment', () => `${t.h}..${t.s}`],
    ['an empty signature segment', () => `${t.h}.${t.p}.`],
    ['only dots', () => '..'],
    ['a trailing dot after the signature', () => `${token}.`],
    ['a padded signature (=)', () => `${token}=`],
    ['a padded signature (==)', () => `${token}==`],
    ['a non-canonical twin of the signature encoding', () => `${t.h}.${t.p}.${twinOf(t.s)}`],
    ['a non-canonical twin of the payload encoding', () => `${t.h}.${twinOf(t.p)}.${t.s}`],
    [
      'the same bytes in the standard base64 alphabet',
      () => token.replace(/-/g, '+').replace(/_/g, '/'),
    ],
    ['a truncated signature segment', () => `${t.h}.${t.p}.${t.s.slice(0, -4)}`],
    ['an extended signature segment', () => `${t.h}.${t.p}.${t.s}AAAA`],
    ['a header that is not JSON', () => `${enc('{alg:EdDSA')}.${t.p}.${t.s}`],
    ['a header that is a JSON array', () => `${enc('["EdDSA"]')}.${t.p}.${t.s}`],
    ['a header that is a JSON string', () => `${enc('"EdDSA"')}.${t.p}.${t.s}`],
    ['a header that is JSON null', () => `${enc('null')}.${t.p}.${t.s}`],
    ['a payload that is a JSON array', () => `${t.h}.${enc('[1,2]')}.${t.s}`],
    ['a payload that is JSON null', () => `${t.h}.${enc('null')}.${t.s}`],
    [
      'a payload with invalid UTF-8',
      () =>
        `${t.h}.${b64url(Buffer.concat([Buffer.from('{"sub":"'), Buffer.from([0xff]), Buffer.from('"}')]))}.${t.s}`,
    ],
    [
      'a header with a byte-order mark',
      () => `${enc(`\ufeff${JSON.stringify(t.header)}`)}.${t.p}.${t.s}`,
    ],
    [
      'a header with duplicate alg members',
      () =>
        `${enc(`{"alg":"none","kid":${JSON.stringify(t.header.kid)},"typ":"at+jwt","alg":"EdDSA"}`)}.${t.p}.${t.s}`,
    ],
    ['the segments swapped (payload first)', () => `${t.p}.${t.h}.${t.s}`],
    ['the header repeated as payload', () => `${t.h}.${t.h}.${t.s}`],
    ['a JWE-shaped five-part token', () => `${t.h}.${t.p}.${t.s}.${t.p}.${t.s}`],
  ])('refuses %s with 401 before any origin call', async (_name, make) => {
    await expectRejected(401, () => withBearer('/api/echo/x', make()))
  })

  it.each<[string, () => string]>([
    ['whitespace inside the token', () => `${t.h}. ${t.p}.${t.s}`],
    ['a padded header segment', () => `${t.h}=.${t.p}.${t.s}`],
    ['a token quoted like a parameter', () => `"${token}"`],
    ['a comma-joined pair of tokens', () => `${token},${token}`],
    ['characters outside b64token', () => `${t.h}.${t.p}.${t.s}!`],
  ])('refuses %s as an invalid request (400)', async (_name, make) => {
    const res = await expectRejected(400, () => withBearer('/api/echo/x', make()))
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_request"')
  })

  it('refuses a token over 8 KiB without parsing it (400)', async () => {
    const big = `${t.h}.${b64url(JSON.stringify({ ...t.payload, pad: 'x'.repeat(9000) }))}.${t.s}`
    const res = await expectRejected(400, () => withBearer('/api/echo/x', big))
    expect(JSON.parse(res.body)).toEqual({
      error: 'invalid_request',
      error_description: 'The access token is too large',
    })
  })

  it('answers every rejection with the same vague body, never echoing the token', async () => {
    const res = await expectRejected(401, () =>
      withBearer('/api/echo/x', `${t.h}.${t.p}.${twinOf(t.s)}`),
    )
    expect(JSON.parse(res.body)).toEqual({
      error: 'invalid_token',
      error_description: 'The access token is invalid',
    })
    expect(res.body).not.toContain(t.s.slice(0, 20))
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"')
  })
})
