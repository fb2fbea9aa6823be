// W3C Trace Context (https://www.w3.org/TR/trace-context/): an incoming valid `traceparent` is
// honoured (same trace id and flags), the gateway adds its own span id, and the result is what
// the origin receives. An invalid or absent header starts a new trace.

export interface TraceContext {
  readonly traceId: string
  /** The gateway's span, sent to the origin as its parent. */
  readonly spanId: string
  readonly flags: string
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/
const ZERO_TRACE = '0'.repeat(32)
const ZERO_SPAN = '0'.repeat(16)

/** Continues the caller's trace or starts one; never throws. */
export function continueTrace(traceparent: string | null): TraceContext {
  const match = traceparent === null ? null : TRACEPARENT.exec(traceparent.trim())
  // One draw for both ids: 8 bytes of span id, then 16 of trace id (used when starting one).
  const random = crypto.getRandomValues(new Uint8Array(24))
  const spanId = hex(random, 0, 8)
  if (match === null || match[1] === ZERO_TRACE || match[2] === ZERO_SPAN) {
    return { traceId: hex(random, 8, 24), spanId, flags: '01' }
  }
  return { traceId: match[1] as string, spanId, flags: match[3] as string }
}

export function formatTraceparent(trace: TraceContext): string {
  return `00-${trace.traceId}-${trace.spanId}-${trace.flags}`
}

const HEX_BYTE = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'))

function hex(bytes: Uint8Array, start: number, end: number): string {
  let out = ''
  for (let i = start; i < end; i++) out += HEX_BYTE[bytes[i] as number]
  return out
}
