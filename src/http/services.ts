// The per-isolate wiring: every service is built here, once per isolate, from the validated
// Config and the Worker's bindings, and handed to handlers through the request context. This is
// the one place that holds module-level state for the request path and the one source of the
// wall clock (`systemClock`); capability libraries get a config slice, a binding and `now`.

import { ConfigError, parseConfig, type Config } from '../config/config'
import type { Env } from '../config/env'
import { lifecyclePolicy, getKeyManager, type KeyManagerSettings } from '../keys/key-manager'
import { KeyStore, type KeySource } from '../keys/key-store'
import { fetchJwksDocument } from '../keys/jwks-fetch'
import { SignerCache } from '../keys/signer'
import { logLine } from '../observability/log'
import { createSubjectHasher, type SubjectHasher } from '../observability/subject-hash'
import { Forwarder } from '../proxy/forward'
import { compileRouteTable, type RouteTable } from '../proxy/route-table'
import { RevocationPolicy } from '../revocation/revocation-check'
import { createShardLocator, type ShardLocator } from '../revocation/revocation-shard'
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
  readonly shards: ShardLocator
  readonly revocation: RevocationPolicy
  readonly forwarder: Forwarder
  readonly metrics: MetricsFlusher
  readonly subjectHash: SubjectHasher
  /** Users, sessions, refresh tokens, login throttle, audit events. */
  readonly db: D1Database
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
    shards,
    revocation: new RevocationPolicy(shards, config.revocationTimeoutMs, now),
    forwarder: new Forwarder(now),
    metrics: new MetricsFlusher(env.METRICS_AGGREGATOR, now),
    subjectHash: createSubjectHasher(subjectHashSecret(config)),
    db: env.DB,
    kv: env.JWKS_CACHE,
    events: env.AUTH_EVENTS,
    analytics: env.METRICS,
  }
}

/** The secret the log-hash key derives from: the key-encryption secret, else an origin secret. */
function subjectHashSecret(config: Config): string {
  if (config.auth.enabled) return config.auth.keyEncryptionSecret
  return config.routes[0]?.originSecret ?? ''
}
