// A per-isolate cache of verification results, keyed by the exact token string (like Envoy
// jwt_authn's jwt_cache_config). A client sends the same access token with every request for
// its lifetime, so re-parsing it and re-checking its signature is repeated work. A hit still
// checks what can change: exp against the clock, and that the very key that verified it is still
// held and fresh (an emergency-removed or replaced key drops its tokens at once). Revocation is never cached: it is
// checked after verification, per the route's tier. Only the exact bytes hit, so a re-encoded
// twin of a token goes through the full verification.

import type { VerifiedToken } from './verify-token'

/** Bounds memory: ~4 096 × ~0.5 KiB. Oldest entries go first when full. */
export const TOKEN_CACHE_MAX_ENTRIES = 4096

export class VerifiedTokenCache {
  private readonly entries = new Map<string, VerifiedToken>()

  /**
   * The cached verification of `token`, if it is still valid at `nowSeconds` (exp with skew)
   * and `keyHeld` confirms its key; otherwise null (and the entry is dropped).
   */
  get(
    token: string,
    nowSeconds: number,
    clockSkewSeconds: number,
    keyHeld: (verified: VerifiedToken) => boolean,
  ): VerifiedToken | null {
    const verified = this.entries.get(token)
    if (verified === undefined) return null
    if (verified.expiresAt <= nowSeconds - clockSkewSeconds || !keyHeld(verified)) {
      this.entries.delete(token)
      return null
    }
    return verified
  }

  set(token: string, verified: VerifiedToken): void {
    if (this.entries.size >= TOKEN_CACHE_MAX_ENTRIES) {
      const oldest = this.entries.keys().next()
      if (!oldest.done) this.entries.delete(oldest.value)
    }
    this.entries.set(token, verified)
  }
}
