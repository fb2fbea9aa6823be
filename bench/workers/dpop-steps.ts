// The steps a DPoP request adds to the verified-request path (bench only, never deployed), each
// on its own with the inputs a real request gives it, so the dpop section can attribute the
// difference between a DPoP and a Bearer request on the low route. Mirrors the order of
// src/verify/dpop-proof.ts; imports src/ internals, so a signature change there lands here.

import { enforceSenderConstraint } from '../../src/http/dpop'
import { decodeBase64Url } from '../../src/lib/base64url'
import { ProofReplayGuard } from '../../src/revocation/proof-replay'
import { accessTokenHash, jwkThumbprint, verifyDpopProof } from '../../src/verify/dpop-proof'
import { dpopRequest, type ProofAlg, type ProofClient, type ProofPool } from './dpop-fixture'
import { ECHO_URL, request, type Env, type Fixture } from './profile-fixture'
import { contextFor } from './profile-steps'

export interface DpopFixture {
  readonly fx: Fixture
  readonly clients: Record<ProofAlg, ProofClient>
  readonly pool: ProofPool
}

export type DpopOp = (dfx: DpopFixture, env: Env, ctx: ExecutionContext) => unknown

const SKEW_SECONDS = 60
/** The proxy's policy for the low route (/api/echo): DPoP optional, isolate-only replay. */
const LOW_POLICY = { dpop: 'optional', tier: 'low' } as const
/** Fresh replay guards before the isolate cache (50 000) would start evicting mid-round. */
const GUARD_RENEW_AFTER_CLAIMS = 40_000

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const encoder = new TextEncoder()

function parts(proof: string): [string, string, string] {
  const [h = '', p = '', s = ''] = proof.split('.')
  return [h, p, s]
}

const importParams = (alg: ProofAlg) =>
  alg === 'ES256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'Ed25519' }
const verifyParams = (alg: ProofAlg) =>
  alg === 'ES256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'Ed25519' }

/** Keys imported once, as the verifier's cache holds them. */
const imported = new Map<ProofAlg, Promise<CryptoKey>>()
function proofKey(client: ProofClient): Promise<CryptoKey> {
  let key = imported.get(client.alg)
  if (key === undefined) {
    key = crypto.subtle.importKey(
      'jwk',
      client.members as unknown as JsonWebKey,
      importParams(client.alg),
      false,
      ['verify'],
    )
    imported.set(client.alg, key)
  }
  return key
}

async function signatureStep(client: ProofClient): Promise<boolean> {
  const [h, p, s] = parts(client.sampleProof)
  const key = await proofKey(client)
  const sig = decodeBase64Url(s)!
  return crypto.subtle.verify(verifyParams(client.alg), key, sig, encoder.encode(`${h}.${p}`))
}

function verifyStep(client: ProofClient, proof: string): Promise<unknown> {
  return verifyDpopProof(proof, {
    method: 'GET',
    url: ECHO_URL,
    accessToken: client.token,
    nowSeconds: Math.floor(Date.now() / 1000),
    skewSeconds: SKEW_SECONDS,
    acceptNonce: null,
  })
}

let guard: ProofReplayGuard | null = null
let claims = 0
let nextJti = 0

function replayGuard(): ProofReplayGuard {
  if (guard === null || claims >= GUARD_RENEW_AFTER_CLAIMS) {
    const noShard = () => {
      throw new Error('the low tier never reaches a shard')
    }
    guard = new ProofReplayGuard(noShard, 1000, SKEW_SECONDS, () => Date.now())
    claims = 0
  }
  claims++
  return guard
}

/** Step name → one run of that step. */
export const DPOP_STEP_OPS: Record<string, DpopOp> = {
  // authenticate's sender-constraint half alone, the token already verified (a cache hit, as
  // on every request after a client's first): Bearer, then DPoP with a new proof.
  'enforce-bearer': async ({ fx }, _env, ctx) => {
    const rc = contextFor(fx, ctx)
    const verified = await rc.services.verifier.verify(fx.token, rc.waitUntil)
    const presented = { scheme: 'Bearer', token: fx.token } as const
    const req = request(fx, '/api/echo/x', true)
    return (await enforceSenderConstraint(req, rc, presented, verified, LOW_POLICY)) === null
  },
  'enforce-dpop-es256': async ({ fx, clients, pool }, _env, ctx) => {
    const rc = contextFor(fx, ctx)
    const client = clients.ES256
    const verified = await rc.services.verifier.verify(client.token, rc.waitUntil)
    const presented = { scheme: 'DPoP', token: client.token } as const
    const req = dpopRequest(fx, client, pool.take('ES256'))
    return enforceSenderConstraint(req, rc, presented, verified, LOW_POLICY)
  },
  // A new proof each time, as requests bring them.
  'proof-verify-es256': ({ clients, pool }) => verifyStep(clients.ES256, pool.take('ES256')),
  'proof-verify-eddsa': ({ clients, pool }) => verifyStep(clients.EdDSA, pool.take('EdDSA')),
  // verifyDpopProof's pieces, in its order.
  'proof-decode': ({ clients }) => {
    const [h, p] = parts(clients.ES256.sampleProof)
    return (
      JSON.parse(utf8.decode(decodeBase64Url(h)!)) && JSON.parse(utf8.decode(decodeBase64Url(p)!))
    )
  },
  'proof-thumbprint': ({ clients }) => jwkThumbprint(clients.ES256.members),
  'proof-import-es256': ({ clients }) =>
    crypto.subtle.importKey(
      'jwk',
      clients.ES256.members as unknown as JsonWebKey,
      importParams('ES256'),
      false,
      ['verify'],
    ),
  'proof-signature-es256': ({ clients }) => signatureStep(clients.ES256),
  'proof-signature-eddsa': ({ clients }) => signatureStep(clients.EdDSA),
  'proof-htu': () => {
    const url = new URL(ECHO_URL)
    return `${url.origin}${url.pathname}` === ECHO_URL
  },
  'proof-ath': ({ clients }) => accessTokenHash(clients.ES256.token),
  'proof-replay-low': ({ clients }) =>
    replayGuard().claim(
      { jkt: clients.ES256.jkt, jti: `bench-${nextJti++}`, iat: Math.floor(Date.now() / 1000) },
      'low',
    ),
}
