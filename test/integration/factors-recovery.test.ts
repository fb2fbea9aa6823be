// Recovery codes: ten distinct 60-bit codes as xxxx-xxxx-xxxx, the forms a person may type them
// in, and the SHA-256 hash that is all the store keeps.

import { describe, expect, it } from 'vitest'
import {
  RECOVERY_CODE_COUNT,
  hashRecoveryCode,
  newRecoveryCodes,
  normalizeRecoveryCode,
} from '../../src/factors/recovery-codes'

const CODE_FORMAT = /^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/

describe('newRecoveryCodes', () => {
  it('makes ten distinct lower-case base32 codes in three groups of four', () => {
    const codes = newRecoveryCodes()
    expect(codes).toHaveLength(RECOVERY_CODE_COUNT)
    expect(RECOVERY_CODE_COUNT).toBe(10)
    for (const code of codes) expect(code).toMatch(CODE_FORMAT)
    expect(new Set(codes).size).toBe(10)
  })

  it('uses the whole alphabet in every position (random, not a pattern)', () => {
    const seen = Array.from({ length: 12 }, () => new Set<string>())
    for (let i = 0; i < 40; i++) {
      for (const code of newRecoveryCodes()) {
        ;[...code.replace(/-/g, '')].forEach((char, at) => seen[at]?.add(char))
      }
    }
    // 400 draws of 32 symbols: every symbol appears in a position with overwhelming probability.
    for (const symbols of seen) expect(symbols.size).toBe(32)
  })

  it('normalizes each new code to itself without dashes', () => {
    for (const code of newRecoveryCodes()) {
      expect(normalizeRecoveryCode(code)).toBe(code.replace(/-/g, ''))
    }
  })
})

describe('normalizeRecoveryCode', () => {
  it('refuses 0, 1, 8 and 9, which base32 lacks', () => {
    for (const digit of '0189') expect(normalizeRecoveryCode(`k7qm-2x6d-h4t${digit}`)).toBeNull()
  })

  it.each([
    ['k7qm-2x6d-h4tw', 'k7qm2x6dh4tw'],
    ['  K7QM-2X6D-H4TW \n', 'k7qm2x6dh4tw'],
    ['k7qm 2x6d h4tw', 'k7qm2x6dh4tw'],
    ['k7qm2x6dh4tw', 'k7qm2x6dh4tw'],
    ['k-7-q-m-2x6dh4tw', 'k7qm2x6dh4tw'],
  ])('reads %j as %j', (input, expected) => {
    expect(normalizeRecoveryCode(input)).toBe(expected)
  })

  it.each([
    '',
    'k7qm-2x6d-h4t',
    'k7qm-2x6d-h4tww',
    'k7qm-2x6d-h4t1',
    'k7qm-2x6d-h4t0',
    'k7qm_2x6d_h4tw',
    'k7qm-2x6d-h4té',
  ])('refuses %j', (input) => {
    expect(normalizeRecoveryCode(input)).toBeNull()
  })
})

describe('hashRecoveryCode', () => {
  it('is base64url(SHA-256) of the normalized code', async () => {
    // Computed independently: node -e "crypto.createHash('sha256').update(c).digest('base64url')"
    expect(await hashRecoveryCode('k7qm2x6dh4tw')).toBe(
      '_Zbwccx3FTGy2gbaE5PPmTtBBNhg1zAqf3OYdXFZO-Y',
    )
  })

  it('gives every typed form of one code the same hash, and other codes other hashes', async () => {
    const a = normalizeRecoveryCode(' K7QM 2X6D-H4TW') as string
    expect(await hashRecoveryCode(a)).toBe(await hashRecoveryCode('k7qm2x6dh4tw'))
    expect(await hashRecoveryCode('k7qm2x6dh4ta')).not.toBe(await hashRecoveryCode(a))
  })
})
