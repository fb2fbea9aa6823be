// Every request's context (runInContext: the proxy path calls it directly, the app's first
// middleware wraps it): finds the isolate's services (a broken config answers 500 everywhere),
// assigns the request id and trace, hands every handler one RequestContext (the only way code
// below the app reaches services and bindings), and, when the request ends, records it exactly
// once: the request counters, one Analytics Engine point, its JSON log line (every rejection and
// error, successes at log_sample_rate; in waitUntil when a subject must be hashed first), and
// every few seconds, in waitUntil, a flush of the isolate's metrics.

import type { MiddlewareHandler } from 'hono'
import type { Config } from '../config/config'
import { ConfigError } from '../config/config'
import type { Env } from '../config/env'
import { AuthError, type Reason } from '../lib/errors'
import { logLine } from '../observability/log'
import { countMetric, observeMetric } from '../observability/metrics'
import { createEventSink, type EventSink } from '../observability/security-events'
import type { SubjectHasher } from '../observability/subject-hash'
import { continueTrace, type TraceContext } from '../observability/trace'
import type { ReplayOutcome } from '../revocation/proof-replay'
import type { RevocationOutcome } from '../revocation/revocation-check'
import type { Tier } from '../revocation/tier'
import { errorResponse } from './error-response'
import { writeRequestPoint } from './metrics-flush'
import { servicesFor, systemClock, type Services } from './services'
import { markStage } from '../observability/stage-marks'

/** Facts about one request, filled in as it is handled and recorded once at the end. */
export interface RequestRecord {
  /** Route prefix or gateway endpoint (a bounded label), null until routed. */
  route: string | null
  tier: Tier | null
  reason: Reason | null
  detail: string | null
  issuer: string | null
  kid: string | null
  jti: string | null
  sid: string | null
  /** The session shard (D1 binding) a login, refresh or logout touched. */
  shard: string | null
  tenant: string | null
  /** The verified subject; logged only as a hash. */
  subject: string | null
  revocation: RevocationOutcome | null
  /** The DPoP proof's single-use check, when the token was DPoP-bound. */
  dpop: ReplayOutcome | null
  /** What an admin or OAuth endpoint acted on, kept apart from the acting caller above. */
  targetSubject: string | null
  targetSid: string | null
  targetJti: string | null
}

/** What a handler needs of its request's environment, passed down explicitly. */
export interface RequestContext {
  readonly services: Services
  readonly config: Config
  readonly requestId: string
  readonly trace: TraceContext
  readonly record: RequestRecord
  readonly waitUntil: (promise: Promise<unknown>) => void
  /** Security events of this request (log line + audit queue). */
  readonly events: EventSink
}

export type AppEnv = {
  Bindings: Env
  Variables: { rc: RequestContext; record: RequestRecord; requestId: string }
}

function newRecord(): RequestRecord {
  return {
    route: null,
    tier: null,
    reason: null,
    detail: null,
    issuer: null,
    kid: null,
    jti: null,
    sid: null,
    shard: null,
    tenant: null,
    subject: null,
    revocation: null,
    dpop: null,
    targetSubject: null,
    targetSid: null,
    targetJti: null,
  }
}

/**
 * Runs one request in its context: services, request id, trace and the one record per request.
 * `handle` answers it (an AuthError it throws becomes the reason's answer, anything else a
 * 500); the answer gets x-request-id and Date, and, after it is sent, the request is recorded
 * once (log line, counters, Analytics Engine point, periodic metrics flush) in waitUntil. The
 * proxy path calls this directly; the gateway's endpoints run under Hono (requestContext).
 */
export async function runInContext(
  request: Request,
  env: Env,
  ctx: ExecutionContext,
  handle: (rc: RequestContext) => Promise<Response>,
): Promise<Response> {
  const services = servicesFor(env)
  const now = services instanceof ConfigError ? systemClock : services.now
  const started = now()
  const requestId = crypto.randomUUID()
  const trace = continueTrace(request.headers.get('traceparent'))
  const record = newRecord()
  const waitUntil = (p: Promise<unknown>) => ctx.waitUntil(p)
  let response: Response
  if (services instanceof ConfigError) {
    record.reason = 'config_invalid'
    response = errorResponse(new AuthError('config_invalid'))
  } else {
    const events = createEventSink(services.events, waitUntil, requestId, now)
    const rc = { services, config: services.config, requestId, trace, record, waitUntil, events }
    markStage('context')
    try {
      response = await handle(rc)
    } catch (err) {
      response = failureResponse(err, record, requestId)
    }
  }
  const headers = response.headers
  headers.set('x-request-id', requestId)
  // RFC 9110 §6.6.1: an origin server with a clock sends Date. A DPoP client corrects its proofs'
  // iat from it (workerd and wrangler dev send none; an origin's own Date passes through).
  if (!headers.has('date')) headers.set('date', httpDate(now()))
  markStage('response headers')
  const outcome: Outcome = {
    requestId,
    traceId: trace.traceId,
    method: request.method,
    status: response.status,
    latencyMs: now() - started,
    colo: (request as { cf?: { colo?: unknown } }).cf?.colo,
  }
  const pending =
    services instanceof ConfigError
      ? recordRequest(null, env.METRICS, record, outcome, 1)
      : recordRequest(
          services.subjectHash,
          services.analytics,
          record,
          outcome,
          services.config.logSampleRate,
        )
  if (pending !== undefined) waitUntil(pending)
  if (services instanceof ConfigError) return response
  services.metrics.schedule(waitUntil)
  markStage('record')
  return response
}

/**
 * The single error exit: an AuthError is its reason's answer (reason and detail recorded); any
 * other exception is a 500 with nothing of its message on the wire, and one error log line.
 */
export function failureResponse(
  err: unknown,
  record: RequestRecord | undefined,
  requestId: string | undefined,
): Response {
  if (err instanceof AuthError) {
    if (record) {
      record.reason = err.reason
      record.detail = err.options.detail ?? null
    }
    return errorResponse(err)
  }
  if (record) record.reason = 'internal'
  logLine('error', 'unhandled_error', {
    request_id: requestId ?? null,
    error: err instanceof Error ? err.name : 'unknown',
    // Frames only: a message can quote input (JSON.parse does), and input may be a secret.
    at: err instanceof Error ? (err.stack ?? '').split('\n').slice(1, 4).join(' | ') : null,
  })
  return errorResponse(new AuthError('internal'))
}

/** The Hono form of runInContext: the first middleware of the gateway's endpoints. */
export const requestContext: MiddlewareHandler<AppEnv> = async (c, next) => {
  const response = await runInContext(c.req.raw, c.env, c.executionCtx, async (rc) => {
    c.set('requestId', rc.requestId)
    c.set('record', rc.record)
    c.set('rc', rc)
    await next()
    return c.res
  })
  // The answer is c.res itself unless the config is broken: assigning it again would copy it.
  if (response !== c.res) c.res = response
}

interface Outcome {
  readonly requestId: string
  readonly traceId: string
  readonly method: string
  readonly status: number
  readonly latencyMs: number
  readonly colo: unknown
}

/**
 * Records the request once: its counters and Analytics Engine point, and its log line if it gets
 * one. Returns the line's pending write when the line names a subject (hashed first, so the
 * caller hands it to waitUntil); otherwise the request is recorded without a promise.
 */
function recordRequest(
  subjectHash: SubjectHasher | null,
  analytics: AnalyticsEngineDataset | undefined,
  record: RequestRecord,
  o: Outcome,
  sampleRate: number,
): Promise<void> | undefined {
  const route = record.route ?? 'unmatched'
  const outcome = record.reason === null ? 'ok' : o.status >= 500 ? 'error' : 'rejected'
  const colo = typeof o.colo === 'string' ? o.colo : null
  countMetric('gatehouse_requests_total', { route, outcome, reason: record.reason ?? 'none' })
  observeMetric('gatehouse_request_duration_ms', { route }, o.latencyMs)
  writeRequestPoint(analytics, {
    route,
    method: o.method,
    outcome,
    reason: record.reason ?? 'none',
    tier: record.tier ?? 'none',
    revocation: record.revocation ?? 'none',
    colo: colo ?? 'unknown',
    status: o.status,
    latencyMs: o.latencyMs,
  })
  // Every rejection and error is logged; successes by the configured share (log_sample_rate).
  if (outcome === 'ok' && sampledOut(sampleRate, o.status)) return undefined
  const line = { route, outcome, colo }
  if (subjectHash === null || (record.subject === null && record.targetSubject === null)) {
    writeRequestLine(record, o, line, null, null)
    return undefined
  }
  return Promise.all([
    record.subject === null ? null : subjectHash(record.issuer ?? '', record.subject),
    record.targetSubject === null ? null : subjectHash('', record.targetSubject),
  ]).then(([subject, target]) => writeRequestLine(record, o, line, subject, target))
}

/** The request's log line (README § Logs), subjects only as their hashes. */
function writeRequestLine(
  record: RequestRecord,
  o: Outcome,
  line: { readonly route: string; readonly outcome: string; readonly colo: string | null },
  subjectHash: string | null,
  targetSubjectHash: string | null,
): void {
  logLine(o.status >= 500 ? 'error' : 'info', 'request', {
    request_id: o.requestId,
    trace_id: o.traceId,
    method: o.method,
    route: line.route,
    status: o.status,
    outcome: line.outcome,
    reason: record.reason,
    detail: record.detail,
    tier: record.tier,
    revocation: record.revocation,
    dpop: record.dpop,
    issuer: record.issuer,
    tenant: record.tenant,
    subject_hash: subjectHash,
    kid: record.kid,
    jti: record.jti,
    sid: record.sid,
    shard: record.shard,
    target_subject_hash: targetSubjectHash,
    target_sid: record.targetSid,
    target_jti: record.targetJti,
    colo: line.colo,
    latency_ms: o.latencyMs,
  })
}

/** Whether a successful request's log line is left out: an origin's 5xx is always logged. */
function sampledOut(rate: number, status: number): boolean {
  return status < 500 && rate < 1 && Math.random() >= rate
}

/** The IMF-fixdate of the last second a Date header was written for: one format per second. */
let lastDate = { second: -1, value: '' }

function httpDate(ms: number): string {
  const second = Math.floor(ms / 1000)
  if (second !== lastDate.second) {
    lastDate = { second, value: new Date(second * 1000).toUTCString() }
  }
  return lastDate.value
}

/** The request's clock in whole epoch seconds (token and session times). */
export function nowSeconds(rc: RequestContext): number {
  return Math.floor(rc.services.now() / 1000)
}
