// The first middleware: loads the isolate's Config (a broken config answers 500 everywhere),
// assigns the request id and trace, hands every handler one RequestScope (the only way code
// below app.ts reaches bindings), and, when the request ends, records it exactly once: one JSON
// log line, the request counters, one Analytics Engine point, and (every few seconds) a flush
// of the isolate's metrics — the last three in waitUntil, after the response.

import type { MiddlewareHandler } from 'hono'
import { ConfigError, loadConfig, type Config } from '../config/config'
import type { Env } from '../config/env'
import { AuthError, errorResponse, type Reason } from '../lib/errors'
import { logLine } from '../observability/log'
import { countMetric, observeMetric } from '../observability/metrics'
import { scheduleMetricsFlush, writeRequestPoint } from './metrics-flush'
import { subjectHash } from '../observability/subject-hash'
import { continueTrace, type TraceContext } from '../observability/trace'

/** Facts about one request, filled in as it is handled and recorded once at the end. */
export interface RequestRecord {
  /** Route prefix or gateway endpoint (a bounded label), null until routed. */
  route: string | null
  tier: string | null
  reason: Reason | null
  detail: string | null
  issuer: string | null
  kid: string | null
  jti: string | null
  sid: string | null
  tenant: string | null
  /** The verified subject; logged only as a hash. */
  subject: string | null
  revocation: string | null
}

/** What a handler needs of its request's environment, passed down explicitly. */
export interface RequestScope {
  readonly env: Env
  readonly config: Config
  readonly requestId: string
  readonly trace: TraceContext
  readonly record: RequestRecord
  readonly waitUntil: (promise: Promise<unknown>) => void
}

export type AppEnv = {
  Bindings: Env
  Variables: { scope: RequestScope; record: RequestRecord; requestId: string }
}

const loggedConfigErrors = new WeakSet<ConfigError>()

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
    tenant: null,
    subject: null,
    revocation: null,
  }
}

/** First middleware: config, request id, trace, and the one record per request. */
export const requestContext: MiddlewareHandler<AppEnv> = async (c, next) => {
  const started = Date.now()
  const requestId = crypto.randomUUID()
  const trace = continueTrace(c.req.header('traceparent') ?? null)
  const record = newRecord()
  c.set('requestId', requestId)
  c.set('record', record)
  const ctx = c.executionCtx
  const waitUntil = (p: Promise<unknown>) => ctx.waitUntil(p)
  const config = loadConfig(c.env)
  if (config instanceof ConfigError) {
    if (!loggedConfigErrors.has(config)) {
      loggedConfigErrors.add(config)
      logLine('error', 'config_invalid', { field: config.field, message: config.message })
    }
    record.reason = 'config_invalid'
    c.res = errorResponse(new AuthError('config_invalid'))
  } else {
    c.set('scope', { env: c.env, config, requestId, trace, record, waitUntil })
    await next()
  }
  c.res.headers.set('x-request-id', requestId)
  const status = c.res.status
  const latencyMs = Date.now() - started
  const method = c.req.method
  const colo = (c.req.raw as { cf?: { colo?: unknown } }).cf?.colo
  waitUntil(
    recordRequest(
      c.env,
      record,
      { requestId, traceId: trace.traceId, method, status, latencyMs, colo },
      waitUntil,
    ),
  )
}

interface Outcome {
  readonly requestId: string
  readonly traceId: string
  readonly method: string
  readonly status: number
  readonly latencyMs: number
  readonly colo: unknown
}

async function recordRequest(
  env: Env,
  record: RequestRecord,
  o: Outcome,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<void> {
  const route = record.route ?? 'unmatched'
  const outcome = record.reason === null ? 'ok' : o.status >= 500 ? 'error' : 'rejected'
  const colo = typeof o.colo === 'string' ? o.colo : null
  logLine(o.status >= 500 ? 'error' : 'info', 'request', {
    request_id: o.requestId,
    trace_id: o.traceId,
    method: o.method,
    route,
    status: o.status,
    outcome,
    reason: record.reason,
    detail: record.detail,
    tier: record.tier,
    revocation: record.revocation,
    issuer: record.issuer,
    tenant: record.tenant,
    subject_hash:
      record.subject === null ? null : await subjectHash(record.issuer ?? '', record.subject),
    kid: record.kid,
    jti: record.jti,
    sid: record.sid,
    colo,
    latency_ms: o.latencyMs,
  })
  countMetric('gatehouse_requests_total', { route, outcome, reason: record.reason ?? 'none' })
  observeMetric('gatehouse_request_duration_ms', { route }, o.latencyMs)
  writeRequestPoint(env.METRICS, {
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
  if (env.METRICS_AGGREGATOR !== undefined) scheduleMetricsFlush(env, waitUntil)
}
