// The gateway's own account of a request: the global setup appends every JSON log line of the
// stack to a file (JSON Lines); this reads it incrementally and finds the one `event: "request"`
// line whose request_id is the answer's X-Request-Id. The line is written after the response (in
// waitUntil), so a lookup polls briefly. Why a request was refused is never on the wire beyond
// `invalid_token`; it is in this line's `reason` (src/lib/errors.ts), which is what lets a
// black-box case prove it reached the check it names.

import { open } from 'node:fs/promises'
import { expect, inject } from 'vitest'
import type { Answer } from './raw-http'

const LOG = inject('gatehouse').log
const WAIT_MS = 5_000
const POLL_MS = 10

/** The request line the gateway logs once per request (src/http/request-context.ts). */
interface LoggedRequest {
  readonly request_id: string
  readonly status: number
  readonly outcome: string
  readonly reason: string | null
  readonly detail: string | null
  readonly route: string
  readonly tier: string | null
  readonly revocation: string | null
  readonly issuer: string | null
  readonly tenant: string | null
  readonly [field: string]: unknown
}

const seen = new Map<string, LoggedRequest>()
let offset = 0
let partial = Buffer.alloc(0)

/** Reads what was appended since the last call; keeps a torn last line for the next one. */
async function pump(): Promise<void> {
  const file = await open(LOG, 'r')
  try {
    const { size } = await file.stat()
    if (size <= offset) return
    const chunk = Buffer.alloc(size - offset)
    const { bytesRead } = await file.read(chunk, 0, chunk.length, offset)
    offset += bytesRead
    const text = Buffer.concat([partial, chunk.subarray(0, bytesRead)])
    const end = text.lastIndexOf(0x0a)
    partial = Buffer.from(text.subarray(end + 1))
    if (end < 0) return
    for (const line of text.subarray(0, end).toString('utf8').split('\n')) {
      let entry: Record<string, unknown>
      try {
        entry = JSON.parse(line) as Record<string, unknown>
      } catch {
        continue
      }
      if (entry.event === 'request' && typeof entry.request_id === 'string') {
        seen.set(entry.request_id, entry as unknown as LoggedRequest)
      }
    }
  } finally {
    await file.close()
  }
}

/** The request line for `requestId`, waiting up to 5 s for it to be written. */
async function loggedRequest(requestId: string): Promise<LoggedRequest> {
  const deadline = Date.now() + WAIT_MS
  for (;;) {
    await pump()
    const entry = seen.get(requestId)
    if (entry !== undefined) return entry
    if (Date.now() > deadline) throw new Error(`no request line logged for ${requestId}`)
    await new Promise((r) => setTimeout(r, POLL_MS))
  }
}

/**
 * Asserts the reason the gateway logged for the request that produced `answer` (null for a
 * request that passed), and optionally its detail. Returns the line.
 */
export async function expectLoggedReason(
  answer: Answer,
  reason: string | null,
  detail?: string | RegExp,
): Promise<LoggedRequest> {
  const id = answer.headers.get('x-request-id')
  expect(id, 'the answer carries x-request-id').toBeTruthy()
  const entry = await loggedRequest(id as string)
  expect({ reason: entry.reason, status: entry.status }).toEqual({ reason, status: answer.status })
  if (detail !== undefined) expect(entry.detail ?? '').toMatch(detail)
  return entry
}
