// A trusted issuer as the key store and the verifier see it: where its keys come from and what
// its tokens must look like. The configuration layer builds these; nothing here reads config.

export const ALGORITHMS = [
  'EdDSA',
  'ES256',
  'ES384',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
] as const
export type Algorithm = (typeof ALGORITHMS)[number]

/** How an issuer writes scopes: one space-delimited string (RFC 9068), or an array of them. */
export type ScopeFormat = 'space' | 'array'

export interface IssuerConfig {
  readonly issuer: string
  /** True for Gatehouse's own issuer: keys come from the KeyManager, not a jwks_uri. */
  readonly self: boolean
  readonly jwksUri: string | null
  readonly audiences: readonly string[]
  readonly algorithms: readonly Algorithm[]
  /** Accepted `typ` values, lower-case, without the `application/` prefix (RFC 8725 §3.11). */
  readonly tokenTypes: readonly string[]
  /** The tenant of every token of this issuer (a token claiming another `tid` is refused). */
  readonly tenant: string | null
  /** Without a pinned tenant: the `tid` values this issuer may assert; null only for `self`. */
  readonly tenants: readonly string[] | null
  /** The claim the scopes are read from (`scope`; Okta and Entra: `scp`). */
  readonly scopeClaim: string
  /** The shape of that claim: a space-delimited string, or an array of scope-tokens. */
  readonly scopeFormat: ScopeFormat
}

/** How keys are cached and refetched (all milliseconds). */
export interface JwksSettings {
  readonly refetchCooldownMs: number
  readonly maxStaleMs: number
  readonly fetchTimeoutMs: number
  readonly isolateTtlMs: number
}

/** Lower-cases a `typ` value and drops the optional `application/` prefix (RFC 7515 §4.1.9). */
export function normalizeTokenType(typ: string): string {
  const lower = typ.toLowerCase()
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower
}
