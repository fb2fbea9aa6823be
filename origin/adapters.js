// Three ways into the verifier: a plain Node `http` handler (the caller reads the body), Express
// middleware and Hono middleware (they read it). Each hands the verifier the request exactly as
// received — Host header, raw target, raw body bytes — and on failure answers a bare 401 whose
// body names no check; which check failed goes to `onRejected` (default: one JSON log line).

import { splitUrl } from './request-binding.js'

/** @typedef {import('./index.js').AssertionVerifier} AssertionVerifier */
/** @typedef {import('./index.js').AssertionResult} AssertionResult */
/** @typedef {import('./index.js').AssertionFailure} AssertionFailure */
/** @typedef {import('./index.js').NodeRequestLike} NodeRequestLike */
/** @typedef {import('./index.js').MiddlewareOptions} MiddlewareOptions */

/** The gateway's default max_bound_body_bytes: no bound body is larger. */
const DEFAULT_MAX_BODY_BYTES = 1_048_576
const REJECTED_BODY = JSON.stringify({ error: 'invalid_gatehouse_assertion' })

/**
 * Verifies a Node `http.IncomingMessage` whose body the caller has read (null or empty: none).
 * @param {AssertionVerifier} verifier
 * @param {NodeRequestLike} req
 * @param {Uint8Array | null} body
 * @returns {Promise<AssertionResult>}
 */
export function verifyNodeRequest(verifier, req, body) {
  const host = req.headers.host
  return verifier.verify({
    method: req.method ?? 'GET',
    host: typeof host === 'string' ? host : null,
    // Node's req.url is the request target as received; Express rewrites it under a mount
    // path and keeps the original in originalUrl.
    target: req.originalUrl ?? req.url ?? '',
    headers: req.headers,
    body,
  })
}

/**
 * Reads a Node request body into memory; resolves null when there is none. Rejects with an
 * Error whose `code` is `body_too_large` past `maxBytes`.
 * @param {AsyncIterable<Uint8Array | string>} req
 * @param {number} [maxBytes]
 * @returns {Promise<Uint8Array | null>}
 */
export async function readNodeBody(req, maxBytes = DEFAULT_MAX_BODY_BYTES) {
  /** @type {Uint8Array[]} */
  const chunks = []
  let total = 0
  for await (const chunk of req) {
    const bytes = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk
    total += bytes.byteLength
    if (total > maxBytes) {
      throw Object.assign(new Error(`request body over ${maxBytes} bytes`), {
        code: 'body_too_large',
      })
    }
    chunks.push(bytes)
  }
  if (total === 0) return null
  const out = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}

/**
 * Express middleware. Mount it before any body parser, or after `express.raw()`: it needs the
 * body's exact bytes. It reads an unread body itself (then `req.body` is that Buffer), puts the
 * claims in `res.locals.gatehouse`, and answers 401 (413 over `maxBodyBytes`) otherwise.
 * @param {AssertionVerifier} verifier
 * @param {MiddlewareOptions} [options]
 * @returns {(req: any, res: any, next: (err?: unknown) => void) => void}
 */
export function expressAssertion(verifier, options = {}) {
  const maxBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  const onRejected = options.onRejected ?? logRejection
  return (req, res, next) => {
    const run = async () => {
      /** @type {Uint8Array | null} */
      let body
      if (req.body instanceof Uint8Array) body = req.body.byteLength === 0 ? null : req.body
      else if (req.readableEnded) {
        throw new Error(
          'gatehouse/origin: a body parser consumed the request body before the assertion was ' +
            'verified; mount expressAssertion first, or after express.raw()',
        )
      } else {
        try {
          body = await readNodeBody(req, maxBytes)
        } catch (err) {
          if (/** @type {{ code?: string }} */ (err).code !== 'body_too_large') throw err
          res.status(413).end()
          return
        }
        // A Buffer where there is one (Node, Bun, Deno), so `JSON.parse(req.body)` works.
        if (req.body === undefined && body !== null) {
          req.body =
            typeof Buffer === 'function'
              ? Buffer.from(body.buffer, body.byteOffset, body.byteLength)
              : body
        }
      }
      const result = await verifyNodeRequest(verifier, req, body)
      if (!result.ok) {
        onRejected(result.reason)
        res.status(401).type('application/json').send(REJECTED_BODY)
        return
      }
      res.locals.gatehouse = result.claims
      next()
    }
    run().catch(next)
  }
}

/**
 * Hono middleware: verifies, sets `c.get('gatehouse')` to the claims, or answers 401. The body
 * is read through Hono's request cache, so handlers can still call `c.req.json()`.
 * @param {AssertionVerifier} verifier
 * @param {Pick<MiddlewareOptions, 'onRejected'>} [options]
 * @returns {import('hono').MiddlewareHandler<{ Variables: { gatehouse: import('./index.js').AssertionClaims } }>}
 */
export function honoAssertion(verifier, options = {}) {
  const onRejected = options.onRejected ?? logRejection
  return async (c, next) => {
    const raw = c.req.raw
    const body = raw.body === null ? null : new Uint8Array(await c.req.arrayBuffer())
    // c.req.url is the serialised request URL; its path and query are the target as received
    // (the gateway sends serialised URLs, which serialise to themselves).
    const url = splitUrl(c.req.url)
    const result = await verifier.verify({
      method: c.req.method,
      host: c.req.header('host') ?? url?.authority ?? null,
      target: url?.target ?? '',
      headers: raw.headers,
      body: body !== null && body.byteLength === 0 ? null : body,
    })
    if (!result.ok) {
      onRejected(result.reason)
      return c.body(REJECTED_BODY, 401, { 'content-type': 'application/json' })
    }
    c.set('gatehouse', result.claims)
    await next()
    return undefined
  }
}

/** @param {AssertionFailure} reason */
function logRejection(reason) {
  console.warn(JSON.stringify({ event: 'gatehouse_assertion_rejected', reason }))
}
