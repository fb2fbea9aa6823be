// Observability endpoints: GET /metrics (Prometheus text, for a scraper holding the scrape
// secret or an operator), GET /admin/audit-events (one user's audit trail, within the admin's
// tenant), and POST /admin/explain (operator: which check a token fails, without echoing it).

import { jsonResponse, requireAdmin } from './admin-auth'
import type { RequestContext } from '../request-context'
import { AuthError } from '../../lib/errors'
import { logLine } from '../../observability/log'
import { renderPrometheus } from '../../observability/prometheus'
import { explainToken } from './explain'
import { readJsonObject, stringField } from '../../lib/json-body'

const encoder = new TextEncoder()

async function constantTimeEquals(a: string, b: string): Promise<boolean> {
  // Compare digests, so neither length nor content leaks through timing.
  const [da, db] = await Promise.all([
    crypto.subtle.digest('SHA-256', encoder.encode(a)),
    crypto.subtle.digest('SHA-256', encoder.encode(b)),
  ])
  const x = new Uint8Array(da)
  const y = new Uint8Array(db)
  let diff = 0
  for (let i = 0; i < x.length; i++) diff |= (x[i] as number) ^ (y[i] as number)
  return diff === 0
}

/** Seconds a scraper is told to wait after a shard failed (the next scrape usually comes later). */
const SCRAPE_RETRY_AFTER_SECONDS = 1

/**
 * GET /metrics: every aggregator shard's totals summed. A shard that does not answer makes it
 * 503 store_unavailable (logged as metrics_scrape_failed), never a sum that silently misses it.
 */
export async function metricsEndpoint(request: Request, rc: RequestContext): Promise<Response> {
  const secret = rc.config.metricsScrapeSecret
  const presented = /^bearer +(.+)$/i.exec(request.headers.get('authorization') ?? '')?.[1] ?? null
  const isScraper =
    secret !== null && presented !== null && (await constantTimeEquals(presented, secret))
  if (!isScraper) await requireAdmin(request, rc, true)
  try {
    await rc.services.metrics.flushNow()
  } catch {
    // this isolate's deltas wait for its next flush; the shards' totals are still whole
  }
  const scrape = await rc.services.metrics.snapshot()
  if (!scrape.ok) {
    logLine('error', 'metrics_scrape_failed', {
      request_id: rc.requestId,
      shards: scrape.failedShards.map((i) => `metrics-${i}`).join(' '),
      error: scrape.error,
    })
    throw new AuthError('store_unavailable', {
      detail: `metrics shards unavailable: ${scrape.failedShards.join(',')}`,
      retryAfterSeconds: SCRAPE_RETRY_AFTER_SECONDS,
    })
  }
  return new Response(renderPrometheus(scrape.series), {
    headers: {
      'content-type': 'text/plain; version=0.0.4; charset=utf-8',
      'cache-control': 'no-store',
    },
  })
}

/** GET /admin/audit-events?sub=…&limit=… */
export async function auditEventsEndpoint(request: Request, rc: RequestContext): Promise<Response> {
  const admin = await requireAdmin(request, rc)
  const params = new URL(request.url).searchParams
  const sub = params.get('sub')
  if (!sub) throw new AuthError('bad_request', { detail: 'sub is required' })
  rc.record.targetSubject = sub
  const limit = Math.min(500, Math.max(1, Number(params.get('limit') ?? '100') || 100))
  // A tenant admin sees only its tenant's events; an operator sees every tenant's.
  const tenant = admin.operator ? null : admin.tenant
  const rows = await rc.services.auditDb
    .prepare(
      'SELECT at, type, tenant, user_id, sid, request_id, detail FROM audit_events WHERE user_id = ?1 AND (?3 IS NULL OR tenant = ?3) ORDER BY at DESC, id DESC LIMIT ?2',
    )
    .bind(sub, limit, tenant)
    .all<{ detail: string } & Record<string, unknown>>()
  const events = rows.results.map((r) => ({ ...r, detail: JSON.parse(r.detail) as unknown }))
  return jsonResponse({ sub, events })
}

/** POST /admin/explain {token} (operator: it reads tokens of any tenant) */
export async function explainEndpoint(request: Request, rc: RequestContext): Promise<Response> {
  await requireAdmin(request, rc, true)
  const token = stringField(await readJsonObject(request, 16 * 1024), 'token', 12_000)
  return jsonResponse(await explainToken(token, rc))
}
