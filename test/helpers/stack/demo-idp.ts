// Tokens validly signed by the demo third-party issuer (DESIGN § the local demo profile v2): the
// gateway trusts it (audience gatehouse-demo, EdDSA, typ at+jwt, tenant pinned to partners), and
// .demo-idp.json holds its private key, so a security case can break exactly one property of an
// otherwise valid token and watch the gateway refuse it for that property — where an edit of a
// genuine token, or a token signed by an attacker's key, would only ever reach the signature.
// mintDemoIdp signs with jose; the raw signers sign any header bytes with node:crypto Ed25519,
// for the members and encodings jose refuses to emit (crit, b64, zip, duplicate members, …).

import { createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto'
import { CompactSign, importJWK } from 'jose'
import { inject } from 'vitest'

const doc = inject('gatehouse').idp

/** What the gateway is configured to accept from the demo issuer (config/demo.json). */
export const DEMO_IDP = {
  issuer: doc.issuer,
  kid: doc.private_jwk.kid,
  audience: 'gatehouse-demo',
  tenant: 'partners',
  /** The public half, as the demo origin publishes it at /idp/jwks.json. */
  publicJwk: {
    kty: doc.private_jwk.kty,
    crv: doc.private_jwk.crv,
    x: doc.private_jwk.x,
    kid: doc.private_jwk.kid,
  },
} as const

const nodeKey: KeyObject = createPrivateKey({ key: doc.private_jwk, format: 'jwk' })
let joseKey: ReturnType<typeof importJWK> | null = null

export const nowSeconds = (): number => Math.floor(Date.now() / 1000)

export interface MintOptions {
  /** Claims merged over the defaults; a claim set to undefined is left out. */
  claims?: Record<string, unknown>
  /** Header members merged over {alg: EdDSA, kid, typ: at+jwt}; undefined leaves one out. */
  header?: Record<string, unknown>
  /** Claim names to leave out. */
  omit?: readonly string[]
}

/**
 * The claims of a valid demo-issuer access token (iss, sub, aud, iat, exp = iat + 300 s, a fresh
 * jti, scope echo:read, tid partners) with `claims` merged over them and `omit` left out.
 */
export function demoIdpClaims(
  o: Pick<MintOptions, 'claims' | 'omit'> = {},
): Record<string, unknown> {
  const iat = nowSeconds()
  return defined(
    {
      iss: DEMO_IDP.issuer,
      sub: `partner-${randomUUID().slice(0, 8)}`,
      aud: DEMO_IDP.audience,
      iat,
      exp: iat + 300,
      jti: randomUUID(),
      scope: 'echo:read',
      tid: DEMO_IDP.tenant,
      ...o.claims,
    },
    o.omit,
  )
}

/** The header of a valid demo-issuer access token with `extra` merged over it. */
export function demoIdpHeader(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return defined({ alg: 'EdDSA', kid: DEMO_IDP.kid, typ: 'at+jwt', ...extra })
}

/** An access token signed by the demo issuer (jose), valid unless the options say otherwise. */
export async function mintDemoIdp(o: MintOptions = {}): Promise<string> {
  joseKey ??= importJWK(doc.private_jwk, 'EdDSA')
  const payload = new TextEncoder().encode(JSON.stringify(demoIdpClaims(o)))
  return new CompactSign(payload)
    .setProtectedHeader(demoIdpHeader(o.header) as { alg: string })
    .sign(await joseKey)
}

const b64url = (bytes: string | Uint8Array): string => Buffer.from(bytes).toString('base64url')

/** Signs `header.payload` exactly as given (any segments, canonical or not) with the demo key. */
export function signDemoIdpSegments(headerSegment: string, payloadSegment: string): string {
  const input = `${headerSegment}.${payloadSegment}`
  return `${input}.${b64url(sign(null, Buffer.from(input, 'ascii'), nodeKey))}`
}

/**
 * Signs any header and payload with the demo key: an object is serialised with JSON.stringify, a
 * string is taken as the exact JSON text, bytes as the exact bytes (BOMs, duplicate members,
 * invalid UTF-8, crit/b64/zip members jose will not emit).
 */
export function signDemoIdpRaw(
  header: Record<string, unknown> | string | Uint8Array,
  payload: Record<string, unknown> | string | Uint8Array = demoIdpClaims(),
): string {
  const segment = (part: Record<string, unknown> | string | Uint8Array) =>
    b64url(typeof part === 'string' || part instanceof Uint8Array ? part : JSON.stringify(part))
  return signDemoIdpSegments(segment(header), segment(payload))
}

function defined(
  record: Record<string, unknown>,
  omit: readonly string[] = [],
): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(record).filter(([name, value]) => value !== undefined && !omit.includes(name)),
  )
}
