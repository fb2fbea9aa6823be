// Types of scripts/lib/bucket-move.mjs, for the TypeScript test that loads it in workerd
// (test/unit/storage/bucket-move.test.ts). Contracts are in the .mjs.

export type Table = 'users' | 'sessions' | 'refresh_tokens' | 'factors' | 'recovery_codes'
/** A row as D1 returns it. */
export type Row = Record<string, string | number | null>
export type Rows = Record<Table, Row[]>
export type Keys = Record<Table, string[]>

export interface Selection extends Rows {
  readonly legacySessions: { readonly moved: number; readonly stay: number }
  readonly problems: string[]
}

export interface Difference {
  readonly missing: string[]
  readonly extra: string[]
  readonly changed: string[]
}

export const MOVED_TABLES: readonly Table[]
export const PRIMARY_KEY: Readonly<Record<Table, string>>
export const LEGACY_BUCKET: number
export function sessionIdBucket(sid: string): number | 'legacy' | null
export function userIdBucket(id: string): number | 'unplaced' | null
export function selectRows(rows: Rows, buckets: readonly number[]): Promise<Selection>
export function summarizeProblems(problems: readonly string[]): string[]
export function sqlLiteral(value: string | number | bigint | null): string
export function insertStatements(selection: Rows): string[]
export function keysOf(selection: Rows): Keys
export function deleteStatements(keys: Keys): string[]
export function copyStatements(
  selection: Rows,
  onTarget: Rows,
): { statements: string[]; stale: Keys }
export function compareSelections(expected: Rows, actual: Rows): Record<Table, Difference>
export function notOnTarget(source: Rows, onTarget: Rows, now: number): Keys
export function isSame(comparison: Record<Table, Difference>): boolean
export function rangesText(buckets: readonly number[]): string
export function candidatePageQuery(
  table: Table,
  buckets: readonly number[],
  after: string | null,
  limit: number,
): string
