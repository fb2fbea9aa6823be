// The per-isolate wiring: every service is built here, once per isolate, from the validated
// Config and the Worker's bindings, and handed to handlers through the request context. This is
// the one place that holds module-level state for the request path and the one source of the
// wall clock (`systemClock`); capability libraries get a config slice, a binding and `now`.

import { ConfigError, parseConfig, type Config } from '../config/config'
import { fieldName, type ConfigIssue } from '../config/errors'
import type { Env } from '../config/env'
import { lifecyclePolicy, getKeyManager, type KeyManagerSettings } from '../keys/key-manager'
import { KeyStore, type KeySource } from '../keys/key-store'
import { fetchJwksDocument } from '../keys/jwks-fetch'
import { SignerCache } from '../keys/signer'
import { logLine } from '../observability/log'
import { createSubjectHasher, type SubjectHasher } from '../observability/subject-hash'
import { ASSERTION_LIFETIME_SECONDS } from '../proxy/assertion'
import { Forwarder } from '../proxy/forward'
import type { RateCounters } from '../proxy/rate-limit'
import { compileRouteTable, type RouteTable } from '../proxy/route-table'
import { RevocationPolicy } from '../revocation/revocation-check'
import {
  createRateShardLocator,
  createProofShardLocator,
  createShardLocator,
  type ShardLocator,
} from '../revocation/revocation-shard'
import { ProofReplayGuard } from '../revocation/proof-replay'
import { DpopNonces } from '../verify/dpop-nonce'
import { SessionShards } from '../storage/shards'
import { Verifier } from '../verify/verifier'
import { MetricsFlusher } from './metrics-flush'

/** The Worker's clock, epoch milliseconds. Everything below the edge receives it as `now`. */
export const systemClock = (): number => Date.now()

export interface Services {
  readonly config: Config
  /** Epoch milliseconds. */
  readonly now: () => number
  readonly routes: RouteTable
  readonly keyStore: KeyStore
  readonly verifier: Verifier
  readonly signer: SignerCache
  readonly keyManager: () => ReturnType<typeof getKeyManager>
  readonly keySettings: KeyManagerSettings
  /** The origin-assertion keys (EdDSA routes); null when no route signs with EdDSA. */
  readonly assertionKeys: {
    readonly manager: () => ReturnType<typeof getKeyManager>
    readonly settings: KeyManagerSettings
    readonly signer: SignerCache
  } | null
  readonly shards: ShardLocator
  readonly revocation: RevocationPolicy
  /** Single use of DPoP proofs, by tier. */
  readonly proofReplay: ProofReplayGuard
  /** Server nonces for DPoP proofs (when auth.use_dpop_nonce). */
  readonly dpopNonces: DpopNonces
  /** Rate-limit counters: Workers Rate Limiting bindings, and exact Durable Object counters. */
  readonly rateCounters: RateCounters
  readonly forwarder: Forwarder
  readonly metrics: MetricsFlusher
  readonly subjectHash: SubjectHasher
  /** Users, sessions, refresh tokens and login counters, spread over D1 shards by bucket. */
  readonly sessionShards: SessionShards
  /** Audit events (the queue consumer writes, the admin API reads). */
  readonly auditDb: D1Database
  readonly kv: KVNamespace
  readonly events: Queue | undefined
  readonly analytics: AnalyticsEngineDataset | undefined
}

const isolates = new WeakMap<object, Services | ConfigError>()

/**
 * The isolate's services for this env (workerd hands every request of an isolate the same env
 * object), or the ConfigError that makes every request answer 500. Built on first use.
 */
export function servicesFor(env: Env, now: () => number = systemClock): Services | ConfigError {
  let entry = isolates.get(env)
  if (entry === undefined) {
    try {
      const config = parseConfig(env)
      assertDatabasesBound(env, config)
      for (const warning of config.warnings) logLine('warn', 'config_warning', { warning })
      entry = buildServices(env, config, now)
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      entry = err
      logLine('error', 'config_invalid', {
        field: err.field,
        message: err.message,
        issues: err.issues.map((i) => `${i.field}: ${i.problem}`).join('; '),
      })
    }
    isolates.set(env, entry)
  }
  return entry
}

/** The KeyManager's slice of the configuration. */
export function keyManagerSettings(config: Config): KeyManagerSettings {
  return {
    issuer: config.auth.issuer,
    algorithm: config.auth.signingAlgorithm,
    policy: lifecyclePolicy({
      keyRotationIntervalSeconds: config.auth.keyRotationIntervalSeconds,
      isolateTtlMs: config.jwks.isolateTtlMs,
      maxTokenLifetimeSeconds: config.maxTokenLifetimeSeconds,
      clockSkewSeconds: config.clockSkewSeconds,
    }),
    maxStaleMs: config.jwks.maxStaleMs,
  }
}

/** The origin-assertion keys' KeyManager settings: EdDSA, rotated like the access-token keys. */
export function assertionKeySettings(config: Config): KeyManagerSettings {
  return {
    // The KV copy of these keys lives under a name no token issuer can have.
    issuer: `${config.publicUrl}#origin-assertion`,
    algorithm: 'EdDSA',
    policy: lifecyclePolicy({
      keyRotationIntervalSeconds: config.auth.keyRotationIntervalSeconds,
      isolateTtlMs: config.jwks.isolateTtlMs,
      maxTokenLifetimeSeconds: ASSERTION_LIFETIME_SECONDS,
      clockSkewSeconds: config.clockSkewSeconds,
    }),
    maxStaleMs: config.jwks.maxStaleMs,
  }
}

function buildServices(env: Env, config: Config, now: () => number): Services {
  const keyManager = () => getKeyManager(env.KEYS)
  const keySettings = keyManagerSettings(config)
  const keyStore = new KeyStore()
  const source: KeySource = async (issuer) => {
    if (issuer.self) return (await keyManager().publishedKeys(keySettings)).keys
    return fetchJwksDocument(issuer.jwksUri as string, {
      fetch: (input, init) => fetch(input, init),
      timeoutMs: config.jwks.fetchTimeoutMs,
    })
  }
  const shards = createShardLocator(env.REVOCATIONS)
  const database = (binding: string) => env[binding] as D1Database
  return {
    config,
    now,
    routes: compileRouteTable(config.routes),
    keyStore,
    verifier: new Verifier({
      issuers: config.issuers,
      clockSkewSeconds: config.clockSkewSeconds,
      maxTokenLifetimeSeconds: config.maxTokenLifetimeSeconds,
      jwks: config.jwks,
      keyStore,
      kv: env.JWKS_CACHE,
      source,
      now,
    }),
    signer: new SignerCache(
      () => keyManager().signingKey(keySettings),
      config.auth.keyEncryptionSecret,
    ),
    keyManager,
    keySettings,
    assertionKeys: assertionKeysFor(env, config),
    shards,
    revocation: new RevocationPolicy(shards, config.revocationTimeoutMs, now),
    proofReplay: new ProofReplayGuard(
      createProofShardLocator(env.REVOCATIONS),
      config.revocationTimeoutMs,
      config.clockSkewSeconds,
      now,
    ),
    dpopNonces: new DpopNonces(subjectHashSecret(config)),
    rateCounters: {
      binding: (name) => env[name] as RateLimit | undefined,
      exact: createRateShardLocator(env.REVOCATIONS),
      timeoutMs: config.revocationTimeoutMs,
    },
    forwarder: new Forwarder(now),
    metrics: new MetricsFlusher(env.METRICS_AGGREGATOR, now),
    subjectHash: createSubjectHasher(subjectHashSecret(config)),
    sessionShards: new SessionShards(config.storage, database),
    auditDb: database(config.storage.auditBinding),
    kv: env.JWKS_CACHE,
    events: env.AUTH_EVENTS,
    analytics: env.METRICS,
  }
}

/**
 * Every D1 database the storage table names must be bound (an auth server needs them all): a
 * missing one is a configuration error naming its field, not a 500 on the first login.
 */
function assertDatabasesBound(env: Env, config: Config): void {
  if (!config.auth.enabled) return
  const isD1 = (binding: string) => {
    const value = env[binding] as { prepare?: unknown } | undefined
    return typeof value === 'object' && value !== null && typeof value.prepare === 'function'
  }
  const unbound = (binding: string) =>
    `D1 database ${binding} is not bound (wrangler.toml [[d1_databases]] binding = "${binding}")`
  const issues: ConfigIssue[] = []
  config.storage.shards.forEach((shard, i) => {
    if (!isD1(shard.binding)) {
      issues.push({
        field: fieldName(['storage', 'session_shards', i, 'binding']),
        problem: unbound(shard.binding),
      })
    }
  })
  if (!isD1(config.storage.auditBinding)) {
    issues.push({
      field: fieldName(['storage', 'audit_database']),
      problem: unbound(config.storage.auditBinding),
    })
  }
  const [first, ...rest] = issues
  if (first !== undefined) throw ConfigError.of([first, ...rest])
}

function assertionKeysFor(env: Env, config: Config): Services['assertionKeys'] {
  const secret = config.assertionKeySecret
  if (secret === null) return null
  const manager = () => getKeyManager(env.KEYS, 'origin-assertion-keys')
  const settings = assertionKeySettings(config)
  return {
    manager,
    settings,
    signer: new SignerCache(() => manager().signingKey(settings), secret),
  }
}

/** The secret the log-hash key derives from: the key-encryption secret, else an origin secret. */
function subjectHashSecret(config: Config): string {
  if (config.auth.enabled) return config.auth.keyEncryptionSecret
  return config.routes[0]?.originSecret ?? ''
}
