// TOTP secrets at rest: sealed with AES-256-GCM under a key derived from KEY_ENCRYPTION_SECRET
// (the secret that seals the signing keys) for this purpose alone, and bound to the factor and
// its user, so a sealed secret copied onto another factor row does not open.

import { decodeBase64Url, encodeBase64Url } from '../lib/base64url'
import { deriveSealingKey, openSealedText, sealText } from '../lib/symmetric'

const SALT = 'gatehouse/totp-secret/v1'
const keys = new Map<string, Promise<CryptoKey>>()

function sealingKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret)
  if (key === undefined) {
    key = deriveSealingKey(secret, SALT)
    key.catch(() => keys.delete(secret))
    keys.set(secret, key)
  }
  return key
}

const binding = (factorId: string, userId: string) => `${factorId}\n${userId}`

/** Seals a TOTP secret for one factor of one user. */
export async function sealTotpSecret(
  keyEncryptionSecret: string,
  factorId: string,
  userId: string,
  secret: Uint8Array,
): Promise<string> {
  return sealText(
    await sealingKey(keyEncryptionSecret),
    encodeBase64Url(secret),
    binding(factorId, userId),
  )
}

/** Opens a sealed TOTP secret; null when the key, the factor or the user does not match. */
export async function openTotpSecret(
  keyEncryptionSecret: string,
  factorId: string,
  userId: string,
  sealed: string,
): Promise<Uint8Array | null> {
  const text = await openSealedText(
    await sealingKey(keyEncryptionSecret),
    sealed,
    binding(factorId, userId),
  )
  return text === null ? null : decodeBase64Url(text)
}
