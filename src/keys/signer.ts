// Signing access tokens in the Worker: the current key is fetched from the KeyManager once per
// SIGNING_KEY_CACHE_MS per isolate (single-flight), unsealed here, and kept as a non-extractable
// CryptoKey, so minting a token costs one signature and no Durable Object round trip.

import { SignJWT } from 'jose'
import { unsealSigningKey } from './key-crypto'
import { SIGNING_KEY_CACHE_MS, type SigningAlgorithm, type SigningKeyRecord } from './key-manager'

export interface Signer {
  readonly kid: string
  readonly alg: SigningAlgorithm
  readonly key: CryptoKey
  /** Epoch ms when this isolate loaded it. */
  readonly loadedAt: number
}

/**
 * The isolate's current signer, cached for SIGNING_KEY_CACHE_MS (single-flight). `loadRecord`
 * asks the KeyManager for the sealed current key; `secret` unseals it. One per isolate (wiring).
 */
export class SignerCache {
  private cached: Promise<Signer> | null = null
  private cachedAt = 0

  constructor(
    private readonly loadRecord: () => Promise<SigningKeyRecord>,
    private readonly secret: string,
  ) {}

  /** The current signer at `now` (epoch ms); reloads after SIGNING_KEY_CACHE_MS or forget(). */
  current(now: number): Promise<Signer> {
    if (this.cached === null || now - this.cachedAt > SIGNING_KEY_CACHE_MS) {
      this.cachedAt = now
      const load = this.load(now)
      this.cached = load
      // A failed load must not be cached: the next caller tries again.
      load.catch(() => {
        if (this.cached === load) this.cached = null
      })
    }
    return this.cached
  }

  /** Drops the cached signer (after a rotation in this isolate). */
  forget(): void {
    this.cached = null
  }

  private async load(now: number): Promise<Signer> {
    const record = await this.loadRecord()
    const key = await unsealSigningKey(record.sealed, record.kid, record.alg, this.secret)
    return { kid: record.kid, alg: record.alg, key, loadedAt: now }
  }
}

/** What minting needs of the configuration. */
export interface MintSettings {
  readonly issuer: string
  readonly audience: string
  readonly accessTokenTtlSeconds: number
}

export interface AccessTokenClaims {
  readonly sub: string
  readonly sid: string
  readonly tid: string
  readonly scope: string
  readonly clientId: string
  /** The DPoP key thumbprint the token is bound to (`cnf.jkt`), or null for a bearer token. */
  readonly jkt?: string | null
  /** How the session's user authenticated (RFC 8176 values): `amr`; `acr` follows from it. */
  readonly amr: readonly string[]
  /** When the user last actively authenticated (`auth_time`), epoch seconds. */
  readonly authTime: number
}

/** The acr Gatehouse issues: "mfa" when the methods include a second factor, else "pwd". */
export function acrFor(amr: readonly string[]): 'mfa' | 'pwd' {
  return amr.includes('mfa') ? 'mfa' : 'pwd'
}

export interface MintedAccessToken {
  readonly token: string
  readonly jti: string
  readonly expiresIn: number
  readonly expiresAt: number
}

/**
 * Mints an RFC 9068 access token: header {alg, kid, typ: at+jwt}; claims iss sub aud exp iat jti
 * sid tid scope client_id amr acr auth_time (and cnf when bound), and nothing else.
 */
export async function mintAccessToken(
  signer: Signer,
  settings: MintSettings,
  claims: AccessTokenClaims,
  nowSeconds: number,
): Promise<MintedAccessToken> {
  const iat = Math.floor(nowSeconds)
  const expiresIn = settings.accessTokenTtlSeconds
  // The jti names its session, so an administrator can revoke a token by jti alone: the
  // session row says which subject's RevocationShard holds it.
  const jti = `${claims.sid}.${crypto.randomUUID()}`
  const token = await new SignJWT({
    sid: claims.sid,
    tid: claims.tid,
    scope: claims.scope,
    client_id: claims.clientId,
    amr: claims.amr,
    acr: acrFor(claims.amr),
    auth_time: Math.floor(claims.authTime),
    ...(claims.jkt ? { cnf: { jkt: claims.jkt } } : {}),
  })
    .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'at+jwt' })
    .setIssuer(settings.issuer)
    .setSubject(claims.sub)
    .setAudience(settings.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + expiresIn)
    .setJti(jti)
    .sign(signer.key)
  return { token, jti, expiresIn, expiresAt: iat + expiresIn }
}
