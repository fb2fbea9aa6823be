import { describe, expect, it } from 'vitest'
import {
  base64UrlDecodedLength,
  decodeBase64Url,
  decodeBase64UrlInto,
  encodeBase64Url,
  encodeBase64UrlString,
  isBase64Url,
} from '../../../src/lib/base64url'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** Independent reference: the platform's btoa, then the RFC 4648 §5 substitutions. */
function referenceEncode(bytes: Uint8Array): string {
  let binary = ''
  for (const b of bytes) binary += String.fromCharCode(b)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** Seeded xorshift32, so a failing input can be reproduced from the test name. */
function seededBytes(length: number, seed: number): Uint8Array {
  let x = seed * 2654435761 + 1 || 1
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

const LENGTHS_1_TO_70 = Array.from({ length: 70 }, (_, i) => i + 1)

/** Inputs that are not canonical unpadded base64url, each with what is wrong with it. */
const NOT_CANONICAL: readonly (readonly [string, string])[] = [
  ['padding after two characters', '_w=='],
  ['padding after three characters', '__8='],
  ['a single padding character in a full block', 'QUJ='],
  ['a space', 'QU JD'],
  ['a leading space', ' QUJD'],
  ['a trailing newline', 'QUJD\n'],
  ['a tab', 'QU\tJD'],
  ['a carriage return', 'QUJD\rQQ'],
  ['a space where it keeps the length valid', 'QUJD QUJ'],
  ['a trailing space after a full block', 'QUJD   '],
  ['a padded block and more', 'QQ==QUJD'],
  ['standard-alphabet +', 'a+bc'],
  ['standard-alphabet /', 'ab/c'],
  ['a non-ASCII letter', 'QUJÜ'],
  ['a character whose low byte is a valid letter', 'QUJ\u0141'],
  ['an emoji', 'QU😀'],
  ['a NUL', 'QU\u0000D'],
  ['a dot', 'QU.D'],
  ['a length of 1 mod 4', 'QUJDR'],
  ['a non-canonical last character', '_x'],
]

describe('encodeBase64Url', () => {
  it.each(LENGTHS_1_TO_70)('matches the btoa reference for %i random bytes', (length) => {
    const bytes = seededBytes(length, length)
    expect(encodeBase64Url(bytes)).toBe(referenceEncode(bytes))
  })

  it('encodes zero bytes as the empty string', () => {
    expect(encodeBase64Url(new Uint8Array(0))).toBe('')
  })

  it('uses - and _ instead of + and /, without padding', () => {
    expect(encodeBase64Url(Uint8Array.of(0xfb, 0xff))).toBe('-_8')
    expect(encodeBase64Url(Uint8Array.of(0xff))).toBe('_w')
  })

  it('encodes the UTF-8 bytes of a string', () => {
    expect(encodeBase64UrlString('José')).toBe(referenceEncode(new TextEncoder().encode('José')))
    expect(encodeBase64UrlString('{"alg":"EdDSA"}')).toBe('eyJhbGciOiJFZERTQSJ9')
  })
})

describe('decodeBase64Url', () => {
  it.each(LENGTHS_1_TO_70)('round-trips %i random bytes', (length) => {
    const bytes = seededBytes(length, length + 1000)
    const decoded = decodeBase64Url(encodeBase64Url(bytes))
    expect(decoded).not.toBeNull()
    expect(Array.from(decoded ?? [])).toEqual(Array.from(bytes))
  })

  // Regression: '' is the canonical encoding of zero bytes and must decode to them.
  it('round-trips zero bytes', () => {
    const decoded = decodeBase64Url(encodeBase64Url(new Uint8Array(0)))
    expect(decoded).not.toBeNull()
    expect(decoded?.length).toBe(0)
  })

  it('decodes the whole alphabet to the bytes the reference encoder maps it from', () => {
    const bytes = decodeBase64Url(ALPHABET)
    expect(bytes).not.toBeNull()
    expect(referenceEncode(bytes ?? new Uint8Array(0))).toBe(ALPHABET)
  })

  it.each(NOT_CANONICAL)('rejects %s', (_label, input) => {
    expect(decodeBase64Url(input)).toBeNull()
  })

  it.each(['A', 'AAAAA', 'QUJDR'])('rejects %j, whose length is 1 mod 4', (input) => {
    expect(decodeBase64Url(input)).toBeNull()
  })

  it('accepts the canonical encoding of 0xff and rejects its twin with set unused bits', () => {
    expect(Array.from(decodeBase64Url('_w') ?? [])).toEqual([0xff])
    expect(decodeBase64Url('_x')).toBeNull()
  })

  it('accepts the canonical encoding of 0xffff and rejects its twin with set unused bits', () => {
    expect(Array.from(decodeBase64Url('__8') ?? [])).toEqual([0xff, 0xff])
    expect(decodeBase64Url('__9')).toBeNull()
  })

  // Every last character with any of its 4 (or 2) unused low bits set is a non-canonical twin.
  const twoCharTails = [...ALPHABET].filter((_, i) => (i & 15) !== 0)
  const threeCharTails = [...ALPHABET].filter((_, i) => (i & 3) !== 0)

  it.each(twoCharTails)('rejects the non-canonical one-byte tail "A%s"', (last) => {
    expect(decodeBase64Url(`QUJDA${last}`)).toBeNull()
  })

  it.each(threeCharTails)('rejects the non-canonical two-byte tail "AA%s"', (last) => {
    expect(decodeBase64Url(`QUJDAA${last}`)).toBeNull()
  })

  it('accepts every canonical tail', () => {
    for (const [i, ch] of [...ALPHABET].entries()) {
      if ((i & 15) === 0) expect(decodeBase64Url(`QUJDA${ch}`)).not.toBeNull()
      if ((i & 3) === 0) expect(decodeBase64Url(`QUJDAA${ch}`)).not.toBeNull()
    }
  })
})

describe('decodeBase64UrlInto', () => {
  it.each(LENGTHS_1_TO_70)(
    'writes %i random bytes where decodeBase64Url would return them',
    (length) => {
      const bytes = seededBytes(length, length + 2000)
      const target = new Uint8Array(length + 8).fill(0xaa)
      const written = decodeBase64UrlInto(encodeBase64Url(bytes), target.subarray(3))
      expect(written).toBe(length)
      expect(Array.from(target.subarray(3, 3 + length))).toEqual(Array.from(bytes))
      expect(target[2]).toBe(0xaa) // nothing before the view
      expect(target[3 + length]).toBe(0xaa) // nothing after the bytes
    },
  )

  it('writes zero bytes for the empty string', () => {
    expect(decodeBase64UrlInto('', new Uint8Array(4))).toBe(0)
  })

  it.each(NOT_CANONICAL)('rejects %s', (_label, input) => {
    expect(decodeBase64UrlInto(input, new Uint8Array(64))).toBe(-1)
  })

  it('rejects input whose bytes do not fit in the target', () => {
    const encoded = encodeBase64Url(seededBytes(10, 7))
    expect(decodeBase64UrlInto(encoded, new Uint8Array(9))).toBe(-1)
    expect(decodeBase64UrlInto(encoded, new Uint8Array(10))).toBe(10)
  })

  it('rejects every non-canonical tail that decodeBase64Url rejects', () => {
    for (const ch of ALPHABET) {
      for (const input of [`QUJDA${ch}`, `QUJDAA${ch}`]) {
        const ok = decodeBase64Url(input) !== null
        expect(decodeBase64UrlInto(input, new Uint8Array(8)) >= 0).toBe(ok)
      }
    }
  })
})

describe('isBase64Url and base64UrlDecodedLength', () => {
  it.each(NOT_CANONICAL)('isBase64Url rejects %s', (_label, input) => {
    expect(isBase64Url(input)).toBe(false)
  })

  it.each(LENGTHS_1_TO_70)(
    'accept the encoding of %i bytes and give its decoded length',
    (length) => {
      const encoded = encodeBase64Url(seededBytes(length, length + 3000))
      expect(isBase64Url(encoded)).toBe(true)
      expect(base64UrlDecodedLength(encoded.length)).toBe(length)
    },
  )
})
