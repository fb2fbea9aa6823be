// Verification keys per trusted issuer, in three layers: the isolate's map of imported CryptoKeys
// (no I/O on a hit), the KV copy of the issuer's JWKS (shared by all isolates of a location), and
// the issuer's source (its jwks_uri, or the KeyManager for our own issuer). A kid is looked up
// only inside the JWKS of the issuer the token names. Each issuer has its own state, so a flood
// of random kids against one issuer can neither stampede its source (one refresh per cooldown,
// single-flight) nor evict another issuer's keys. When the source is down, known keys keep
// working up to max_stale_seconds; a key that cannot be known is a 503, not a 401.

import type { IssuerConfig, JwksSettings } from './issuer'
import { AuthError } from '../lib/errors'
import { logLine } from '../observability/log'
import { countMetric } from '../observability/metrics'
import { importVerificationKey, type VerificationKey } from './jwk-import'
import { JwksFetchError, MAX_KEYS_PER_ISSUER } from './jwks-fetch'

/**
 * How often an isolate re-reads our own issuer's keys in the background: this bounds how long
 * an emergency-removed key keeps verifying in isolates that did not handle the rotation.
 */
export const SELF_ISSUER_REVALIDATE_MS = 30_000

function revalidateAfterMs(issuer: IssuerConfig, settings: JwksSettings): number {
  return issuer.self
    ? Math.min(SELF_ISSUER_REVALIDATE_MS, settings.isolateTtlMs)
    : settings.isolateTtlMs
}

/** The isolate layer's lookup labels, one object for every lookup. */
const ISOLATE_LAYER = Object.freeze({ layer: 'isolate' })

/** KV key of an issuer's JWKS copy. The v1 prefix is part of the storage schema: never change it. */
export function jwksKvKey(issuer: string): string {
  return `jwks:v1:${issuer}`
}

/** The KV document: raw public JWKs plus when the source served them (epoch ms). */
export interface StoredJwks {
  readonly v: 1
  readonly fetched_at: number
  readonly keys: readonly unknown[]
}

/** Returns the issuer's current public JWKs; throws when the source cannot answer. */
export type KeySource = (issuer: IssuerConfig) => Promise<unknown[]>

export type KeyLayer = 'isolate' | 'kv' | 'source'

export interface KeyStoreDeps {
  readonly kv: KVNamespace
  readonly source: KeySource
  readonly settings: JwksSettings
  /** Epoch milliseconds. */
  readonly now: () => number
  readonly waitUntil: (promise: Promise<unknown>) => void
}

interface IssuerKeys {
  keys: ReadonlyMap<string, VerificationKey>
  /** When the issuer's source served the loaded set (epoch ms); 0 = nothing loaded. */
  fetchedAt: number
  /** When this isolate last (re)loaded the set, from KV or the source. */
  loadedAt: number
  /** Start of the last refresh attempt; refreshes are at most one per cooldown. */
  attemptedAt: number
  /** True when the last refresh could not reach the source. */
  sourceFailed: boolean
  inflight: Promise<KeyLayer> | null
}

export class KeyStore {
  private readonly issuers = new Map<string, IssuerKeys>()

  /**
   * Resolves the key for (issuer, kid). Throws AuthError unknown_kid when the issuer's fresh
   * JWKS has no such key, key_unavailable (503, Retry-After) when it cannot be known.
   */
  async getKey(issuer: IssuerConfig, kid: string, deps: KeyStoreDeps): Promise<VerificationKey> {
    const state = this.stateOf(issuer.issuer)
    const now = deps.now()
    const known = state.keys.get(kid)
    if (known !== undefined && now - state.fetchedAt <= deps.settings.maxStaleMs) {
      if (
        now - state.loadedAt > revalidateAfterMs(issuer, deps.settings) &&
        this.mayRefresh(state, now, deps)
      ) {
        deps.waitUntil(this.refresh(state, issuer, deps, null))
      }
      countMetric('gatehouse_jwks_lookups_total', ISOLATE_LAYER)
      return known
    }
    let layer: KeyLayer = 'isolate'
    if (state.inflight !== null) layer = await state.inflight
    else if (this.mayRefresh(state, now, deps)) layer = await this.refresh(state, issuer, deps, kid)
    countMetric('gatehouse_jwks_lookups_total', { layer })
    return this.settle(state, kid, deps)
  }

  /**
   * The warm path without a promise: the key if this isolate holds it fresh and needs no
   * revalidation; undefined otherwise (then getKey does the full lookup). Counted as an
   * isolate hit.
   */
  peekKey(
    issuer: IssuerConfig,
    kid: string,
    settings: JwksSettings,
    now: number,
  ): VerificationKey | undefined {
    const state = this.issuers.get(issuer.issuer)
    const key = state?.keys.get(kid)
    if (state === undefined || key === undefined) return undefined
    if (now - state.fetchedAt > settings.maxStaleMs) return undefined
    if (now - state.loadedAt > revalidateAfterMs(issuer, settings)) return undefined
    countMetric('gatehouse_jwks_lookups_total', ISOLATE_LAYER)
    return key
  }

  /** Removes a key from this isolate at once (emergency rotation); other layers are updated by the caller. */
  evict(issuer: string, kid: string): void {
    const state = this.issuers.get(issuer)
    if (state === undefined || !state.keys.has(kid)) return
    const keys = new Map(state.keys)
    keys.delete(kid)
    state.keys = keys
  }

  /** Forgets an issuer's keys in this isolate so the next lookup reloads them. */
  forget(issuer: string): void {
    this.issuers.delete(issuer)
  }

  private settle(state: IssuerKeys, kid: string, deps: KeyStoreDeps): VerificationKey {
    const now = deps.now()
    const key = state.keys.get(kid)
    const fresh = now - state.fetchedAt <= deps.settings.maxStaleMs
    if (key !== undefined && fresh) return key
    if (key === undefined && fresh && !state.sourceFailed) {
      throw new AuthError('unknown_kid', { detail: `kid ${kid}` })
    }
    const retryAfterMs = Math.max(1000, state.attemptedAt + deps.settings.refetchCooldownMs - now)
    throw new AuthError('key_unavailable', {
      detail: key === undefined ? `kid ${kid} unknown, source unavailable` : `kid ${kid} stale`,
      retryAfterSeconds: retryAfterMs / 1000,
    })
  }

  private stateOf(issuer: string): IssuerKeys {
    let state = this.issuers.get(issuer)
    if (state === undefined) {
      state = {
        keys: new Map(),
        fetchedAt: 0,
        loadedAt: 0,
        attemptedAt: 0,
        sourceFailed: false,
        inflight: null,
      }
      this.issuers.set(issuer, state)
    }
    return state
  }

  private mayRefresh(state: IssuerKeys, now: number, deps: KeyStoreDeps): boolean {
    if (state.inflight !== null) return false
    return state.attemptedAt === 0 || now - state.attemptedAt >= deps.settings.refetchCooldownMs
  }

  /** Single-flight refresh: KV first, then the source when KV is stale or lacks `wantedKid`. */
  private refresh(
    state: IssuerKeys,
    issuer: IssuerConfig,
    deps: KeyStoreDeps,
    wantedKid: string | null,
  ): Promise<KeyLayer> {
    state.attemptedAt = deps.now()
    const run = this.load(state, issuer, deps, wantedKid).finally(() => {
      state.inflight = null
    })
    state.inflight = run
    return run
  }

  private async load(
    state: IssuerKeys,
    issuer: IssuerConfig,
    deps: KeyStoreDeps,
    wantedKid: string | null,
  ): Promise<KeyLayer> {
    const stored = await readStored(deps.kv, issuer.issuer)
    const now = deps.now()
    if (stored !== null && issuer.self) {
      // Our own KV copy is rewritten by the KeyManager on every key change: it is current as of
      // this read, however old its timestamp, and a removed (compromised) key must go at once.
      await this.install(state, issuer, stored.keys, now, now)
    } else if (stored !== null && stored.fetched_at > state.fetchedAt) {
      await this.install(state, issuer, stored.keys, stored.fetched_at, now)
    }
    const kvFresh =
      stored !== null && (issuer.self || now - stored.fetched_at < deps.settings.isolateTtlMs)
    if (kvFresh && (wantedKid === null || state.keys.has(wantedKid))) {
      state.sourceFailed = false
      return 'kv'
    }
    try {
      const keys = (await deps.source(issuer)).slice(0, MAX_KEYS_PER_ISSUER)
      const fetchedAt = deps.now()
      await this.install(state, issuer, keys, fetchedAt, fetchedAt)
      state.sourceFailed = false
      countMetric('gatehouse_jwks_fetches_total', { issuer: issuer.issuer, result: 'ok' })
      const doc: StoredJwks = { v: 1, fetched_at: fetchedAt, keys }
      deps.waitUntil(writeStored(deps.kv, issuer.issuer, doc, deps.settings.maxStaleMs))
    } catch (err) {
      state.sourceFailed = true
      const cause = err instanceof JwksFetchError ? err.cause : 'error'
      countMetric('gatehouse_jwks_fetches_total', { issuer: issuer.issuer, result: cause })
      logLine('warn', 'jwks_source_failed', { issuer: issuer.issuer, cause })
    }
    return 'source'
  }

  private async install(
    state: IssuerKeys,
    issuer: IssuerConfig,
    jwks: readonly unknown[],
    fetchedAt: number,
    now: number,
  ): Promise<void> {
    const results = await Promise.all(
      jwks.map((jwk) => importVerificationKey(jwk, issuer.algorithms)),
    )
    const keys = new Map<string, VerificationKey>()
    let skipped = 0
    for (const result of results) {
      if (typeof result === 'string') skipped++
      else if (!keys.has(result.kid)) keys.set(result.kid, result)
      else skipped++ // a duplicated kid is ambiguous: the first one wins, as published
    }
    state.keys = keys
    state.fetchedAt = fetchedAt
    state.loadedAt = now
    if (skipped > 0)
      logLine('info', 'jwks_keys_skipped', { issuer: issuer.issuer, skipped, kept: keys.size })
  }
}

async function readStored(kv: KVNamespace, issuer: string): Promise<StoredJwks | null> {
  try {
    const doc = await kv.get<StoredJwks>(jwksKvKey(issuer), 'json')
    if (
      doc === null ||
      doc.v !== 1 ||
      !Array.isArray(doc.keys) ||
      typeof doc.fetched_at !== 'number'
    ) {
      return null
    }
    return doc
  } catch {
    // KV down or the entry corrupt: fall through to the source.
    logLine('warn', 'jwks_kv_read_failed', { issuer })
    return null
  }
}

/** Writes an issuer's JWKS copy to KV; it expires when it could no longer be served anyway. */
export async function writeStored(
  kv: KVNamespace,
  issuer: string,
  doc: StoredJwks,
  maxStaleMs: number,
): Promise<void> {
  try {
    await kv.put(jwksKvKey(issuer), JSON.stringify(doc), {
      expirationTtl: Math.max(60, Math.ceil(maxStaleMs / 1000)), // KV's minimum TTL is 60 s
    })
  } catch {
    logLine('warn', 'jwks_kv_write_failed', { issuer })
  }
}
