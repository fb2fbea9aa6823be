// The first middleware: loads the isolate's Config (a broken config answers 500 everywhere),
// assigns the request id and trace, hands every handler one RequestScope (the only way code
// below app.ts reaches bindings), and writes exactly one log line when the request ends.

import type { MiddlewareHandler } from 'hono'
import { ConfigError, loadConfig, type Config } from './config'
import type { Env } from './env'
import { AuthError, errorResponse, type Reason } from './errors'
import { logLine } from './observability/log'
import { continueTrace, type TraceContext } from './observability/trace'

/** Facts about one request, filled in as it is handled and logged once at the end. */
export interface RequestRecord {
  route: string | null
  tier: string | null
  reason: Reason | null
  detail: string | null
  issuer: string | null
  kid: string | null
  jti: string | null
  sid: string | null
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

/** First middleware: config, request id, trace, and the one log line per request. */
export const requestContext: MiddlewareHandler<AppEnv> = async (c, next) => {
  const started = Date.now()
  const requestId = crypto.randomUUID()
  const trace = continueTrace(c.req.header('traceparent') ?? null)
  const record: RequestRecord = {
    route: null,
    tier: null,
    reason: null,
    detail: null,
    issuer: null,
    kid: null,
    jti: null,
    sid: null,
  }
  c.set('requestId', requestId)
  c.set('record', record)
  const config = loadConfig(c.env)
  if (config instanceof ConfigError) {
    if (!loggedConfigErrors.has(config)) {
      loggedConfigErrors.add(config)
      logLine('error', 'config_invalid', { field: config.field, message: config.message })
    }
    record.reason = 'config_invalid'
    c.res = errorResponse(new AuthError('config_invalid'))
  } else {
    const ctx = c.executionCtx
    c.set('scope', {
      env: c.env,
      config,
      requestId,
      trace,
      record,
      waitUntil: (p) => ctx.waitUntil(p),
    })
    await next()
  }
  c.res.headers.set('x-request-id', requestId)
  logLine(c.res.status >= 500 ? 'error' : 'info', 'request', {
    request_id: requestId,
    trace_id: trace.traceId,
    method: c.req.method,
    route: record.route,
    status: c.res.status,
    outcome: record.reason === null ? 'ok' : 'rejected',
    reason: record.reason,
    detail: record.detail,
    tier: record.tier,
    issuer: record.issuer,
    kid: record.kid,
    jti: record.jti,
    sid: record.sid,
    latency_ms: Date.now() - started,
  })
}
