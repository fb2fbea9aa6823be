// Signing access tokens in the Worker: the current key is fetched from the KeyManager once per
// SIGNING_KEY_CACHE_MS per isolate (single-flight), unsealed here, and kept as a non-extractable
// CryptoKey, so minting a token costs one signature and no Durable Object round trip.

import { SignJWT } from 'jose'
import type { Config } from '../config/config'
import type { SigningAlgorithm } from '../config/auth'
import type { Env } from '../config/env'
import { unsealSigningKey } from './key-crypto'
import { SIGNING_KEY_CACHE_MS, getKeyManager, keyManagerSettings } from './key-manager'

export interface Signer {
  readonly kid: string
  readonly alg: SigningAlgorithm
  readonly key: CryptoKey
  /** Epoch ms when this isolate loaded it. */
  readonly loadedAt: number
}

let cached: Promise<Signer> | null = null
let cachedAt = 0

/** The isolate's current signer; reloads after SIGNING_KEY_CACHE_MS or after forgetSigner(). */
export function currentSigner(env: Env, config: Config, now = Date.now()): Promise<Signer> {
  if (cached === null || now - cachedAt > SIGNING_KEY_CACHE_MS) {
    cachedAt = now
    const load = loadSigner(env, config, now)
    cached = load
    // A failed load must not be cached: the next caller tries again.
    load.catch(() => {
      if (cached === load) cached = null
    })
  }
  return cached
}

/** Drops the cached signer (after a rotation in this isolate). */
export function forgetSigner(): void {
  cached = null
}

async function loadSigner(env: Env, config: Config, now: number): Promise<Signer> {
  const record = await getKeyManager(env).signingKey(keyManagerSettings(config))
  const key = await unsealSigningKey(
    record.sealed,
    record.kid,
    record.alg,
    config.auth.keyEncryptionSecret,
  )
  return { kid: record.kid, alg: record.alg, key, loadedAt: now }
}

export interface AccessTokenClaims {
  readonly sub: string
  readonly sid: string
  readonly tid: string
  readonly scope: string
  readonly clientId: string
}

export interface MintedAccessToken {
  readonly token: string
  readonly jti: string
  readonly expiresIn: number
  readonly expiresAt: number
}

/**
 * Mints an RFC 9068 access token: header {alg, kid, typ: at+jwt}; claims iss sub aud exp iat jti
 * sid tid scope client_id, and nothing else.
 */
export async function mintAccessToken(
  signer: Signer,
  config: Config,
  claims: AccessTokenClaims,
  nowSeconds: number,
): Promise<MintedAccessToken> {
  const iat = Math.floor(nowSeconds)
  const expiresIn = config.auth.accessTokenTtlSeconds
  // The jti names its session, so an administrator can revoke a token by jti alone: the
  // session row says which subject's RevocationShard holds it.
  const jti = `${claims.sid}.${crypto.randomUUID()}`
  const token = await new SignJWT({
    sid: claims.sid,
    tid: claims.tid,
    scope: claims.scope,
    client_id: claims.clientId,
  })
    .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'at+jwt' })
    .setIssuer(config.auth.issuer)
    .setSubject(claims.sub)
    .setAudience(config.auth.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + expiresIn)
    .setJti(jti)
    .sign(signer.key)
  return { token, jti, expiresIn, expiresAt: iat + expiresIn }
}
