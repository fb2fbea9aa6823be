// The identity assertion an origin verifies with its own JWT library (docs/ASSERTION.md): a
// compact JWS in `Gatehouse-Assertion`, HS256 under the route's origin secret or EdDSA under the
// gateway's origin-assertion key. It names the caller and binds itself to the request the gateway
// sent — method, origin URL with path and query, and the body's RFC 9530 digest — for 30 s, with
// a jti per attempt. Built by hand (one JSON.stringify, one signature): it is on every request.

import { encodeBase64Url } from '../lib/base64url'
import { hmacSign } from '../lib/symmetric'
import type { ForwardIdentity } from './identity-signing'

export const ASSERTION_HEADER = 'gatehouse-assertion'
export const ASSERTION_TYPE = 'gatehouse-assertion+jwt'
/** Seconds an assertion is valid: long enough for a slow origin, short for a captured one. */
export const ASSERTION_LIFETIME_SECONDS = 30

/** What the gateway did about revocation, as the assertion says it. */
export type AssertedRevocation = 'checked' | 'skipped' | 'unavailable'

export type BodyState = 'none' | 'bound' | 'unbound'

export interface AssertionInput {
  /** The gateway's public URL. */
  readonly issuer: string
  readonly audience: string
  readonly method: string
  /** The URL the gateway calls: origin + path and query as sent. */
  readonly url: string
  readonly identity: ForwardIdentity | null
  /** The gateway's own issuer: a token from any other is named in `token_iss`. */
  readonly selfIssuer: string
  readonly revocation: AssertedRevocation | null
  readonly body: BodyState
  /** The body's Content-Digest value when bound. */
  readonly bodyDigest: string | null
  /** `<request id>.<attempt>`. */
  readonly jti: string
  readonly nowSeconds: number
}

export type AssertionKey =
  | { readonly alg: 'HS256'; readonly secret: string }
  | { readonly alg: 'EdDSA'; readonly kid: string; readonly key: CryptoKey }

const encoder = new TextEncoder()
const headerSegments = new Map<string, string>()

function headerSegment(key: AssertionKey): string {
  const cacheKey = key.alg === 'HS256' ? 'HS256' : `EdDSA ${key.kid}`
  let segment = headerSegments.get(cacheKey)
  if (segment === undefined) {
    const header =
      key.alg === 'HS256'
        ? { alg: 'HS256', typ: ASSERTION_TYPE }
        : { alg: 'EdDSA', typ: ASSERTION_TYPE, kid: key.kid }
    segment = encodeBase64Url(encoder.encode(JSON.stringify(header)))
    if (headerSegments.size > 64) headerSegments.clear()
    headerSegments.set(cacheKey, segment)
  }
  return segment
}

/** The claim set (docs/ASSERTION.md § Claims); absent values are left out. */
export function assertionClaims(input: AssertionInput): Record<string, unknown> {
  const iat = Math.floor(input.nowSeconds)
  const claims: Record<string, unknown> = {
    iss: input.issuer,
    aud: input.audience,
    iat,
    exp: iat + ASSERTION_LIFETIME_SECONDS,
    jti: input.jti,
    htm: input.method.toUpperCase(),
    htu: input.url,
    body: input.body,
  }
  if (input.bodyDigest !== null) claims.body_digest = input.bodyDigest
  const id = input.identity
  if (id !== null) {
    claims.sub = id.subject
    if (id.tenant !== '') claims.tid = id.tenant
    claims.scope = id.scope
    if (id.sessionId !== null) claims.sid = id.sessionId
    if (id.clientId !== null) claims.client_id = id.clientId
    if (id.issuer !== input.selfIssuer) claims.token_iss = id.issuer
    if (id.dpopKey !== null) claims.cnf = { jkt: id.dpopKey }
    if (input.revocation !== null) claims.rev = input.revocation
  }
  return claims
}

/**
 * The caller's claims as JSON members, written once per identity object: the proxy hands every
 * attempt of a request, and every request of a cached verified token, the same identity.
 */
const identityMembers = new WeakMap<ForwardIdentity, { self: string; json: string }>()

function identityJson(id: ForwardIdentity, selfIssuer: string): string {
  const cached = identityMembers.get(id)
  if (cached !== undefined && cached.self === selfIssuer) return cached.json
  const members: Record<string, unknown> = { sub: id.subject }
  if (id.tenant !== '') members.tid = id.tenant
  members.scope = id.scope
  if (id.sessionId !== null) members.sid = id.sessionId
  if (id.clientId !== null) members.client_id = id.clientId
  if (id.issuer !== selfIssuer) members.token_iss = id.issuer
  if (id.dpopKey !== null) members.cnf = { jkt: id.dpopKey }
  const json = JSON.stringify(members).slice(1, -1)
  identityMembers.set(id, { self: selfIssuer, json })
  return json
}

/** `"iss":…,"aud":…` per (issuer, audience): a route's constant part. */
const routeMembers = new Map<string, string>()

function routeJson(issuer: string, audience: string): string {
  const key = `${issuer}\n${audience}`
  let json = routeMembers.get(key)
  if (json === undefined) {
    json = JSON.stringify({ iss: issuer, aud: audience }).slice(1, -1)
    if (routeMembers.size > 1024) routeMembers.clear()
    routeMembers.set(key, json)
  }
  return json
}

/** The claim set of assertionClaims as JSON, built from cached parts (the same members). */
export function assertionPayloadJson(input: AssertionInput): string {
  const iat = Math.floor(input.nowSeconds)
  let json =
    `{${routeJson(input.issuer, input.audience)},"iat":${iat},` +
    `"exp":${iat + ASSERTION_LIFETIME_SECONDS},"jti":${JSON.stringify(input.jti)},` +
    `"htm":${JSON.stringify(input.method.toUpperCase())},"htu":${JSON.stringify(input.url)},` +
    `"body":"${input.body}"`
  if (input.bodyDigest !== null) json += `,"body_digest":${JSON.stringify(input.bodyDigest)}`
  if (input.identity !== null) {
    json += `,${identityJson(input.identity, input.selfIssuer)}`
    if (input.revocation !== null) json += `,"rev":"${input.revocation}"`
  }
  return `${json}}`
}

/** Signs the assertion for one forwarded attempt. */
export function signAssertion(input: AssertionInput, key: AssertionKey): Promise<string> {
  const payload = encodeBase64Url(encoder.encode(assertionPayloadJson(input)))
  const signingInput = `${headerSegment(key)}.${payload}`
  const signature =
    key.alg === 'HS256'
      ? hmacSign(key.secret, encoder.encode(signingInput))
      : crypto.subtle.sign({ name: 'Ed25519' }, key.key, encoder.encode(signingInput))
  return signature.then((s) => `${signingInput}.${encodeBase64Url(new Uint8Array(s))}`)
}
