// Types of the soak engine (run.mjs) for its TypeScript caller, test/e2e/soak.test.ts.

export interface SoakOptions {
  /** The repository: config/demo.json and node_modules/.bin/wrangler are read from it. */
  root: string
  gateway: string
  /** The demo origin; when given, its request count is checked against the API answers. */
  origin?: string
  /** The stack's --persist-to; undefined: wrangler's default; null: no database checks. */
  stateDir?: string | null
  /** The gateway's JSON Lines log; when given, every answer is matched with its line. */
  log?: string
  seconds: number
  /** User actors (the admin actor runs besides them). */
  concurrency: number
  rotation?: 'emergency' | 'scheduled' | 'none'
}

export interface SoakViolation {
  readonly op: { readonly id: number; readonly kind: string } | null
  readonly what: string
}

export interface SoakResult {
  readonly ok: boolean
  /** The one summary line. */
  readonly summary: string
  /** What was refused and why, notes, and one line per violation. */
  readonly lines: readonly string[]
  readonly violations: readonly SoakViolation[]
  readonly counts: Readonly<Record<string, number>>
}

export function runSoak(options: SoakOptions): Promise<SoakResult>
