// A DPoP client for the tests: a key pair (ES256 or EdDSA) and proofs made with jose, with every
// field overridable so a test can break exactly one property of an otherwise valid proof.

import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose'
import { jwkThumbprint } from '../../src/verify/dpop-proof'
import { PUBLIC_URL } from './auth'

export interface DpopKey {
  readonly alg: 'ES256' | 'EdDSA'
  readonly privateKey: CryptoKey
  readonly publicJwk: JWK
  /** RFC 7638 thumbprint: what cnf.jkt must say. */
  readonly jkt: string
}

export async function dpopKey(alg: 'ES256' | 'EdDSA' = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const publicJwk = await exportJWK(publicKey)
  const members: Record<string, string> =
    alg === 'ES256'
      ? { crv: 'P-256', kty: 'EC', x: publicJwk.x as string, y: publicJwk.y as string }
      : { crv: 'Ed25519', kty: 'OKP', x: publicJwk.x as string }
  return { alg, privateKey, publicJwk, jkt: await jwkThumbprint(members) }
}

export interface ProofOptions {
  readonly htm?: string
  /** A path on the test gateway's public URL, or a whole URL. */
  readonly htu?: string
  /** The access token the proof accompanies (sets ath). */
  readonly accessToken?: string
  readonly ath?: string
  readonly jti?: string
  readonly iat?: number
  readonly nonce?: string
  readonly typ?: string
  /** Overrides the protected header's jwk (e.g. with a private member). */
  readonly jwk?: Record<string, unknown>
  readonly header?: Record<string, unknown>
}

const encoder = new TextEncoder()

async function sha256(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)))
  return btoa(String.fromCharCode(...digest))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')
}

/** A proof by `key` for `htm htu` (default POST), fresh jti and iat unless overridden. */
export async function makeProof(key: DpopKey, o: ProofOptions = {}): Promise<string> {
  const htu = o.htu === undefined ? PUBLIC_URL : o.htu.startsWith('/') ? PUBLIC_URL + o.htu : o.htu
  const claims: Record<string, unknown> = {
    htm: o.htm ?? 'POST',
    htu,
    jti: o.jti ?? crypto.randomUUID(),
  }
  if (o.accessToken !== undefined) claims.ath = await sha256(o.accessToken)
  if (o.ath !== undefined) claims.ath = o.ath
  if (o.nonce !== undefined) claims.nonce = o.nonce
  return new SignJWT(claims)
    .setProtectedHeader({
      typ: o.typ ?? 'dpop+jwt',
      alg: key.alg,
      jwk: (o.jwk ?? key.publicJwk) as JWK,
      ...o.header,
    })
    .setIssuedAt(o.iat ?? Math.floor(Date.now() / 1000))
    .sign(key.privateKey)
}

/** The claims of a JWT (no verification: tests read what the gateway minted). */
export function claimsOf(jwt: string): Record<string, unknown> {
  const payload = jwt.split('.')[1] as string
  return JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>
}
