// Single use of an assertion (docs/ASSERTION.md § What an origin checks, 6): every accepted jti
// is kept until its exp (plus the skew the verifier allows), in a bounded in-memory map. When the
// map is full of live entries the oldest go first: an overload reopens a replay window for them
// rather than refusing genuine requests, so size it to the traffic (see createAssertionVerifier).
// One process only: instances that share an audience and want no window must share a store.

export class JtiCache {
  /** @type {Map<string, number>} jti → epoch ms until which it counts as seen */
  #expiries = new Map()
  #capacity

  /** @param {number} capacity */
  constructor(capacity) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new TypeError('replayCacheSize must be a positive integer')
    }
    this.#capacity = capacity
  }

  /**
   * Records `jti` until `keepUntilMs`; false when it was already seen and is still kept.
   * Synchronous, so two concurrent requests with one jti cannot both pass.
   * @param {string} jti
   * @param {number} keepUntilMs
   * @param {number} nowMs
   */
  add(jti, keepUntilMs, nowMs) {
    const previous = this.#expiries.get(jti)
    if (previous !== undefined && previous >= nowMs) return false
    this.#expiries.delete(jti)
    if (this.#expiries.size >= this.#capacity) this.#evict(nowMs)
    this.#expiries.set(jti, keepUntilMs)
    return true
  }

  /** @param {number} nowMs */
  #evict(nowMs) {
    // Insertion order is expiry order (every assertion lives 30 s): drop from the oldest end
    // while entries have expired, and beyond that while the map is still full.
    for (const [jti, expiry] of this.#expiries) {
      if (expiry >= nowMs && this.#expiries.size < this.#capacity) break
      this.#expiries.delete(jti)
    }
  }
}
