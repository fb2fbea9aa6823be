// Signing-key material: generation (Ed25519, or RSA-2048 for RS256), RFC 7638 thumbprint kids,
// and sealing of private keys at rest with AES-256-GCM under a key derived by HKDF from the
// KEY_ENCRYPTION_SECRET. The kid is the AAD, so a sealed key cannot be swapped onto another kid.
// The KeyManager seals; the Worker unseals when it loads the signing key into its isolate, so a
// private key never crosses an RPC boundary in the clear.

import { calculateJwkThumbprint } from 'jose'
import type { SigningAlgorithm } from '../config-auth'
import { decodeBase64Url, encodeBase64Url } from '../verify/base64url'

export interface GeneratedKey {
  readonly kid: string
  readonly alg: SigningAlgorithm
  /** Public JWK with kid, alg and use, as published in the JWKS. */
  readonly publicJwk: JsonWebKey & { kid: string; alg: string; use: 'sig' }
  readonly privateJwk: JsonWebKey
}

const RSA_MODULUS_BITS = 2048
const GCM_IV_BYTES = 12
const HKDF_SALT = 'gatehouse/signing-key-encryption/v1'
const encoder = new TextEncoder()
const decoder = new TextDecoder()

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
    key = (async () => {
      const ikm = await crypto.subtle.importKey('raw', encoder.encode(secret), 'HKDF', false, [
        'deriveKey',
      ])
      return crypto.subtle.deriveKey(
        { name: 'HKDF', hash: 'SHA-256', salt: encoder.encode(HKDF_SALT), info: new Uint8Array(0) },
        ikm,
        { name: 'AES-GCM', length: 256 },
        false,
        ['encrypt', 'decrypt'],
      )
    })()
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
  const iv = crypto.getRandomValues(new Uint8Array(GCM_IV_BYTES))
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: encoder.encode(kid) },
    await wrappingKey(secret),
    encoder.encode(JSON.stringify(jwk)),
  )
  const out = new Uint8Array(GCM_IV_BYTES + sealed.byteLength)
  out.set(iv)
  out.set(new Uint8Array(sealed), GCM_IV_BYTES)
  return encodeBase64Url(out)
}

/** Unseals and imports a private signing key; throws if the secret or kid does not match. */
export async function unsealSigningKey(
  sealed: string,
  kid: string,
  alg: SigningAlgorithm,
  secret: string,
): Promise<CryptoKey> {
  const bytes = decodeBase64Url(sealed)
  if (bytes === null || bytes.length <= GCM_IV_BYTES) throw new Error('sealed key is corrupt')
  const plain = await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: bytes.subarray(0, GCM_IV_BYTES), additionalData: encoder.encode(kid) },
    await wrappingKey(secret),
    bytes.subarray(GCM_IV_BYTES),
  )
  const jwk = JSON.parse(decoder.decode(plain)) as JsonWebKey
  const params =
    alg === 'EdDSA' ? { name: 'Ed25519' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
  return crypto.subtle.importKey('jwk', jwk, params, false, ['sign'])
}
