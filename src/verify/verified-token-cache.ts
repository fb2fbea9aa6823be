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
  /** Token → its slot in the ring below. */
  private readonly slots = new Map<string, number>()
  /**
   * The insertion order as a ring, one slot per entry the cache can hold: a new entry takes the
   * oldest one's slot. (Evicting through the Map's own order instead — its first key — walks
   * past every deleted entry V8 keeps until the next rehash: ~1.3 µs per set once the cache is
   * full, on every cache miss.)
   */
  private readonly tokens: (string | undefined)[] = new Array<string | undefined>(
    TOKEN_CACHE_MAX_ENTRIES,
  ).fill(undefined)
  private readonly verified: (VerifiedToken | undefined)[] = new Array<VerifiedToken | undefined>(
    TOKEN_CACHE_MAX_ENTRIES,
  ).fill(undefined)
  private next = 0

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
    const slot = this.slots.get(token)
    if (slot === undefined) return null
    const verified = this.verified[slot] as VerifiedToken
    if (verified.expiresAt <= nowSeconds - clockSkewSeconds || !keyHeld(verified)) {
      this.drop(token, slot)
      return null
    }
    return verified
  }

  set(token: string, verified: VerifiedToken): void {
    const existing = this.slots.get(token)
    if (existing !== undefined) {
      this.verified[existing] = verified // keeps its place, as a Map does
      return
    }
    const slot = this.next
    const oldest = this.tokens[slot]
    if (oldest !== undefined) this.drop(oldest, slot)
    this.tokens[slot] = token
    this.verified[slot] = verified
    this.slots.set(token, slot)
    this.next = slot + 1 === TOKEN_CACHE_MAX_ENTRIES ? 0 : slot + 1
  }

  /** Forgets the entry in `slot` (whose token is `token`), if the slot still holds it. */
  private drop(token: string, slot: number): void {
    if (this.tokens[slot] !== token) return
    this.slots.delete(token)
    this.tokens[slot] = undefined
    this.verified[slot] = undefined
  }
}
