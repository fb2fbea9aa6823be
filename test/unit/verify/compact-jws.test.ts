import { describe, expect, it } from 'vitest'
import { AuthError, type Reason } from '../../../src/lib/errors'
import { MAX_TOKEN_LENGTH, parseCompactJws } from '../../../src/verify/compact-jws'

// Tokens are assembled by hand with a btoa-based encoder, independent of src/verify/base64url.
function b64(input: string | Uint8Array): string {
  const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input
  let binary = ''
  for (const b of bytes) binary += String.fromCharCode(b)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function padded(input: string | Uint8Array): string {
  const unpadded = b64(input)
  return unpadded + '='.repeat((4 - (unpadded.length % 4)) % 4)
}

const seg = (value: unknown): string => b64(JSON.stringify(value))

const HEADER = { alg: 'EdDSA', kid: 'key-1', typ: 'at+jwt' }
const PAYLOAD = { iss: 'https://issuer.test', sub: 'user-1', exp: 1_700_000_300 }
const SIGNATURE_BYTES = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff)
const H = seg(HEADER)
const P = seg(PAYLOAD)
const S = b64(SIGNATURE_BYTES) // 64 bytes: 86 characters, 4 unused bits in the last one

const withHeader = (header: unknown): string => `${seg(header)}.${P}.${S}`

/** Runs the parser and returns the AuthError reason, failing the test on any other outcome. */
function reasonOf(token: string): Reason {
  try {
    parseCompactJws(token)
  } catch (err) {
    expect(err).toBeInstanceOf(AuthError)
    return (err as AuthError).reason
  }
  throw new Error('expected parseCompactJws to throw')
}

/** Changes the last character to one that differs only in bits the decoder must see as unused. */
function withUnusedBitsSet(segment: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const last = alphabet.indexOf(segment.slice(-1))
  return segment.slice(0, -1) + alphabet[last | 1]
}

describe('parseCompactJws: a well-formed token', () => {
  it('returns alg, kid and typ from the header', () => {
    expect(parseCompactJws(`${H}.${P}.${S}`).header).toEqual(HEADER)
  })

  it('returns typ null when the header has none', () => {
    const { header } = parseCompactJws(withHeader({ alg: 'ES256', kid: 'k' }))
    expect(header).toEqual({ alg: 'ES256', kid: 'k', typ: null })
  })

  it('ignores unknown header parameters and returns only alg, kid and typ', () => {
    const { header } = parseCompactJws(withHeader({ ...HEADER, 'x-extra': 1 }))
    expect(header).toEqual(HEADER)
  })

  it('returns the decoded payload object', () => {
    expect(parseCompactJws(`${H}.${P}.${S}`).payload).toEqual(PAYLOAD)
  })

  it('returns the ASCII bytes of "header.payload" as the signing input', () => {
    const { signingInput } = parseCompactJws(`${H}.${P}.${S}`)
    const expected = Array.from(`${H}.${P}`, (c) => c.charCodeAt(0))
    expect(Array.from(signingInput)).toEqual(expected)
  })

  it('returns the decoded signature bytes', () => {
    const { signature } = parseCompactJws(`${H}.${P}.${S}`)
    expect(Array.from(signature)).toEqual(Array.from(SIGNATURE_BYTES))
  })

  it('decodes a UTF-8 payload', () => {
    const { payload } = parseCompactJws(`${H}.${seg({ sub: 'José' })}.${S}`)
    expect(payload.sub).toBe('José')
  })

  it(`accepts a token of exactly ${MAX_TOKEN_LENGTH} characters`, () => {
    // An unpadded base64url length is never 1 mod 4, so grow the payload until the rest fits.
    let prefix = `${H}.${P}.`
    for (let n = 1; (MAX_TOKEN_LENGTH - prefix.length) % 4 === 1; n++) {
      prefix = `${H}.${seg({ ...PAYLOAD, pad: 'x'.repeat(n) })}.`
    }
    const rest = MAX_TOKEN_LENGTH - prefix.length
    const signature = b64(new Uint8Array(Math.floor((rest * 3) / 4)))
    const token = prefix + signature
    expect(token.length).toBe(MAX_TOKEN_LENGTH)
    expect(() => parseCompactJws(token)).not.toThrow()
  })

  it('accepts a kid of 256 characters', () => {
    expect(
      parseCompactJws(withHeader({ ...HEADER, kid: 'k'.repeat(256) })).header.kid,
    ).toHaveLength(256)
  })
})

describe('parseCompactJws: segment structure', () => {
  it.each([
    ['two segments', `${H}.${P}`],
    ['four segments', `${H}.${P}.${S}.${S}`],
    ['one segment', H],
    ['an empty header segment', `.${P}.${S}`],
    ['an empty payload segment', `${H}..${S}`],
    ['an empty signature segment', `${H}.${P}.`],
    ['only dots', '..'],
    ['an empty token', ''],
    ['a padded header segment', `${padded(JSON.stringify(HEADER))}.${P}.${S}`],
    ['a padded payload segment', `${H}.${padded(JSON.stringify(PAYLOAD))}.${S}`],
    ['a padded signature segment', `${H}.${P}.${padded(SIGNATURE_BYTES)}`],
    ['a space inside the header', `${H.slice(0, 5)} ${H.slice(5)}.${P}.${S}`],
    ['a newline inside the payload', `${H}.${P.slice(0, 5)}\n${P.slice(5)}.${S}`],
    ['a trailing space', `${H}.${P}.${S} `],
    ['standard base64 characters', `${H}.${P}.${btoa('\xfb\xff\xfb\xff').replace(/=+$/, '')}`],
    ['a non-canonical signature encoding', `${H}.${P}.${withUnusedBitsSet(S)}`],
    [
      'a non-canonical header encoding',
      `${withUnusedBitsSet(seg({ ...HEADER, kid: 'k1' }))}.${P}.${S}`,
    ],
  ])('rejects %s as malformed', (_label, token) => {
    expect(reasonOf(token)).toBe('malformed')
  })

  it('builds its non-canonical cases from twins a lenient decoder maps to the same bytes', () => {
    // Guards the two cases above: atob ignores unused bits, so only the canonical check rejects.
    const lenient = (text: string) =>
      Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0))
    expect(withUnusedBitsSet(S)).not.toBe(S)
    expect(lenient(withUnusedBitsSet(S))).toEqual(Array.from(SIGNATURE_BYTES))
    const header = seg({ ...HEADER, kid: 'k1' })
    expect(lenient(withUnusedBitsSet(header))).toEqual(lenient(header))
  })

  it(`rejects a token longer than ${MAX_TOKEN_LENGTH} characters as token_too_large`, () => {
    expect(reasonOf('a'.repeat(MAX_TOKEN_LENGTH + 1))).toBe('token_too_large')
    const filler = 'x'.repeat(MAX_TOKEN_LENGTH)
    expect(reasonOf(`${H}.${seg({ ...PAYLOAD, filler })}.${S}`)).toBe('token_too_large')
  })
})

describe('parseCompactJws: header and payload JSON', () => {
  const utf8Bom = Uint8Array.of(
    0xef,
    0xbb,
    0xbf,
    ...new TextEncoder().encode(JSON.stringify(HEADER)),
  )

  it.each([
    ['a header that is not JSON', `${b64('not json')}.${P}.${S}`],
    ['a header that is a JSON array', withHeader([HEADER])],
    ['a header that is JSON null', withHeader(null)],
    ['a header that is a JSON string', withHeader('EdDSA')],
    ['a header that is a JSON number', withHeader(42)],
    ['a header with invalid UTF-8', `${b64(Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d))}.${P}.${S}`],
    [
      'a header with an overlong UTF-8 sequence',
      `${b64(Uint8Array.of(0x7b, 0xc0, 0xaf, 0x7d))}.${P}.${S}`,
    ],
    ['a header prefixed with a UTF-8 BOM', `${b64(utf8Bom)}.${P}.${S}`],
    ['a payload that is not JSON', `${H}.${b64('{"sub":')}.${S}`],
    ['a payload that is a JSON array', `${H}.${seg([PAYLOAD])}.${S}`],
    ['a payload that is JSON null', `${H}.${seg(null)}.${S}`],
    ['a payload that is a JSON string', `${H}.${seg('user-1')}.${S}`],
    ['a payload that is a JSON number', `${H}.${seg(1)}.${S}`],
    ['a payload with invalid UTF-8', `${H}.${b64(Uint8Array.of(0x7b, 0x80, 0x7d))}.${S}`],
  ])('rejects %s as malformed', (_label, token) => {
    expect(reasonOf(token)).toBe('malformed')
  })
})

describe('parseCompactJws: header parameters', () => {
  it.each([
    ['a missing alg', { kid: 'k', typ: 'at+jwt' }],
    ['an empty alg', { alg: '', kid: 'k' }],
    ['a non-string alg', { alg: 1, kid: 'k' }],
    ['a missing kid', { alg: 'EdDSA', typ: 'at+jwt' }],
    ['an empty kid', { alg: 'EdDSA', kid: '' }],
    ['a numeric kid', { alg: 'EdDSA', kid: 7 }],
    ['a kid longer than 256 characters', { alg: 'EdDSA', kid: 'k'.repeat(257) }],
    ['a numeric typ', { ...HEADER, typ: 1 }],
    ['a null typ', { ...HEADER, typ: null }],
    ['an array typ', { ...HEADER, typ: ['at+jwt'] }],
  ])('rejects %s as malformed', (_label, header) => {
    expect(reasonOf(withHeader(header))).toBe('malformed')
  })

  it.each(['jku', 'x5u', 'jwk', 'x5c', 'crit', 'b64', 'zip', 'enc', 'cty'])(
    'rejects the %s header parameter as header_not_allowed',
    (name) => {
      expect(reasonOf(withHeader({ ...HEADER, [name]: 'x' }))).toBe('header_not_allowed')
    },
  )

  it('rejects a forbidden header parameter whatever its value', () => {
    expect(reasonOf(withHeader({ ...HEADER, b64: false }))).toBe('header_not_allowed')
    expect(reasonOf(withHeader({ ...HEADER, crit: [] }))).toBe('header_not_allowed')
    expect(reasonOf(withHeader({ ...HEADER, jwk: null }))).toBe('header_not_allowed')
  })
})
