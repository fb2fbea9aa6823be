// What-if steps for the assertion section (bench only, never deployed): where signAssertion's
// time goes, and prototypes of cheaper ways to produce the very same assertion, so a change to
// src/ can be chosen by measurement. Each prototype is checked once against signAssertion
// (checkPrototypes): it must produce the identical payload bytes, or the section stops.

import {
  ASSERTION_HEADER,
  ASSERTION_LIFETIME_SECONDS,
  assertionClaims,
  signAssertion,
  type AssertionInput,
} from '../../src/proxy/assertion'
import { setIdentityHeaders, type ForwardIdentity } from '../../src/proxy/identity-signing'
import { encodeBase64Url } from '../../src/lib/base64url'
import { hmacSigningKey } from '../../src/lib/symmetric'
import type { AssertionFixture, AssertionOp } from './assertion-steps'

const encoder = new TextEncoder()
/** The HS256 JOSE header segment signAssertion caches: {"alg":"HS256","typ":…}. */
let hs256Header: string | null = null

/** The claims before `iat` that only the route decides: iss, aud. */
function routeFragment(input: AssertionInput): string {
  return `{"iss":${JSON.stringify(input.issuer)},"aud":${JSON.stringify(input.audience)}`
}

/** The claims the verified token decides (sub … token_iss, cnf), as assertionClaims orders them. */
function identityFragment(id: ForwardIdentity, selfIssuer: string): string {
  let out = `,"sub":${JSON.stringify(id.subject)}`
  if (id.tenant !== '') out += `,"tid":${JSON.stringify(id.tenant)}`
  out += `,"scope":${JSON.stringify(id.scope)}`
  if (id.sessionId !== null) out += `,"sid":${JSON.stringify(id.sessionId)}`
  if (id.clientId !== null) out += `,"client_id":${JSON.stringify(id.clientId)}`
  if (id.issuer !== selfIssuer) out += `,"token_iss":${JSON.stringify(id.issuer)}`
  if (id.dpopKey !== null) out += `,"cnf":{"jkt":${JSON.stringify(id.dpopKey)}}`
  return out
}

/** The payload JSON from cached route and identity fragments; only per-request values built. */
function payloadFromFragments(input: AssertionInput, route: string, identity: string): string {
  const iat = Math.floor(input.nowSeconds)
  let out = `${route},"iat":${iat},"exp":${iat + ASSERTION_LIFETIME_SECONDS}`
  out += `,"jti":${JSON.stringify(input.jti)},"htm":${JSON.stringify(input.method.toUpperCase())}`
  out += `,"htu":${JSON.stringify(input.url)},"body":"${input.body}"`
  if (input.bodyDigest !== null) out += `,"body_digest":${JSON.stringify(input.bodyDigest)}`
  if (input.identity !== null) {
    out += identity
    if (input.revocation !== null) out += `,"rev":"${input.revocation}"`
  }
  return `${out}}`
}

/** Per-isolate state a src change would keep: fragments and the resolved HMAC key. */
interface Cached {
  readonly route: string
  readonly identity: string
  readonly key: CryptoKey
}
let cached: Cached | null = null

async function cachedState(afx: AssertionFixture, input: AssertionInput): Promise<Cached> {
  cached ??= {
    route: routeFragment(input),
    identity: identityFragment(input.identity!, input.selfIssuer),
    key: await hmacSigningKey(afx.secret),
  }
  return cached
}

async function signWithFragments(input: AssertionInput, c: Cached): Promise<string> {
  hs256Header ??= encodeBase64Url(
    encoder.encode(JSON.stringify({ alg: 'HS256', typ: 'gatehouse-assertion+jwt' })),
  )
  const payload = encodeBase64Url(encoder.encode(payloadFromFragments(input, c.route, c.identity)))
  const signingInput = `${hs256Header}.${payload}`
  const mac = await crypto.subtle.sign('HMAC', c.key, encoder.encode(signingInput))
  return `${signingInput}.${encodeBase64Url(new Uint8Array(mac))}`
}

/**
 * Throws unless every prototype signs exactly what signAssertion signs (same JOSE header,
 * payload and signature) for `input`.
 */
export async function checkPrototypes(afx: AssertionFixture, input: AssertionInput): Promise<void> {
  const expected = await signAssertion(input, { alg: 'HS256', secret: afx.secret })
  const got = await signWithFragments(input, await cachedState(afx, input))
  if (got !== expected) throw new Error(`fragment prototype differs:\n${got}\n${expected}`)
}

let payload: string | null = null
let payloadBytes: Uint8Array | null = null
type InputFor = (afx: AssertionFixture, requestId: string) => AssertionInput

function samplePayload(afx: AssertionFixture, inputFor: InputFor): string {
  payload ??= JSON.stringify(assertionClaims(inputFor(afx, crypto.randomUUID())))
  return payload
}

function samplePayloadBytes(afx: AssertionFixture, inputFor: InputFor): Uint8Array {
  payloadBytes ??= encoder.encode(samplePayload(afx, inputFor))
  return payloadBytes
}

/** base64url of an ASCII string without TextEncoder (what an ASCII fast path would do). */
function btoaUrl(ascii: string): string {
  return btoa(ascii).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** What-if step name → one run, given the assertion input of a fresh attempt. */
export function whatIfOps(inputFor: InputFor): Record<string, AssertionOp> {
  return {
    // The floor both identity modes share.
    'headers+uuid': () => [new Headers(), crypto.randomUUID()],
    'claims-object': (afx) => assertionClaims(inputFor(afx, crypto.randomUUID())),
    'claims-json': (afx) => JSON.stringify(assertionClaims(inputFor(afx, crypto.randomUUID()))),
    // The claims' encoding, part by part, on a typical payload.
    'payload-encode': (afx) => encoder.encode(samplePayload(afx, inputFor)),
    'payload-b64': (afx) => encodeBase64Url(samplePayloadBytes(afx, inputFor)),
    'payload-btoa': (afx) => btoaUrl(samplePayload(afx, inputFor)),
    // identity = "assertion" without the unsigned X-Auth-* conveniences (X-Request-Id kept).
    'hs256-no-xauth': async (afx) => {
      const headers = new Headers()
      const requestId = crypto.randomUUID()
      headers.set('x-request-id', requestId)
      const input = inputFor(afx, requestId)
      headers.set(
        ASSERTION_HEADER,
        await signAssertion(input, { alg: 'HS256', secret: afx.secret }),
      )
      return headers
    },
    // Both: no unsigned X-Auth-*, and the payload from cached fragments.
    'hs256-lean': async (afx) => {
      const headers = new Headers()
      const requestId = crypto.randomUUID()
      headers.set('x-request-id', requestId)
      const input = inputFor(afx, requestId)
      headers.set(ASSERTION_HEADER, await signWithFragments(input, await cachedState(afx, input)))
      return headers
    },
    // The same headers as the hs256 step, the payload JSON from cached route and identity
    // fragments and the HMAC key held resolved.
    'hs256-fragments': async (afx) => {
      const headers = new Headers()
      const requestId = crypto.randomUUID()
      const input = inputFor(afx, requestId)
      setIdentityHeaders(headers, {
        identity: input.identity,
        revocation: 'skipped; tier=low',
        requestId,
      })
      headers.set(ASSERTION_HEADER, await signWithFragments(input, await cachedState(afx, input)))
      return headers
    },
  }
}
