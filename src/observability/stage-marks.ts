// Where a proxied request's time goes, measured in place: the proxy path marks the end of each
// stage, and a recorder, when one is installed, attributes the time since the previous mark to
// that stage. Only the benchmark installs one (bench/workers/profile-bench.ts, README §
// Performance); in production a mark is a call and a null check. Stages are a closed set.

export const STAGES = [
  'context',
  'route',
  'authenticate',
  'revocation',
  'rate limit + body',
  'request headers',
  'identity + signature',
  'origin',
  'response headers',
  'record',
] as const

export type Stage = (typeof STAGES)[number]

let recorder: ((stage: Stage) => void) | null = null

/** Installs (or, with null, removes) the isolate's stage recorder. */
export function recordStages(next: ((stage: Stage) => void) | null): void {
  recorder = next
}

/** Marks the end of `stage` on the current request's path. */
export function markStage(stage: Stage): void {
  if (recorder !== null) recorder(stage)
}
