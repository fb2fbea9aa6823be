// The gateway's own account of the run: its JSON request lines (one per request, written after
// the response), read from the file the stack's output is captured to. Every answered request
// must have exactly its line with the same status, and every refusal the ledger expected must
// be logged for the reason it names — a revoked session or jti as `revoked`, a removed key as
// `unknown_kid`, a refresh of an ended session as `invalid_grant`, a replay of a live session
// as `invalid_grant` with detail `refresh token reuse`, a bound token without its key's proof as
// `invalid_dpop_proof`. The wire says `invalid_token` for the first two alike; only the log
// tells them apart.

import { open } from 'node:fs/promises'

/** Lines are written in waitUntil, after the answer: allow them this long to arrive. */
const LOG_WAIT_MS = 10_000
const LOG_POLL_MS = 250
const REUSE_DETAIL = 'refresh token reuse'

/** Reads the request lines of a JSON Lines log file: Map request_id → line. */
export async function readRequestLines(file) {
  const lines = new Map()
  const handle = await open(file, 'r')
  try {
    const text = await handle.readFile('utf8')
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue
      let entry
      try {
        entry = JSON.parse(line)
      } catch {
        continue
      }
      if (entry.event === 'request' && typeof entry.request_id === 'string') {
        lines.set(entry.request_id, entry)
      }
    }
  } finally {
    await handle.close()
  }
  return lines
}

function expectedReason(op, judgement) {
  if (op.kind === 'refresh' && op.variant === 'stolen') {
    return { reason: 'invalid_dpop_proof', detail: null }
  }
  if (op.kind === 'refresh' && op.variant.startsWith('replay-') && judgement.state === 'live') {
    return { reason: 'invalid_grant', detail: REUSE_DETAIL }
  }
  if (judgement.state !== 'revoked') return null
  if (op.kind === 'refresh') return { reason: 'invalid_grant', detail: null }
  return { reason: judgement.rev.type === 'kid' ? 'unknown_kid' : 'revoked', detail: null }
}

/**
 * Matches every answered operation with its log line; resolves to { violations, logged,
 * reasons } where reasons counts the logged refusal reasons of the run.
 */
export async function checkLog(file, ops, judged) {
  const answered = ops.filter((op) => op.error === null)
  const deadline = Date.now() + LOG_WAIT_MS
  let lines
  for (;;) {
    lines = await readRequestLines(file)
    const missing = answered.filter((op) => !lines.has(op.requestId)).length
    if (missing === 0 || Date.now() > deadline) break
    await new Promise((r) => setTimeout(r, LOG_POLL_MS))
  }
  const violations = []
  const reasons = {}
  let logged = 0
  for (const op of answered) {
    const line = lines.get(op.requestId)
    if (line === undefined) {
      violations.push({ op, what: `answered ${op.status} but the gateway logged no request line` })
      continue
    }
    logged++
    op.loggedReason = line.reason
    op.loggedDetail = line.detail
    if (line.reason !== null) reasons[line.reason] = (reasons[line.reason] ?? 0) + 1
    if (line.status !== op.status) {
      violations.push({ op, what: `answered ${op.status} but logged ${line.status}` })
      continue
    }
    const judgement = judged.get(op.id)
    const want = judgement ? expectedReason(op, judgement) : null
    if (want === null || op.status < 400) continue
    const detailOk = want.detail === null || line.detail === want.detail
    const keyFirst = judgement.kidRaced && line.reason === 'unknown_kid' && op.kind !== 'refresh'
    if ((line.reason !== want.reason || !detailOk) && !keyFirst) {
      const as = `${line.reason}${line.detail ? ` (${line.detail})` : ''}`
      const expected = `${want.reason}${want.detail ? ` (${want.detail})` : ''}`
      violations.push({ op, what: `refused as ${as}, expected ${expected}` })
    }
  }
  return { violations, logged, reasons }
}
