// Types of scripts/lib/placement.mjs, for the TypeScript test that loads it in workerd
// (test/unit/storage/placement-twin.test.ts). Contracts are in the .mjs.

/** A configuration document's `storage` table, as written in config/<profile>.json. */
export interface StorageTable {
  readonly session_shards?: readonly { readonly binding: string; readonly buckets: string }[]
  readonly frozen_buckets?: string
  readonly audit_database?: string
}

/** A configuration document (only its storage table matters here) or the table itself. */
export type StorageSource = { readonly storage?: StorageTable } | StorageTable

export const BUCKET_COUNT: number
export const DEFAULT_SESSION_SHARD_BINDING: string
export const DEFAULT_AUDIT_BINDING: string
export function normalizeUsername(username: string): string
export function accountBucket(tenant: string, normalizedUsername: string): Promise<number>
export function newUserId(bucket: number, suffix?: string): string
export function parseBuckets(text: string): number[]
export function storageOf(config: StorageSource): Required<StorageTable>
export function shardBindings(config: StorageSource): string[]
export function auditBinding(config: StorageSource): string
export function shardFor(bucket: number, config: StorageSource): string
export function isFrozen(bucket: number, config: StorageSource): boolean
