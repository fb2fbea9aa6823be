// Security and audit events: one log line each, and a message on the AUTH_EVENTS queue whose
// consumer writes the audit table off the request path. Emitting never blocks or fails the
// request: the queue send runs in waitUntil and its failure is only logged.

import { logLine, type LogFields } from './log'
import { countMetric } from './metrics'

export type SecurityEventType =
  | 'login_succeeded'
  | 'login_failed'
  | 'login_throttled'
  | 'refresh_reuse_detected'
  | 'refresh_suspicious'
  | 'refresh_dpop_refused'
  | 'session_revoked'
  | 'signing_key_rotated'
  | 'signing_key_emergency_rotation'
  | 'factor_enrolled'
  | 'factor_removed'
  | 'factors_reset'
  | 'recovery_codes_created'
  | 'recovery_code_used'
  | 'mfa_required'
  | 'mfa_failed'
  | 'mfa_throttled'
  | 'passkey_counter_regressed'
  | 'step_up_required'
  | 'step_up_succeeded'
  | 'user_scopes_changed'

export interface SecurityEvent extends LogFields {
  readonly type: SecurityEventType
  readonly tenant?: string | null
  /** The user id (the token's sub), never a username or password. */
  readonly user_id?: string | null
  readonly sid?: string | null
  readonly reason?: string | null
}

/** Where a request's events go: built once per request by createEventSink. */
export interface EventSink {
  readonly queue: Queue | undefined
  readonly waitUntil: (promise: Promise<unknown>) => void
  readonly requestId: string | null
  /** Epoch milliseconds. */
  readonly now: () => number
}

/** The one way to make a sink (the request context and the cron each make one). */
export function createEventSink(
  queue: Queue | undefined,
  waitUntil: (promise: Promise<unknown>) => void,
  requestId: string | null,
  now: () => number,
): EventSink {
  return { queue, waitUntil, requestId, now }
}

const WARN_EVENTS = new Set<SecurityEventType>([
  'login_throttled',
  'refresh_reuse_detected',
  'refresh_suspicious',
  'refresh_dpop_refused',
  'signing_key_emergency_rotation',
  'mfa_failed',
  'mfa_throttled',
  'passkey_counter_regressed',
  'factors_reset',
])

/** Logs the event and queues it for the audit table; never throws. */
export function emitSecurityEvent(sink: EventSink, event: SecurityEvent): void {
  countMetric('gatehouse_security_events_total', { type: event.type })
  const at = Math.floor(sink.now() / 1000)
  const { type, ...fields } = event
  logLine(WARN_EVENTS.has(type) ? 'warn' : 'info', 'security_event', {
    ...fields,
    type,
    request_id: sink.requestId,
  })
  const queue = sink.queue
  if (queue === undefined) return
  try {
    sink.waitUntil(
      queue.send({ ...event, at, request_id: sink.requestId }).catch(() => {
        logLine('warn', 'security_event_queue_failed', { type })
      }),
    )
  } catch {
    logLine('warn', 'security_event_queue_failed', { type })
  }
}
