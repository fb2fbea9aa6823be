// Token builders for tests: `mint` signs a well-formed access token with jose (an independent
// implementation); `forge` assembles arbitrary header/payload/signature bytes for attacks.

import { SignJWT } from 'jose'
import type { TestKey } from './keys'

export interface MintOptions {
  issuer: string
  audience?: string | string[]
  subject?: string
  scope?: string
  claims?: Record<string, unknown>
  header?: Record<string, unknown>
  /** Seconds relative to now. */
  expiresIn?: number
  issuedAgo?: number
  omit?: Array<'exp' | 'iat' | 'sub' | 'aud' | 'typ' | 'kid'>
}

export const nowSeconds = () => Math.floor(Date.now() / 1000)

export async function mint(key: TestKey, o: MintOptions): Promise<string> {
  const now = nowSeconds()
  const omit = new Set(o.omit ?? [])
  const payload: Record<string, unknown> = {
    iss: o.issuer,
    sub: o.subject ?? 'user-1',
    aud: o.audience ?? 'api',
    iat: now - (o.issuedAgo ?? 0),
    exp: now + (o.expiresIn ?? 300),
    jti: crypto.randomUUID(),
    scope: o.scope ?? 'echo:read echo:write',
    ...o.claims,
  }
  for (const claim of ['exp', 'iat', 'sub', 'aud'] as const)
    if (omit.has(claim)) delete payload[claim]
  const header: Record<string, unknown> = { alg: key.alg, kid: key.kid, typ: 'at+jwt', ...o.header }
  if (omit.has('typ')) delete header.typ
  if (omit.has('kid')) delete header.kid
  return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key.privateKey)
}

export function b64url(input: string | Uint8Array): string {
  const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input
  let binary = ''
  for (const b of bytes) binary += String.fromCharCode(b)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

export function fromB64url(input: string): Uint8Array {
  const base64 = input.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((input.length + 3) % 4)
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))
}

/** Splits a compact token into its decoded header and payload and raw segments. */
export function split(token: string) {
  const [h, p, s] = token.split('.') as [string, string, string]
  return {
    h,
    p,
    s,
    header: JSON.parse(new TextDecoder().decode(fromB64url(h))) as Record<string, unknown>,
    payload: JSON.parse(new TextDecoder().decode(fromB64url(p))) as Record<string, unknown>,
  }
}

/** Re-signs arbitrary header/payload JSON with a test key (for tokens jose refuses to build). */
export async function signRaw(key: TestKey, header: object, payload: object): Promise<string> {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`
  const params =
    key.alg === 'EdDSA'
      ? { name: 'Ed25519' }
      : key.alg === 'ES256'
        ? { name: 'ECDSA', hash: 'SHA-256' }
        : key.alg === 'PS256'
          ? { name: 'RSA-PSS', saltLength: 32 }
          : { name: 'RSASSA-PKCS1-v1_5' }
  const sig = await crypto.subtle.sign(params, key.privateKey, new TextEncoder().encode(input))
  return `${input}.${b64url(new Uint8Array(sig))}`
}
