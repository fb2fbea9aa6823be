// CORS per route (Fetch standard §3.2): a browser app on another origin may call a route whose
// `cors` lists that origin. Preflights are answered at the edge — no token, never forwarded — with
// exactly the configured grants; an origin not on the list gets none. Actual answers (the
// origin's and the gateway's own errors alike) get the grant headers, replacing any the origin
// set, and always `Vary: Origin`. Pure functions over headers.

export interface RouteCors {
  /** Exact origins (scheme://host[:port]), or ['*'] for any origin (never with credentials). */
  readonly origins: readonly string[]
  readonly methods: readonly string[]
  /** Request headers a browser may send (lower case). */
  readonly headers: readonly string[]
  /** Response headers a browser script may read. */
  readonly exposeHeaders: readonly string[]
  readonly credentials: boolean
  readonly maxAgeSeconds: number
}

const GRANT_HEADERS = [
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-expose-headers',
  'access-control-max-age',
]

/** Whether a request is a CORS preflight (RFC: OPTIONS with Access-Control-Request-Method). */
export function isPreflight(method: string, headers: Headers): boolean {
  return method === 'OPTIONS' && headers.has('access-control-request-method')
}

/** The Access-Control-Allow-Origin value for a request's Origin, or null (no grant). */
function allowedOrigin(cors: RouteCors, origin: string | null): string | null {
  if (origin === null) return null
  if (cors.origins.includes(origin)) return origin
  return cors.origins.includes('*') ? '*' : null
}

/** The grant headers for an actual (non-preflight) answer; empty when the origin is not allowed. */
export function responseGrant(cors: RouteCors, origin: string | null): Record<string, string> {
  const allow = allowedOrigin(cors, origin)
  if (allow === null) return {}
  const grant: Record<string, string> = { 'access-control-allow-origin': allow }
  if (cors.credentials) grant['access-control-allow-credentials'] = 'true'
  if (cors.exposeHeaders.length > 0) {
    grant['access-control-expose-headers'] = cors.exposeHeaders.join(', ')
  }
  return grant
}

/**
 * The answer to a preflight: 204 with the configured grants for an allowed origin; null when the
 * origin is not allowed (the caller refuses it without any grant).
 */
export function preflightGrant(
  cors: RouteCors,
  origin: string | null,
): Record<string, string> | null {
  const grant = responseGrant(cors, origin)
  if (Object.keys(grant).length === 0) return null
  return {
    ...grant,
    'access-control-allow-methods': cors.methods.join(', '),
    ...(cors.headers.length > 0 ? { 'access-control-allow-headers': cors.headers.join(', ') } : {}),
    'access-control-max-age': String(cors.maxAgeSeconds),
    vary: 'Origin',
  }
}

/** Replaces any CORS grant an origin set with the route's own, and adds `Vary: Origin`. */
export function applyGrant(headers: Headers, grant: Readonly<Record<string, string>>): void {
  for (const name of GRANT_HEADERS) headers.delete(name)
  for (const [name, value] of Object.entries(grant)) headers.set(name, value)
  const vary = headers.get('vary')
  if (vary === null) headers.set('vary', 'Origin')
  else if (!/(^|,)\s*(origin|\*)\s*(,|$)/i.test(vary)) headers.set('vary', `${vary}, Origin`)
}
