// Turns a published JWK into verification keys, once per JWKS load, never per request. A key is
// imported only for the algorithms its own kty/crv (and `alg`, when published) allow AND the
// issuer's allowlist names, so a token cannot pick an algorithm the key was not meant for:
// no HMAC ever (kty "oct" is refused), no RSA key used as ECDSA, no EdDSA with a P-256 key.

import type { Algorithm } from './issuer'
import { decodeBase64Url } from '../lib/base64url'

export interface VerificationKey {
  readonly kid: string
  /** One imported CryptoKey per algorithm this key may verify. */
  readonly byAlg: ReadonlyMap<Algorithm, CryptoKey>
  /** Exact signature length in bytes; JWS signatures are fixed-length (RFC 7518 §3.4, §3.3). */
  readonly signatureLength: number
}

interface AlgorithmSpec {
  readonly kty: 'OKP' | 'EC' | 'RSA'
  readonly crv?: string
  readonly importParams: SubtleCryptoImportKeyAlgorithm
  readonly verifyParams: SubtleCryptoSignAlgorithm
  readonly signatureLength?: number
}

const HASH = { 256: 'SHA-256', 384: 'SHA-384', 512: 'SHA-512' } as const

export const ALGORITHM_SPECS: Readonly<Record<Algorithm, AlgorithmSpec>> = {
  EdDSA: {
    kty: 'OKP',
    crv: 'Ed25519',
    importParams: { name: 'Ed25519' },
    verifyParams: { name: 'Ed25519' },
    signatureLength: 64,
  },
  ES256: {
    kty: 'EC',
    crv: 'P-256',
    importParams: { name: 'ECDSA', namedCurve: 'P-256' },
    verifyParams: { name: 'ECDSA', hash: HASH[256] },
    signatureLength: 64,
  },
  ES384: {
    kty: 'EC',
    crv: 'P-384',
    importParams: { name: 'ECDSA', namedCurve: 'P-384' },
    verifyParams: { name: 'ECDSA', hash: HASH[384] },
    signatureLength: 96,
  },
  RS256: rsa('RSASSA-PKCS1-v1_5', 256),
  RS384: rsa('RSASSA-PKCS1-v1_5', 384),
  RS512: rsa('RSASSA-PKCS1-v1_5', 512),
  PS256: rsa('RSA-PSS', 256),
  PS384: rsa('RSA-PSS', 384),
  PS512: rsa('RSA-PSS', 512),
}

function rsa(name: 'RSASSA-PKCS1-v1_5' | 'RSA-PSS', bits: 256 | 384 | 512): AlgorithmSpec {
  return {
    kty: 'RSA',
    importParams: { name, hash: HASH[bits] },
    // RFC 7518 §3.5: PSS salt length equals the hash output length.
    verifyParams: name === 'RSA-PSS' ? { name, saltLength: bits / 8 } : { name },
  }
}

/** RFC 7518 §3.3 requires 2048 bits; smaller moduli are refused, not imported. */
export const MIN_RSA_MODULUS_BYTES = 256
/** Members that only a private or symmetric JWK carries; such a key is never imported. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']

export type JwkRejection =
  | 'not_an_object'
  | 'no_kid'
  | 'private_key'
  | 'not_for_signing'
  | 'no_usable_algorithm'
  | 'weak_rsa'
  | 'import_failed'

/**
 * Imports one JWK for the issuer's allowed algorithms. Returns the key, or the reason it was
 * skipped (a JWKS may legitimately carry encryption keys or algorithms we do not accept).
 */
export async function importVerificationKey(
  jwk: unknown,
  allowed: readonly Algorithm[],
): Promise<VerificationKey | JwkRejection> {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return 'not_an_object'
  const k = jwk as Record<string, unknown>
  if (typeof k.kid !== 'string' || k.kid.length === 0 || k.kid.length > 256) return 'no_kid'
  if (PRIVATE_MEMBERS.some((m) => Object.hasOwn(k, m))) return 'private_key'
  if (k.use !== undefined && k.use !== 'sig') return 'not_for_signing'
  if (k.key_ops !== undefined) {
    if (!Array.isArray(k.key_ops) || !k.key_ops.includes('verify')) return 'not_for_signing'
  }
  const algs = allowed.filter((alg) => fits(alg, k))
  if (algs.length === 0) return 'no_usable_algorithm'
  let signatureLength = ALGORITHM_SPECS[algs[0] as Algorithm].signatureLength ?? 0
  if (k.kty === 'RSA') {
    signatureLength = rsaModulusBytes(k.n)
    if (signatureLength < MIN_RSA_MODULUS_BYTES) return 'weak_rsa'
  }
  const byAlg = new Map<Algorithm, CryptoKey>()
  try {
    for (const alg of algs) {
      const spec = ALGORITHM_SPECS[alg]
      byAlg.set(
        alg,
        await crypto.subtle.importKey('jwk', publicPart(k), spec.importParams, false, ['verify']),
      )
    }
  } catch {
    return 'import_failed'
  }
  return { kid: k.kid, byAlg, signatureLength }
}

function fits(alg: Algorithm, k: Record<string, unknown>): boolean {
  const spec = ALGORITHM_SPECS[alg]
  if (k.kty !== spec.kty) return false
  if (spec.crv !== undefined && k.crv !== spec.crv) return false
  // A published `alg` pins the key to exactly that algorithm (RFC 7517 §4.4).
  return k.alg === undefined || k.alg === alg
}

/** Only the public members go to importKey: no alg/use/key_ops surprises from the source. */
function publicPart(k: Record<string, unknown>): JsonWebKey {
  if (k.kty === 'RSA') return { kty: 'RSA', n: k.n as string, e: k.e as string }
  if (k.kty === 'EC') return { kty: 'EC', crv: k.crv as string, x: k.x as string, y: k.y as string }
  return { kty: 'OKP', crv: k.crv as string, x: k.x as string } as JsonWebKey
}

function rsaModulusBytes(n: unknown): number {
  const bytes = typeof n === 'string' ? decodeBase64Url(n) : null
  if (bytes === null) return 0
  let start = 0
  while (start < bytes.length && bytes[start] === 0) start++ // tolerate a sign byte
  return bytes.length - start
}
