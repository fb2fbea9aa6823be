// Signing-key material: generation (Ed25519, or RSA-2048 for RS256), RFC 7638 thumbprint kids,
// and sealing of private keys at rest with AES-256-GCM under a key derived by HKDF from the
// KEY_ENCRYPTION_SECRET. The kid is the AAD, so a sealed key cannot be swapped onto another kid.
// The KeyManager seals; the Worker unseals when it loads the signing key into its isolate, so a
// private key never crosses an RPC boundary in the clear.

import { calculateJwkThumbprint } from 'jose'
import { deriveSealingKey, openSealedText, sealText } from '../lib/symmetric'

/** The algorithms Gatehouse signs its own tokens with. */
export type SigningAlgorithm = 'EdDSA' | 'RS256'

export interface GeneratedKey {
  readonly kid: string
  readonly alg: SigningAlgorithm
  /** Public JWK with kid, alg and use, as published in the JWKS. */
  readonly publicJwk: JsonWebKey & { kid: string; alg: string; use: 'sig' }
  readonly privateJwk: JsonWebKey
}

const RSA_MODULUS_BITS = 2048
const HKDF_SALT = 'gatehouse/signing-key-encryption/v1'

const GENERATE: Record<SigningAlgorithm, SubtleCryptoGenerateKeyAlgorithm> = {
  EdDSA: { name: 'Ed25519' },
  RS256: {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: RSA_MODULUS_BITS,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  },
}

/** Generates a signing key pair; the kid is the public key's SHA-256 JWK thumbprint. */
export async function generateSigningKey(alg: SigningAlgorithm): Promise<GeneratedKey> {
  const pair = (await crypto.subtle.generateKey(GENERATE[alg], true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair
  const pub = (await crypto.subtle.exportKey('jwk', pair.publicKey)) as JsonWebKey
  const priv = (await crypto.subtle.exportKey('jwk', pair.privateKey)) as JsonWebKey
  const kid = await calculateJwkThumbprint(publicMembers(pub), 'sha256')
  return { kid, alg, publicJwk: { ...publicMembers(pub), kid, alg, use: 'sig' }, privateJwk: priv }
}

function publicMembers(jwk: JsonWebKey): JsonWebKey {
  return jwk.kty === 'RSA'
    ? { kty: 'RSA', n: jwk.n, e: jwk.e }
    : ({ kty: jwk.kty, crv: jwk.crv, x: jwk.x } as JsonWebKey)
}

const wrappingKeys = new Map<string, Promise<CryptoKey>>()

function wrappingKey(secret: string): Promise<CryptoKey> {
  let key = wrappingKeys.get(secret)
  if (key === undefined) {
    key = deriveSealingKey(secret, HKDF_SALT)
    wrappingKeys.set(secret, key)
  }
  return key
}

/** Seals a private JWK: base64url(iv ‖ AES-GCM ciphertext), bound to the kid. */
export async function sealPrivateKey(
  jwk: JsonWebKey,
  kid: string,
  secret: string,
): Promise<string> {
  return sealText(await wrappingKey(secret), JSON.stringify(jwk), kid)
}

/** Unseals and imports a private signing key; throws if the secret or kid does not match. */
export async function unsealSigningKey(
  sealed: string,
  kid: string,
  alg: SigningAlgorithm,
  secret: string,
): Promise<CryptoKey> {
  const plain = await openSealedText(await wrappingKey(secret), sealed, kid)
  if (plain === null) throw new Error('sealed key does not open (wrong KEY_ENCRYPTION_SECRET?)')
  const jwk = JSON.parse(plain) as JsonWebKey
  const params =
    alg === 'EdDSA' ? { name: 'Ed25519' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
  return crypto.subtle.importKey('jwk', jwk, params, false, ['sign'])
}
