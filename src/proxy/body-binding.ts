// Binding a request body to the identity assertion: headers leave before the body and Workers'
// fetch sends no request trailers, so a body is read first — up to the route's limit, in bounded
// memory — and its RFC 9530 Content-Digest (sha-256) goes into the assertion. A larger body is
// refused on routes that require binding (413) and elsewhere forwarded streamed, unbound: the
// chunks already read are replayed before the rest of the stream, so nothing is lost.

import { AuthError } from '../lib/errors'

export type PreparedBody =
  | { readonly state: 'none'; readonly body: null; readonly digest: null }
  | { readonly state: 'bound'; readonly body: Uint8Array; readonly digest: string }
  | { readonly state: 'unbound'; readonly body: ReadableStream; readonly digest: null }

export interface BodyPolicy {
  readonly binding: 'required' | 'best_effort' | 'off'
  readonly maxBytes: number
}

const NONE: PreparedBody = { state: 'none', body: null, digest: null }

function tooLarge(maxBytes: number): AuthError {
  return new AuthError('payload_too_large', {
    detail: `body over ${maxBytes} bytes on a route that binds bodies`,
  })
}

/** RFC 9530 `Content-Digest` value of bytes: `sha-256=:<base64>:`. */
export async function contentDigest(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
  let binary = ''
  for (const b of digest) binary += String.fromCharCode(b)
  return `sha-256=:${btoa(binary)}:`
}

/**
 * Reads (or passes through) a request body as the route's binding policy says; a request without
 * a body (most of them) is answered at once, without a promise.
 */
export function prepareBody(
  body: ReadableStream<Uint8Array> | null,
  method: string,
  contentLength: string | null,
  policy: BodyPolicy,
): PreparedBody | Promise<PreparedBody> {
  if (body === null || method === 'GET' || method === 'HEAD') return NONE
  return readBody(body, contentLength, policy)
}

async function readBody(
  body: ReadableStream<Uint8Array>,
  contentLength: string | null,
  policy: BodyPolicy,
): Promise<PreparedBody> {
  if (policy.binding === 'off') return { state: 'unbound', body, digest: null }
  const declared = contentLength === null ? NaN : Number(contentLength)
  if (declared > policy.maxBytes) {
    if (policy.binding === 'required') throw tooLarge(policy.maxBytes)
    return { state: 'unbound', body, digest: null }
  }
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    chunks.push(value)
    total += value.byteLength
    if (total > policy.maxBytes) {
      if (policy.binding === 'required') {
        await reader.cancel().catch(() => undefined)
        throw tooLarge(policy.maxBytes)
      }
      return { state: 'unbound', body: replay(chunks, reader), digest: null }
    }
  }
  const bytes = concat(chunks, total)
  return { state: 'bound', body: bytes, digest: await contentDigest(bytes) }
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array
  const out = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}

/** The chunks already read, then the rest of the stream. */
function replay(
  chunks: Uint8Array[],
  reader: ReadableStreamDefaultReader<Uint8Array>,
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = chunks.shift()
      if (next !== undefined) {
        controller.enqueue(next)
        return
      }
      const { done, value } = await reader.read()
      if (done) controller.close()
      else controller.enqueue(value)
    },
    cancel: (reason) => reader.cancel(reason),
  })
}
