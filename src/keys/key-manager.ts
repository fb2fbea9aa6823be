// KeyManager: the single Durable Object that owns Gatehouse's signing keys (SQLite-backed, one
// instance). It is the only writer of key state, so rotation needs no locks: it generates keys,
// seals private keys at rest, applies the lifecycle plan on its alarm and on the cron tick, and
// republishes the KV copy of our JWKS after every change. Requests never call it per token:
// verifiers read the JWKS from the isolate/KV, and the signer caches the current key. Callers
// pass the configuration slice it needs; the last one is kept for the alarm.

import { DurableObject } from 'cloudflare:workers'
import { logLine } from '../observability/log'
import { generateSigningKey, sealPrivateKey, type SigningAlgorithm } from './key-crypto'

export type { SigningAlgorithm }
import { planLifecycle, type KeyRow, type KeyState, type LifecyclePolicy } from './key-lifecycle'
import { writeStored } from './key-store'

/** The longest our JWKS may sit in an HTTP cache (Cache-Control max-age of jwks.json). */
export const JWKS_HTTP_MAX_AGE_SECONDS = 300
/** Workers KV is eventually consistent: writes reach every location within about 60 s. */
export const KV_PROPAGATION_MS = 60_000
/** How long an isolate signs with a cached current key before asking again. */
export const SIGNING_KEY_CACHE_MS = 30_000
const SAFETY_MARGIN_MS = 60_000

export interface PublishedKeys {
  readonly keys: JsonWebKey[]
}

export interface SigningKeyRecord {
  readonly kid: string
  readonly alg: SigningAlgorithm
  /** The sealed private JWK (see key-crypto.ts); unsealed by the Worker, never here. */
  readonly sealed: string
}

export interface KeyStatus {
  readonly kid: string
  readonly state: KeyState
  readonly createdAt: number
  readonly activatedAt: number | null
  readonly retiredAt: number | null
}

export interface RotationResult {
  readonly rotated: boolean
  readonly current: string
  /** The kid removed from the JWKS by an emergency rotation. */
  readonly removed: string | null
  /** When a manual rotation will be possible, if it was refused as too early (epoch ms). */
  readonly readyAt: number | null
}

interface StoredRow {
  kid: string
  alg: string
  state: string
  public_jwk: string
  sealed_private: string
  created_at: number
  activated_at: number | null
  retired_at: number | null
  [column: string]: SqlStorageValue
}

/** The bindings the KeyManager reads: its KV copy of the JWKS and the sealing secret. */
export interface KeyManagerEnv {
  readonly JWKS_CACHE: KVNamespace
  readonly KEY_ENCRYPTION_SECRET?: unknown
}

/** What the KeyManager needs to know of the configuration. */
export interface KeyManagerSettings {
  readonly issuer: string
  readonly algorithm: SigningAlgorithm
  readonly policy: LifecyclePolicy
  readonly maxStaleMs: number
}

/** The timings a lifecycle plan derives from: all from the configuration. */
export interface LifecycleInputs {
  readonly keyRotationIntervalSeconds: number
  readonly isolateTtlMs: number
  readonly maxTokenLifetimeSeconds: number
  readonly clockSkewSeconds: number
}

/** The lifecycle timings implied by the configuration. */
export function lifecyclePolicy(c: LifecycleInputs): LifecyclePolicy {
  return {
    rotationIntervalMs: c.keyRotationIntervalSeconds * 1000,
    publishLeadMs:
      c.isolateTtlMs + KV_PROPAGATION_MS + JWKS_HTTP_MAX_AGE_SECONDS * 1000 + SAFETY_MARGIN_MS,
    retireGraceMs:
      (c.maxTokenLifetimeSeconds + c.clockSkewSeconds) * 1000 +
      SIGNING_KEY_CACHE_MS +
      SAFETY_MARGIN_MS,
  }
}

export class KeyManager extends DurableObject<KeyManagerEnv> {
  private readonly sql: SqlStorage

  constructor(ctx: DurableObjectState, env: KeyManagerEnv) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    void ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(`CREATE TABLE IF NOT EXISTS signing_keys (
        kid TEXT PRIMARY KEY,
        alg TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('next', 'current', 'retired')),
        public_jwk TEXT NOT NULL,
        sealed_private TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        activated_at INTEGER,
        retired_at INTEGER
      )`)
      this.sql.exec(
        'CREATE TABLE IF NOT EXISTS settings (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL)',
      )
    })
  }

  /** Public JWKs of every published key (next, current, retired). */
  async publishedKeys(settings: KeyManagerSettings): Promise<PublishedKeys> {
    await this.ensureKeys(settings, Date.now())
    return { keys: this.rows().map((r) => JSON.parse(r.public_jwk) as JsonWebKey) }
  }

  /** The current signing key, sealed. */
  async signingKey(settings: KeyManagerSettings): Promise<SigningKeyRecord> {
    await this.ensureKeys(settings, Date.now())
    const row = this.rows().find((r) => r.state === 'current')
    if (row === undefined) throw new Error('no current signing key')
    return { kid: row.kid, alg: row.alg as SigningAlgorithm, sealed: row.sealed_private }
  }

  async status(settings: KeyManagerSettings): Promise<KeyStatus[]> {
    await this.ensureKeys(settings, Date.now())
    return this.rows().map(toKeyRow)
  }

  /**
   * Rotates now. Normal: promote the next key if it has been published long enough. Emergency:
   * remove the current key from the JWKS at once and promote the next key regardless.
   */
  async rotate(
    settings: KeyManagerSettings,
    emergency: boolean,
    now = Date.now(),
    kid: string | null = null,
  ): Promise<RotationResult> {
    await this.ensureKeys(settings, now)
    // Emergency: remove the named key (any state), or the current one, at once; if it was the
    // current key, the next key is promoted by advance() with no lead time.
    const target = this.rows().find((r) => (kid === null ? r.state === 'current' : r.kid === kid))
    if (emergency && target !== undefined) {
      this.sql.exec('DELETE FROM signing_keys WHERE kid = ?', target.kid)
      logLine('warn', 'signing_key_removed', { kid: target.kid, reason: 'emergency_rotation' })
      await this.advance(settings, now, false, true)
      return { rotated: true, current: this.currentKid(), removed: target.kid, readyAt: null }
    }
    if (emergency)
      return { rotated: false, current: this.currentKid(), removed: null, readyAt: null }
    const plan = planLifecycle(this.rows().map(toKeyRow), now, settings.policy, true)
    if (plan.promote === null) {
      return { rotated: false, current: this.currentKid(), removed: null, readyAt: plan.wakeAt }
    }
    await this.advance(settings, now, true)
    return { rotated: true, current: this.currentKid(), removed: null, readyAt: null }
  }

  /** Applies every transition due at `now` (alarm, cron, tests); returns the new status. */
  async advance(
    settings: KeyManagerSettings,
    now = Date.now(),
    force = false,
    republish = false,
  ): Promise<KeyStatus[]> {
    this.sql.exec(
      'INSERT INTO settings (id, json) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET json = excluded.json',
      JSON.stringify(settings),
    )
    const plan = planLifecycle(this.rows().map(toKeyRow), now, settings.policy, force)
    let changed = plan.delete.length > 0 || plan.promote !== null
    for (const kid of plan.delete) this.sql.exec('DELETE FROM signing_keys WHERE kid = ?', kid)
    if (plan.promote !== null) {
      this.sql.exec(
        "UPDATE signing_keys SET state = 'retired', retired_at = ? WHERE state = 'current'",
        now,
      )
      this.sql.exec(
        "UPDATE signing_keys SET state = 'current', activated_at = ? WHERE kid = ?",
        now,
        plan.promote,
      )
    }
    if (plan.bootstrapCurrent) await this.insertKey('current', now, settings)
    if (plan.generateNext) await this.insertKey('next', now, settings)
    changed ||= plan.bootstrapCurrent || plan.generateNext || republish
    await this.ctx.storage.setAlarm(plan.wakeAt)
    if (changed) {
      await this.publish(now, settings)
      logLine('info', 'signing_keys_changed', {
        current: this.currentKid(),
        published: this.rows().length,
      })
    }
    return this.rows().map(toKeyRow)
  }

  async alarm(): Promise<void> {
    const row = this.sql
      .exec<{ json: string }>('SELECT json FROM settings WHERE id = 1')
      .toArray()[0]
    if (row !== undefined)
      await this.advance(JSON.parse(row.json) as KeyManagerSettings, Date.now())
  }

  private async ensureKeys(settings: KeyManagerSettings, now: number): Promise<void> {
    if (!this.rows().some((r) => r.state === 'current')) await this.advance(settings, now)
  }

  private async insertKey(
    state: KeyState,
    now: number,
    settings: KeyManagerSettings,
  ): Promise<void> {
    const key = await generateSigningKey(settings.algorithm)
    const sealed = await sealPrivateKey(key.privateJwk, key.kid, this.encryptionSecret())
    this.sql.exec(
      `INSERT INTO signing_keys (kid, alg, state, public_jwk, sealed_private, created_at, activated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      key.kid,
      key.alg,
      state,
      JSON.stringify(key.publicJwk),
      sealed,
      now,
      state === 'current' ? now : null,
    )
  }

  /** Writes the KV copy every verifier isolate reads, stamped as fresh from the source. */
  private async publish(now: number, settings: KeyManagerSettings): Promise<void> {
    const keys = this.rows().map((r) => JSON.parse(r.public_jwk) as unknown)
    await writeStored(
      this.env.JWKS_CACHE,
      settings.issuer,
      { v: 1, fetched_at: now, keys },
      settings.maxStaleMs,
    )
  }

  private rows(): StoredRow[] {
    return this.sql.exec<StoredRow>('SELECT * FROM signing_keys ORDER BY created_at DESC').toArray()
  }

  private currentKid(): string {
    return this.rows().find((r) => r.state === 'current')?.kid ?? ''
  }

  /** The secret sealing private keys; the Worker's config validation guarantees it is set. */
  private encryptionSecret(): string {
    const secret = this.env.KEY_ENCRYPTION_SECRET
    if (typeof secret !== 'string' || secret.length === 0)
      throw new Error('KEY_ENCRYPTION_SECRET is not set')
    return secret
  }
}

function toKeyRow(r: StoredRow): KeyRow & KeyStatus {
  return {
    kid: r.kid,
    state: r.state as KeyState,
    createdAt: r.created_at,
    activatedAt: r.activated_at,
    retiredAt: r.retired_at,
  }
}

/** Which keys a KeyManager instance holds: access-token keys, or origin-assertion keys. */
export type KeyPurpose = 'signing-keys' | 'origin-assertion-keys'

/** The KeyManager instance of a purpose (one each per namespace). */
export function getKeyManager(
  namespace: DurableObjectNamespace<KeyManager>,
  purpose: KeyPurpose = 'signing-keys',
): DurableObjectStub<KeyManager> {
  return namespace.get(namespace.idFromName(purpose))
}
