// Signing keys generated at run time for test issuers; no private key is ever committed.

import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose'

export type TestAlg = 'EdDSA' | 'ES256' | 'RS256' | 'PS256'

export interface TestKey {
  readonly alg: TestAlg
  readonly kid: string
  readonly privateKey: CryptoKey
  readonly publicKey: CryptoKey
  /** The public JWK as an issuer would publish it (with kid, alg, use). */
  readonly jwk: JWK & { kid: string }
}

export async function makeKey(alg: TestAlg = 'EdDSA', kid?: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const jwk = await exportJWK(publicKey)
  const id = kid ?? (await calculateJwkThumbprint(jwk))
  return { alg, kid: id, privateKey, publicKey, jwk: { ...jwk, kid: id, alg, use: 'sig' } }
}
