// One forward to an origin: the body streams through untouched, redirects pass back to the
// client, the route's timeout bounds the wait for response headers (not the body download),
// and the proxy's own failures are distinct reasons — 504 timeout, 502 unreachable — while an
// origin's own answers, errors included, pass through unchanged.

import { AuthError } from '../errors'
import { clientResponseHeaders } from './header-rules'

export interface ForwardInput {
  readonly url: string
  readonly method: string
  readonly headers: Headers
  readonly body: ReadableStream | null
  readonly timeoutMs: number
  readonly gatewayCookies: readonly string[]
  readonly fetch: typeof fetch
}

/** Sends the request; throws AuthError origin_timeout | origin_unreachable. */
export async function forwardToOrigin(input: ForwardInput): Promise<Response> {
  const controller = new AbortController()
  const timer = setTimeout(
    () => controller.abort(new DOMException('origin timeout', 'TimeoutError')),
    input.timeoutMs,
  )
  let response: Response
  try {
    response = await input.fetch(input.url, {
      method: input.method,
      headers: input.headers,
      body: input.method === 'GET' || input.method === 'HEAD' ? null : input.body,
      redirect: 'manual',
      signal: controller.signal,
    })
  } catch (err) {
    if (controller.signal.aborted)
      throw new AuthError('origin_timeout', { detail: `after ${input.timeoutMs} ms` })
    throw new AuthError('origin_unreachable', {
      detail: err instanceof Error ? err.name : 'fetch failed',
    })
  } finally {
    clearTimeout(timer)
  }
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers: clientResponseHeaders(response.headers, input.gatewayCookies),
  })
}
