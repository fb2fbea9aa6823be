// The Hono context every handler shares: typed bindings and per-request variables, and the
// first middleware, which loads the isolate's Config (a broken config answers 500 everywhere),
// assigns the request id and trace, and writes exactly one log line when the request ends.

import type { Context, MiddlewareHandler } from 'hono'
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

export type AppEnv = {
  Bindings: Env
  Variables: {
    config: Config
    requestId: string
    trace: TraceContext
    record: RequestRecord
  }
}

export type AppContext = Context<AppEnv>

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
  c.set('trace', trace)
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
    c.set('config', config)
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
