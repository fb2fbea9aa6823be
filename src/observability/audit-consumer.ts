// The AUTH_EVENTS queue consumer: writes a batch of security events to the audit_events table
// in one D1 batch, off every request path. A malformed message is acknowledged and logged (a
// retry would not fix it); a D1 failure retries the whole batch (the queue redelivers).

import { logLine } from './log'

export interface QueuedEvent {
  readonly type: string
  readonly at: number
  readonly tenant?: string | null
  readonly user_id?: string | null
  readonly sid?: string | null
  readonly request_id?: string | null
  readonly [field: string]: unknown
}

function isEvent(body: unknown): body is QueuedEvent {
  if (typeof body !== 'object' || body === null) return false
  const e = body as Record<string, unknown>
  return typeof e.type === 'string' && typeof e.at === 'number'
}

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null)

export async function consumeAuthEvents(
  batch: MessageBatch<unknown>,
  db: D1Database,
): Promise<void> {
  const statements: D1PreparedStatement[] = []
  for (const message of batch.messages) {
    if (!isEvent(message.body)) {
      logLine('warn', 'audit_event_malformed', { message_id: message.id })
      continue
    }
    const { type, at, tenant, user_id, sid, request_id, ...rest } = message.body
    statements.push(
      db
        .prepare(
          'INSERT INTO audit_events (at, type, tenant, user_id, sid, request_id, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)',
        )
        .bind(
          at,
          type,
          text(tenant),
          text(user_id),
          text(sid),
          text(request_id),
          JSON.stringify(rest),
        ),
    )
  }
  if (statements.length === 0) return
  try {
    await db.batch(statements)
  } catch (err) {
    logLine('error', 'audit_write_failed', {
      events: statements.length,
      error: err instanceof Error ? err.name : 'unknown',
    })
    batch.retryAll()
  }
}

/**
 * Deletes audit events from before `before` (epoch seconds), in batches of `batchSize` until
 * none are left or `maxBatches` ran; returns how many (cron, audit_retention_days).
 */
export async function pruneAuditEvents(
  db: D1Database,
  before: number,
  batchSize = 1000,
  maxBatches = 100,
): Promise<number> {
  let removed = 0
  for (let i = 0; i < maxBatches; i++) {
    const result = await db
      .prepare(
        'DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < ?1 LIMIT ?2)',
      )
      .bind(before, batchSize)
      .run()
    const changes = result.meta.changes ?? 0
    removed += changes
    if (changes < batchSize) break
  }
  return removed
}
