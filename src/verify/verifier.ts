// The isolate's access-token verifier: the per-isolate verified-token cache in front of the full
// check (strict parse, issuer by `iss`, key by kid within that issuer, signature, claims), with
// keys from the layered key store. One instance per isolate, built by the wiring; the clock and
// the key source are injected, so nothing here reads a binding or the wall clock on its own.

import type { IssuerConfig, JwksSettings } from '../keys/issuer'
import type { KeySource, KeyStore } from '../keys/key-store'
import { AuthError } from '../lib/errors'
import { countMetric, observeMetric, type Labels } from '../observability/metrics'
import { VerifiedTokenCache } from './verified-token-cache'
import { verifyAccessToken, type KeyLookup, type VerifiedToken } from './verify-token'

// Label sets as constants: no object per verification (metrics take labels as they are given).
const HIT: Labels = Object.freeze({ outcome: 'ok', cache: 'hit' })
const MISS: Labels = Object.freeze({ outcome: 'ok', cache: 'miss' })

export interface VerifierOptions {
  readonly issuers: readonly IssuerConfig[]
  readonly clockSkewSeconds: number
  readonly maxTokenLifetimeSeconds: number
  readonly jwks: JwksSettings
  readonly keyStore: KeyStore
  readonly kv: KVNamespace
  readonly source: KeySource
  /** Epoch milliseconds. */
  readonly now: () => number
}

export class Verifier {
  private readonly issuers: ReadonlyMap<string, IssuerConfig>
  /** The clock-offset histogram's labels per issuer. */
  private readonly offsetLabels: ReadonlyMap<IssuerConfig, Labels>
  private readonly cache = new VerifiedTokenCache()
  /** Made once: the verify path creates no functions per token. */
  private readonly keys: KeyLookup

  constructor(private readonly o: VerifierOptions) {
    this.issuers = new Map(o.issuers.map((i) => [i.issuer, i]))
    this.offsetLabels = new Map(o.issuers.map((i) => [i, Object.freeze({ issuer: i.issuer })]))
    this.keys = {
      peek: (issuer, kid, nowMs) => o.keyStore.peekKey(issuer, kid, o.jwks, nowMs),
      resolve: (issuer, kid, waitUntil) =>
        o.keyStore.getKey(issuer, kid, {
          kv: o.kv,
          source: o.source,
          settings: o.jwks,
          now: o.now,
          waitUntil,
        }),
    }
  }

  /**
   * Verifies an access token (RFC 9068 profile); `waitUntil` carries background key refreshes.
   * Throws AuthError with the failing check's reason (malformed … key_unavailable).
   */
  async verify(
    token: string,
    waitUntil: (promise: Promise<unknown>) => void,
  ): Promise<VerifiedToken> {
    const o = this.o
    const nowMs = o.now()
    const now = nowMs / 1000
    const hit = this.cache.get(token, now, o.clockSkewSeconds, (v) => this.keyHeld(v, nowMs))
    if (hit !== null) {
      countMetric('gatehouse_verify_total', HIT)
      return hit
    }
    let verified: VerifiedToken
    try {
      verified = await verifyAccessToken(token, {
        issuers: this.issuers,
        nowSeconds: now,
        nowMs,
        clockSkewSeconds: o.clockSkewSeconds,
        maxTokenLifetimeSeconds: o.maxTokenLifetimeSeconds,
        keys: this.keys,
        waitUntil,
      })
    } catch (err) {
      if (err instanceof AuthError)
        countMetric('gatehouse_verify_total', { outcome: err.reason, cache: 'miss' })
      throw err
    }
    this.cache.set(token, verified)
    countMetric('gatehouse_verify_total', MISS)
    if (verified.issuedAt !== null) {
      observeMetric(
        'gatehouse_clock_offset_seconds',
        this.offsetLabels.get(verified.issuer) ?? { issuer: verified.issuer.issuer },
        now - verified.issuedAt,
      )
    }
    return verified
  }

  /**
   * A cached verification stands only while the very key that verified it is still held, fresh,
   * here: a rotated-in key reusing the kid does not vouch for tokens the old one verified.
   */
  private keyHeld(verified: VerifiedToken, nowMs: number): boolean {
    return (
      this.o.keyStore.peekKey(verified.issuer, verified.kid, this.o.jwks, nowMs) === verified.key
    )
  }
}
