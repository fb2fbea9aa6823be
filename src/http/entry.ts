// The Worker's fetch entry. The gateway's own endpoints (/auth, /admin, /.well-known, /healthz,
// /metrics, /demo) run under the Hono app with its router and middleware; every other request is
// a proxied one and goes straight to the proxy, in the same request context (runInContext), with
// the same error exit. The router and its per-request Context cost as much CPU as the bare
// forward itself (bench: `hono-minimal` vs `bare`), and the proxy's catch-all never needed them.

import type { Env } from '../config/env'
import { app } from './app'
import { proxyRequest } from './proxy'
import { runInContext } from './request-context'

/**
 * First path segments the app's endpoints live under, compared case-insensitively and as
 * prefixes (so `/authx` is the app's too: it then reaches the same catch-all there, only slower).
 */
const APP_PREFIXES = ['/auth', '/admin', '/.well-known', '/healthz', '/metrics', '/demo']
/** The longest prefix: only this much of a path is lower-cased. */
const LONGEST_PREFIX = Math.max(...APP_PREFIXES.map((p) => p.length))

/**
 * Whether the Hono app may claim this URL. A path with '%' anywhere goes to the app too: Hono
 * decodes paths before matching (`/%61uth/login` is its `/auth/login`); the query does not count.
 */
export function isAppPath(url: string): boolean {
  const schemeEnd = url.indexOf('://')
  const pathStart = url.indexOf('/', schemeEnd < 0 ? 0 : schemeEnd + 3)
  if (pathStart < 0) return true
  const head = url.slice(pathStart, pathStart + LONGEST_PREFIX).toLowerCase()
  for (const prefix of APP_PREFIXES) if (head.startsWith(prefix)) return true
  const percent = url.indexOf('%', pathStart)
  if (percent < 0) return false
  const query = url.indexOf('?', pathStart)
  return query < 0 || percent < query
}

export function handleFetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  if (isAppPath(request.url)) return Promise.resolve(app.fetch(request, env, ctx))
  return runInContext(request, env, ctx, (rc) => proxyRequest(request, rc))
}
