// The symmetric primitives Gatehouse uses in more than one place: HMAC-SHA256 keys imported once
// per secret, and AES-256-GCM sealing under a key derived with HKDF-SHA256 (base64url of
// IV ‖ ciphertext, optionally bound to associated data). Keys derived from long-lived secrets
// are cached per isolate; keys derived from one-off inputs (a refresh token) are not.

import { decodeBase64Url, encodeBase64Url } from './base64url'

const GCM_IV_BYTES = 12
const encoder = new TextEncoder()
const hmacKeys = new Map<string, Promise<CryptoKey>>()
/** The same keys once imported: the hot path signs without awaiting the import again. */
const importedHmacKeys = new Map<string, CryptoKey>()

/** The HMAC-SHA256 signing key for a secret, imported once per isolate. */
export function hmacSigningKey(secret: string): Promise<CryptoKey> {
  let key = hmacKeys.get(secret)
  if (key === undefined) {
    key = crypto.subtle.importKey(
      'raw',
      encoder.encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign'],
    )
    key.then(
      (imported) => importedHmacKeys.set(secret, imported),
      () => hmacKeys.delete(secret), // a failed import is tried again next time
    )
    hmacKeys.set(secret, key)
  }
  return key
}

/** HMAC-SHA256 of `data` under `secret` (the key imported once per isolate). */
export function hmacSign(secret: string, data: Uint8Array): Promise<ArrayBuffer> {
  const key = importedHmacKeys.get(secret)
  if (key !== undefined) return crypto.subtle.sign('HMAC', key, data)
  return hmacSigningKey(secret).then((imported) => crypto.subtle.sign('HMAC', imported, data))
}

/** An AES-256-GCM key derived from `secret` with HKDF-SHA256 and a purpose-specific salt. */
export async function deriveSealingKey(secret: string, salt: string): Promise<CryptoKey> {
  const ikm = await crypto.subtle.importKey('raw', encoder.encode(secret), 'HKDF', false, [
    'deriveKey',
  ])
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: encoder.encode(salt), info: new Uint8Array(0) },
    ikm,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  )
}

/** An HMAC-SHA256 signing key derived from `secret` with HKDF-SHA256 for one purpose (`info`). */
export async function hkdfHmacKey(secret: string, info: string): Promise<CryptoKey> {
  const ikm = await crypto.subtle.importKey('raw', encoder.encode(secret), 'HKDF', false, [
    'deriveKey',
  ])
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: encoder.encode(info) },
    ikm,
    { name: 'HMAC', hash: 'SHA-256', length: 256 },
    false,
    ['sign'],
  )
}

/** Seals text: base64url(iv ‖ AES-GCM ciphertext), bound to `aad` when given. */
export async function sealText(key: CryptoKey, plaintext: string, aad = ''): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(GCM_IV_BYTES))
  const ct = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: encoder.encode(aad) },
    key,
    encoder.encode(plaintext),
  )
  const out = new Uint8Array(GCM_IV_BYTES + ct.byteLength)
  out.set(iv)
  out.set(new Uint8Array(ct), GCM_IV_BYTES)
  return encodeBase64Url(out)
}

/** Opens what sealText sealed; null when the key, the AAD or the bytes do not match. */
export async function openSealedText(
  key: CryptoKey,
  sealed: string,
  aad = '',
): Promise<string | null> {
  const bytes = decodeBase64Url(sealed)
  if (bytes === null || bytes.length <= GCM_IV_BYTES) return null
  try {
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: bytes.subarray(0, GCM_IV_BYTES), additionalData: encoder.encode(aad) },
      key,
      bytes.subarray(GCM_IV_BYTES),
    )
    return new TextDecoder().decode(plain)
  } catch {
    return null
  }
}
