// Password hashing with the scheme and parameters stored beside every hash, so a login can
// verify an old hash and upgrade it to the current policy. Argon2id at OWASP's parameters is the
// default; PBKDF2-SHA256 is a documented fallback whose iteration count is capped at 100 000 in
// code, because production workerd refuses more (locally it would silently work).
// The password is first keyed with the pepper — HMAC-SHA256(pepper, UTF-8 bytes) — so every
// byte counts whatever its length or script (no trimming, no truncation), a database leak
// without the pepper is useless, and Argon2 always hashes 43 ASCII characters.

import { decodeBase64Url, encodeBase64Url } from '../lib/base64url'
import { hmacSigningKey } from '../lib/symmetric'
import { argon2 } from './argon2'

export type PasswordScheme = 'argon2id' | 'pbkdf2-sha256'

export interface StoredPassword {
  readonly scheme: PasswordScheme
  /** JSON of the scheme's parameters, e.g. {"m":19456,"t":2,"p":1}. */
  readonly params: string
  readonly hash: string
}

/** OWASP Password Storage Cheat Sheet: Argon2id, m = 19 MiB, t = 2, p = 1. */
export const ARGON2_PARAMS = { m: 19_456, t: 2, p: 1 } as const
/** Production workerd rejects PBKDF2 above 100 000 iterations. */
export const PBKDF2_MAX_ITERATIONS = 100_000
const SALT_BYTES = 16
const HASH_BYTES = 32

const encoder = new TextEncoder()
async function peppered(password: string, pepper: string): Promise<string> {
  const mac = await crypto.subtle.sign(
    'HMAC',
    await hmacSigningKey(pepper),
    encoder.encode(password),
  )
  return encodeBase64Url(new Uint8Array(mac))
}

/** Hashes with the current policy (Argon2id). */
export async function hashPassword(password: string, pepper: string): Promise<StoredPassword> {
  const a = await argon2()
  const { encoded } = a.hash(await peppered(password, pepper), {
    memoryCost: ARGON2_PARAMS.m,
    timeCost: ARGON2_PARAMS.t,
    parallelism: ARGON2_PARAMS.p,
    hashLength: HASH_BYTES,
  })
  return { scheme: 'argon2id', params: JSON.stringify(ARGON2_PARAMS), hash: encoded }
}

/** Hashes with PBKDF2-SHA256 (the fallback); throws if iterations exceed the platform cap. */
export async function hashPasswordPbkdf2(
  password: string,
  pepper: string,
  iterations = PBKDF2_MAX_ITERATIONS,
): Promise<StoredPassword> {
  assertPbkdf2Iterations(iterations)
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES))
  const derived = await pbkdf2(await peppered(password, pepper), salt, iterations)
  return {
    scheme: 'pbkdf2-sha256',
    params: JSON.stringify({ i: iterations }),
    hash: `$pbkdf2-sha256$i=${iterations}$${encodeBase64Url(salt)}$${encodeBase64Url(derived)}`,
  }
}

export interface PasswordCheck {
  readonly ok: boolean
  /** True when the hash should be replaced with one at the current policy. */
  readonly needsRehash: boolean
}

/** Verifies a password against a stored hash of any supported scheme. */
export async function verifyPassword(
  stored: StoredPassword,
  password: string,
  pepper: string,
): Promise<PasswordCheck> {
  const input = await peppered(password, pepper)
  if (stored.scheme === 'argon2id') {
    const ok = (await argon2()).tryVerify(stored.hash, input).success
    return { ok, needsRehash: ok && stored.params !== JSON.stringify(ARGON2_PARAMS) }
  }
  const m = /^\$pbkdf2-sha256\$i=(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(stored.hash)
  const salt = m ? decodeBase64Url(m[2] as string) : null
  const expected = m ? decodeBase64Url(m[3] as string) : null
  const iterations = m ? Number(m[1]) : 0
  if (salt === null || expected === null || iterations > PBKDF2_MAX_ITERATIONS || iterations < 1) {
    return { ok: false, needsRehash: false }
  }
  const derived = await pbkdf2(input, salt, iterations)
  const ok = constantTimeEqual(derived, expected)
  return { ok, needsRehash: ok } // any PBKDF2 hash is upgraded to Argon2id on login
}

/**
 * A hash no password matches, at the current policy: verified against when the user does not
 * exist, so an unknown username costs exactly one Argon2 run, like a wrong password.
 */
export const DUMMY_PASSWORD: StoredPassword = {
  scheme: 'argon2id',
  params: JSON.stringify(ARGON2_PARAMS),
  hash: `$argon2id$v=19$m=${ARGON2_PARAMS.m},t=${ARGON2_PARAMS.t},p=${ARGON2_PARAMS.p}$Z2F0ZWhvdXNlLWR1bW15$bm8tcGFzc3dvcmQtd2lsbC1ldmVyLW1hdGNoLXRoaXM`,
}

export function assertPbkdf2Iterations(iterations: number): void {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > PBKDF2_MAX_ITERATIONS) {
    throw new RangeError(`PBKDF2 iterations must be 1..${PBKDF2_MAX_ITERATIONS} (workerd's cap)`)
  }
}

async function pbkdf2(input: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  assertPbkdf2Iterations(iterations)
  const key = await crypto.subtle.importKey('raw', encoder.encode(input), 'PBKDF2', false, [
    'deriveBits',
  ])
  const bits = await crypto.subtle.deriveBits(
    { name: 'PBKDF2', hash: 'SHA-256', salt, iterations },
    key,
    HASH_BYTES * 8,
  )
  return new Uint8Array(bits)
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number)
  return diff === 0
}
