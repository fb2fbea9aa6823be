// The identity work of one forward, step by step (bench only, never deployed): the legacy
// HMAC-signed X-Auth-* headers against the Gatehouse-Assertion (HS256, EdDSA with its key already
// loaded), each with the inputs origin-headers.ts gives it for a body-less GET on the low route,
// and the request body's digest (prepareBody) at several sizes. Imports src/ internals: when a
// signature changes there, this file (and only the assertion section) has to follow.

import { ASSERTION_HEADER, assertionClaims, signAssertion } from '../../src/proxy/assertion'
import type { AssertionInput, AssertionKey } from '../../src/proxy/assertion'
import { contentDigest, prepareBody } from '../../src/proxy/body-binding'
import { setIdentityHeaders, signIdentityHeaders } from '../../src/proxy/identity-signing'
import type { ForwardIdentity } from '../../src/proxy/identity-signing'
import { encodeBase64Url } from '../../src/lib/base64url'
import { hmacSigningKey } from '../../src/lib/symmetric'
import { whatIfOps } from './assertion-whatif'
import {
  BENCH_ISSUER,
  BENCH_ORIGIN,
  type Env,
  type Fixture,
  type IncomingRequest,
} from './profile-fixture'

/** Request bodies the section sends, KiB. */
export const BODY_KIB = [1, 16, 256] as const
export type BodyKib = (typeof BODY_KIB)[number]
/** The route's default max_bound_body_bytes (1 MiB): every size above is bound. */
const MAX_BOUND_BODY_BYTES = 1_048_576
const TARGET = '/api/echo/x'
const GATEWAY_URL = 'https://gatehouse.bench'

export interface AssertionFixture {
  readonly fx: Fixture
  /** The route's origin secret (HS256 and the legacy HMAC). */
  readonly secret: string
  /** The origin-assertion signer, loaded once, as SignerCache holds it. */
  readonly eddsa: AssertionKey & { readonly alg: 'EdDSA' }
  /** Body bytes per size. */
  readonly bodies: Readonly<Record<BodyKib, Uint8Array>>
  /** What the last forward carried to the (stub) origin. */
  lastForward: {
    readonly names: readonly string[]
    readonly headerBytes: number
    readonly bodyBytes: number
  } | null
}

export type AssertionOp = (afx: AssertionFixture, env: Env, ctx: ExecutionContext) => unknown

/** The fixture token's caller, as forwardIdentity() makes it from the verified token. */
const IDENTITY: ForwardIdentity = {
  issuer: BENCH_ISSUER,
  subject: 'usr_profile_0001',
  tenant: 'bench',
  scope: 'echo:read echo:write',
  sessionId: 'sess-profile-0001',
  clientId: 'gatehouse-mobile',
  dpopKey: null,
}

const encoder = new TextEncoder()

/** The assertion input originHeaders builds for attempt 0 of a body-less GET. */
export function assertionInput(afx: AssertionFixture, requestId: string): AssertionInput {
  return {
    issuer: afx.fx.config.publicUrl,
    audience: BENCH_ORIGIN,
    method: 'GET',
    url: BENCH_ORIGIN + TARGET,
    identity: IDENTITY,
    selfIssuer: afx.fx.config.auth.issuer,
    revocation: 'skipped',
    body: 'none',
    bodyDigest: null,
    jti: `${requestId}.0`,
    nowSeconds: Date.now() / 1000,
  }
}

/** originHeaders' assertion branch for one attempt: unsigned X-Auth-* plus the signed JWS. */
async function assertionHeaders(afx: AssertionFixture, key: AssertionKey): Promise<Headers> {
  const headers = new Headers()
  const requestId = crypto.randomUUID()
  setIdentityHeaders(headers, { identity: IDENTITY, revocation: 'skipped; tier=low', requestId })
  headers.set(ASSERTION_HEADER, await signAssertion(assertionInput(afx, requestId), key))
  return headers
}

/** signIdentityHeaders as origin-headers.ts calls it for identity = "headers". */
async function legacyHeaders(afx: AssertionFixture): Promise<Headers> {
  const headers = new Headers()
  await signIdentityHeaders(headers, {
    method: 'GET',
    target: TARGET,
    secret: afx.secret,
    identity: IDENTITY,
    revocation: 'skipped; tier=low',
    requestId: crypto.randomUUID(),
    nowSeconds: Date.now() / 1000,
  })
  return headers
}

/** A POST of `kib` KiB to `path`, as workerd hands it to the Worker (Content-Length set). */
export function postRequest(fx: Fixture, path: string, body: Uint8Array): IncomingRequest {
  const headers = {
    ...fx.clientHeaders,
    'content-type': 'application/octet-stream',
    'content-length': String(body.byteLength),
  }
  return new Request(GATEWAY_URL + path, { method: 'POST', headers, body }) as IncomingRequest
}

/** The signing input of a typical HS256 assertion, for the bare signature steps. */
let signingInput: Uint8Array | null = null
function sampleSigningInput(afx: AssertionFixture): Uint8Array {
  signingInput ??= encoder.encode(
    `${'e'.repeat(64)}.${encodeBase64Url(encoder.encode(JSON.stringify(assertionClaims(assertionInput(afx, crypto.randomUUID())))))}`,
  )
  return signingInput
}

function bodyOps(kib: BodyKib): Record<string, AssertionOp> {
  return {
    [`prepare-${kib}k`]: async (afx) => {
      const bytes = afx.bodies[kib]
      const req = postRequest(afx.fx, TARGET, bytes)
      const prepared = await prepareBody(req.body, 'POST', String(bytes.byteLength), {
        binding: 'best_effort',
        maxBytes: MAX_BOUND_BODY_BYTES,
      })
      return prepared.state === 'bound'
    },
    [`digest-${kib}k`]: async (afx) => (await contentDigest(afx.bodies[kib])).length > 0,
    // Reference: the same bytes read by the runtime in one call (no reader loop), then digested.
    [`native-${kib}k`]: async (afx) => {
      const req = postRequest(afx.fx, TARGET, afx.bodies[kib])
      return (await contentDigest(new Uint8Array(await req.arrayBuffer()))).length > 0
    },
  }
}

/** How many chunks a reader gets from a request body of each size (untimed). */
export async function chunksRead(afx: AssertionFixture): Promise<Record<string, number>> {
  const counts: Record<string, number> = {}
  for (const kib of BODY_KIB) {
    const reader = postRequest(afx.fx, TARGET, afx.bodies[kib]).body!.getReader()
    let chunks = 0
    while (!(await reader.read()).done) chunks++
    counts[`${kib}k`] = chunks
  }
  return counts
}

/** Step name → one run of that step. */
export const ASSERTION_STEP_OPS: Record<string, AssertionOp> = {
  // What identity = "headers" does per attempt (the profile's sign-identity step).
  legacy: (afx) => legacyHeaders(afx),
  'legacy-again': (afx) => legacyHeaders(afx),
  hs256: (afx) => assertionHeaders(afx, { alg: 'HS256', secret: afx.secret }),
  eddsa: (afx) => assertionHeaders(afx, afx.eddsa),
  // The parts of the assertion steps.
  'set-identity': () => {
    const headers = new Headers()
    const requestId = crypto.randomUUID()
    setIdentityHeaders(headers, { identity: IDENTITY, revocation: 'skipped; tier=low', requestId })
    return headers
  },
  'claims-encode': (afx) =>
    encodeBase64Url(
      encoder.encode(JSON.stringify(assertionClaims(assertionInput(afx, crypto.randomUUID())))),
    ),
  'sign-assertion-hs256': (afx) =>
    signAssertion(assertionInput(afx, crypto.randomUUID()), { alg: 'HS256', secret: afx.secret }),
  'hmac-raw': async (afx) =>
    crypto.subtle.sign('HMAC', await hmacSigningKey(afx.secret), sampleSigningInput(afx)),
  'ed25519-raw': (afx) =>
    crypto.subtle.sign({ name: 'Ed25519' }, afx.eddsa.key, sampleSigningInput(afx)),
  ...whatIfOps(assertionInput),
  ...bodyOps(1),
  ...bodyOps(16),
  ...bodyOps(256),
}
