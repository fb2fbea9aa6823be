// Recovery codes: ten one-time codes of 60 random bits each, shown once and stored only as
// SHA-256 hashes. 60 bits is far beyond online guessing under the login throttle, and short
// enough to copy by hand; no slow hash is needed because the codes are random, not chosen.

import { encodeBase64Url } from '../lib/base64url'

export const RECOVERY_CODE_COUNT = 10
/** 12 base32 characters of 5 bits each: 60 bits. */
const RECOVERY_CODE_CHARS = 12
const RECOVERY_CODE_GROUP_CHARS = 4
const RECOVERY_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'
const NORMALIZED_CODE = new RegExp(`^[a-z2-7]{${RECOVERY_CODE_CHARS}}$`)

function newRecoveryCode(): string {
  // 256 is a multiple of 32, so `byte & 31` is uniform: 5 unbiased bits per random byte.
  const bytes = crypto.getRandomValues(new Uint8Array(RECOVERY_CODE_CHARS))
  const chars = [...bytes].map((byte) => RECOVERY_ALPHABET[byte & 31] as string).join('')
  const groups: string[] = []
  for (let i = 0; i < chars.length; i += RECOVERY_CODE_GROUP_CHARS) {
    groups.push(chars.slice(i, i + RECOVERY_CODE_GROUP_CHARS))
  }
  return groups.join('-')
}

/** RECOVERY_CODE_COUNT distinct new codes, each lower-case base32 as `xxxx-xxxx-xxxx`. */
export function newRecoveryCodes(): string[] {
  const codes = new Set<string>()
  while (codes.size < RECOVERY_CODE_COUNT) codes.add(newRecoveryCode())
  return [...codes]
}

/**
 * The canonical form of a typed code: trimmed, lower-case, without spaces or dashes; null unless
 * it is then exactly 12 characters of the base32 alphabet.
 */
export function normalizeRecoveryCode(input: string): string | null {
  const normalized = input.trim().toLowerCase().replace(/[\s-]/g, '')
  return NORMALIZED_CODE.test(normalized) ? normalized : null
}

/** base64url(SHA-256(normalized code)): the only form a recovery code is stored in. */
export async function hashRecoveryCode(normalized: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(normalized))
  return encodeBase64Url(new Uint8Array(digest))
}
