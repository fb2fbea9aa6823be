// The typed, frozen Config the rest of the gateway reads: camelCase, units in the names, secrets
// resolved, URLs normalized. Slices a capability library owns (RouteConfig, JwksSettings) are its
// types; the document's own shape (snake_case, as written) is the schema's output type, and
// build.ts maps one to the other.

import type { IssuerConfig, JwksSettings } from '../keys/issuer'
import type { RouteConfig } from '../proxy/route'
import type { AuthLevel } from '../proxy/step-up'
import type { Tier } from '../revocation/tier'
import type { ShardLayout } from '../storage/shards'
import type { AuthConfig } from './auth'

export type { IssuerConfig }

export interface Config {
  readonly publicUrl: string
  /** Host (and port) of public_url: what origins receive as X-Forwarded-Host. */
  readonly publicHost: string
  /** Scheme of public_url without ':': what origins receive as X-Forwarded-Proto. */
  readonly publicProto: string
  readonly clockSkewSeconds: number
  readonly maxTokenLifetimeSeconds: number
  readonly issuers: readonly IssuerConfig[]
  /** What the configuration allows but an operator should know (logged once at isolate start). */
  readonly warnings: readonly string[]
  readonly jwks: JwksSettings
  readonly routes: readonly RouteConfig[]
  /** Scopes that demand an authentication level wherever a route or endpoint requires them. */
  readonly stepUpScopes: Readonly<Record<string, AuthLevel>>
  /** Other origins this deployment answers on; DPoP proofs may name them (htu). */
  readonly publicAliases: readonly string[]
  /** Scopes whose holders' requests are checked at least at this tier. */
  readonly sensitiveScopes: Readonly<Record<string, Tier>>
  readonly revocationTimeoutMs: number
  /** The bearer secret a Prometheus scraper presents on GET /metrics; null: admins only. */
  readonly metricsScrapeSecret: string | null
  /** Share of successful requests logged (rejections and errors always are). */
  readonly logSampleRate: number
  /** Serve the browser demo page at GET /demo (local demo profile only). */
  readonly demoPage: boolean
  /** How often an open WebSocket on a standard/critical route re-checks revocation (seconds). */
  readonly websocketCheckSeconds: number
  readonly auth: AuthConfig
  readonly storage: StorageConfig
  /**
   * The secret sealing the origin-assertion keys (KEY_ENCRYPTION_SECRET) when a route signs its
   * assertion with EdDSA; null when none does.
   */
  readonly assertionKeySecret: string | null
}

/** Which D1 bindings hold what (docs/STORAGE.md § Shards). */
export interface StorageConfig extends ShardLayout {
  /** The D1 binding audit events are written to. */
  readonly auditBinding: string
  /** Audit events older than this are deleted by the cron. */
  readonly auditRetentionSeconds: number
}
