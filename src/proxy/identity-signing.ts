// Sets the identity headers an origin trusts and signs them with the route's per-origin secret
// (HMAC-SHA256 over origin/identity-headers.ts's canonical string). Imported HMAC keys are cached
// per isolate; a fresh nonce per forward makes every signed request unique for replay checks.

import {
  HEADER,
  SIGNATURE_VERSION,
  SIGNED_HEADERS,
  canonicalString,
  encodeIdentityValue,
  type SignedHeader,
} from '../origin/identity-headers'
import { hmacSign } from '../lib/symmetric'
import { encodeBase64Url } from '../lib/base64url'

/** What the gateway asserts about the caller; null fields are sent as absent headers. */
export interface ForwardIdentity {
  readonly issuer: string
  readonly subject: string
  readonly tenant: string
  readonly scope: string
  readonly sessionId: string | null
  readonly clientId: string | null
  /** The DPoP key thumbprint the token is bound to, or null (a bearer token). */
  readonly dpopKey: string | null
}

export interface SigningInput {
  readonly method: string
  readonly target: string
  readonly secret: string
  /** null on routes without a token: the request is signed as anonymous. */
  readonly identity: ForwardIdentity | null
  readonly revocation: string | null
  readonly requestId: string
  readonly nowSeconds: number
}

const NONCE_BYTES = 16
const encoder = new TextEncoder()
/**
 * Sets the identity headers (X-Auth-*, X-Request-Id) without a signature: the unsigned
 * conveniences next to the assertion, which an origin may read only after verifying it.
 */
export function setIdentityHeaders(
  headers: Headers,
  input: Pick<SigningInput, 'identity' | 'revocation' | 'requestId'>,
): void {
  if (input.identity !== null) {
    for (const [name, value] of identityHeaderList(input.identity)) headers.set(name, value)
  }
  if (input.revocation !== null) headers.set(HEADER.revocation, input.revocation)
  headers.set(HEADER.requestId, input.requestId)
}

/**
 * A caller's identity headers, encoded once per identity object: the proxy hands every request
 * of a cached verified token the same one.
 */
const identityHeaders = new WeakMap<ForwardIdentity, readonly [SignedHeader, string][]>()

function identityHeaderList(identity: ForwardIdentity): readonly [SignedHeader, string][] {
  let list = identityHeaders.get(identity)
  if (list === undefined) {
    const values = identityValues({ identity, revocation: null, requestId: '' })
    list = SIGNED_HEADERS.filter(
      (name) => name !== HEADER.requestId && values[name] !== undefined,
    ).map((name): [SignedHeader, string] => [name, values[name] as string])
    identityHeaders.set(identity, list)
  }
  return list
}

function identityValues(
  input: Pick<SigningInput, 'identity' | 'revocation' | 'requestId'>,
): Partial<Record<SignedHeader, string>> {
  const values: Partial<Record<SignedHeader, string>> = { [HEADER.requestId]: input.requestId }
  const id = input.identity
  if (id !== null) {
    values[HEADER.issuer] = encodeIdentityValue(id.issuer)
    values[HEADER.subject] = encodeIdentityValue(id.subject)
    if (id.tenant !== '') values[HEADER.tenant] = encodeIdentityValue(id.tenant)
    if (id.scope !== '') values[HEADER.scopes] = encodeIdentityValue(id.scope)
    if (id.sessionId !== null) values[HEADER.session] = encodeIdentityValue(id.sessionId)
    if (id.clientId !== null) values[HEADER.client] = encodeIdentityValue(id.clientId)
    if (id.dpopKey !== null) values[HEADER.dpopKey] = id.dpopKey
  }
  if (input.revocation !== null) values[HEADER.revocation] = input.revocation
  return values
}

/** Sets identity, request id, timestamp, nonce and signature headers on `headers`. */
export async function signIdentityHeaders(headers: Headers, input: SigningInput): Promise<void> {
  const values = identityValues(input)
  for (const name of SIGNED_HEADERS) {
    const value = values[name]
    if (value !== undefined) headers.set(name, value)
  }
  const timestamp = String(Math.floor(input.nowSeconds))
  const nonce = encodeBase64Url(crypto.getRandomValues(new Uint8Array(NONCE_BYTES)))
  const data = canonicalString({
    method: input.method,
    target: input.target,
    timestamp,
    nonce,
    headers: values,
  })
  const mac = await hmacSign(input.secret, encoder.encode(data))
  headers.set(HEADER.timestamp, timestamp)
  headers.set(HEADER.nonce, nonce)
  headers.set(HEADER.signature, `${SIGNATURE_VERSION}=${encodeBase64Url(new Uint8Array(mac))}`)
}
