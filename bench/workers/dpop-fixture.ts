// The DPoP side of the profile fixture (bench only, never deployed): one proof key per algorithm,
// an access token of the bench issuer bound to each (cnf.jkt) and otherwise the very claims of
// the fixture's Bearer token, and pools of fresh proofs (unique jti, current iat) that requests
// take one at a time, so no proof is ever presented twice and the gateway's single-use check
// passes on every request. Proofs are signed in an untimed request, never inside a timed one.

import { SignJWT, exportJWK, type JWK } from 'jose'
import { accessTokenHash, jwkThumbprint } from '../../src/verify/dpop-proof'
import { BENCH_ISSUER, ECHO_URL, type Fixture, type IncomingRequest } from './profile-fixture'

export const PROOF_ALGS = ['ES256', 'EdDSA'] as const
export type ProofAlg = (typeof PROOF_ALGS)[number]

/** Token lifetime: far longer than a run, inside the issuer's maximum. */
const TOKEN_TTL_SECONDS = 900

export interface ProofClient {
  readonly alg: ProofAlg
  readonly privateKey: CryptoKey
  readonly publicJwk: JWK
  /** The key's RFC 7638 members, as the gateway checks them. */
  readonly members: Record<string, string>
  readonly jkt: string
  /** An access token bound to this key (cnf.jkt). */
  readonly token: string
  /** The proofs' `ath`: SHA-256 of `token`. */
  readonly ath: string
  /** One valid proof for GET ECHO_URL, for steps that verify without claiming. */
  readonly sampleProof: string
}

async function newKeyPair(alg: ProofAlg): Promise<CryptoKeyPair> {
  const params = alg === 'ES256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'Ed25519' }
  return (await crypto.subtle.generateKey(params, true, ['sign', 'verify'])) as CryptoKeyPair
}

/** The fixture's token claims (profile-fixture.ts), bound to `jkt`. */
async function boundToken(fx: Fixture, jkt: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({
    sid: 'sess-profile-0001',
    tid: 'bench',
    scope: 'echo:read echo:write',
    client_id: 'gatehouse-mobile',
    cnf: { jkt },
  })
    .setProtectedHeader({ alg: 'EdDSA', kid: 'profile-key', typ: 'at+jwt' })
    .setIssuer(BENCH_ISSUER)
    .setSubject('usr_profile_0001')
    .setAudience('bench-api')
    .setIssuedAt(now)
    .setExpirationTime(now + TOKEN_TTL_SECONDS)
    .setJti(crypto.randomUUID())
    .sign(fx.signingKey)
}

/** A proof by `client` for GET ECHO_URL, as a client library makes one per request. */
export function makeProof(client: Omit<ProofClient, 'sampleProof'>): Promise<string> {
  return new SignJWT({ htm: 'GET', htu: ECHO_URL, jti: crypto.randomUUID(), ath: client.ath })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: client.alg, jwk: client.publicJwk })
    .setIssuedAt(Math.floor(Date.now() / 1000))
    .sign(client.privateKey)
}

/** A key pair of `alg`, its thumbprint and a token bound to it. */
export async function makeProofClient(fx: Fixture, alg: ProofAlg): Promise<ProofClient> {
  const pair = await newKeyPair(alg)
  const publicJwk = await exportJWK(pair.publicKey)
  const members: Record<string, string> =
    alg === 'ES256'
      ? { crv: 'P-256', kty: 'EC', x: publicJwk.x as string, y: publicJwk.y as string }
      : { crv: 'Ed25519', kty: 'OKP', x: publicJwk.x as string }
  const jkt = await jwkThumbprint(members)
  const token = await boundToken(fx, jkt)
  const client = { alg, privateKey: pair.privateKey, publicJwk, members, jkt, token }
  const withAth = { ...client, ath: await accessTokenHash(token) }
  return { ...withAth, sampleProof: await makeProof(withAth) }
}

/** Fresh proofs per algorithm; each is taken once. */
export class ProofPool {
  private readonly proofs = new Map<ProofAlg, string[]>()

  /** Replaces the pool of `client`'s algorithm with `n` new proofs (iat now). */
  async fill(client: ProofClient, n: number): Promise<void> {
    const fresh: string[] = []
    for (let i = 0; i < n; i++) fresh.push(await makeProof(client))
    this.proofs.set(client.alg, fresh)
  }

  /** The next unused proof; throws when the pool ran dry (a replay would fail the request). */
  take(alg: ProofAlg): string {
    const proof = this.proofs.get(alg)?.pop()
    if (proof === undefined) throw new Error(`the ${alg} proof pool is empty`)
    return proof
  }
}

/** A DPoP request to the low route as workerd hands it to the Worker. */
export function dpopRequest(fx: Fixture, client: ProofClient, proof: string): IncomingRequest {
  const headers = { ...fx.clientHeaders, authorization: `DPoP ${client.token}`, dpop: proof }
  return new Request(ECHO_URL, { headers }) as IncomingRequest
}
