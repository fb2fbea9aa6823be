// Which client headers reach an origin, and which origin headers reach the client. Pure
// functions over Headers. Everything in the identity namespace is dropped whatever its spelling
// (case, '_' for '-'), because many origin stacks fold X_Auth_Subject into X-Auth-Subject;
// hop-by-hop headers and whatever Connection names are dropped (RFC 9110 §7.6.1); so are
// client-set forwarding and override headers that origins tend to trust.

const DROPPED_REQUEST_HEADERS = new Set([
  // hop-by-hop (RFC 9110 §7.6.1) and proxy credentials
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  // client-set forwarding facts: the gateway states them itself
  'forwarded',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
  'x-cluster-client-ip',
  // routing and method overrides that let a client bypass the evaluated path or method
  'x-original-url',
  'x-original-uri',
  'x-rewrite-url',
  'x-override-url',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-original-method',
  // replaced by the gateway's own values
  'x-request-id',
  'traceparent',
  // the body's digest is the gateway's statement, bound into its assertion (docs/ASSERTION.md)
  'content-digest',
])

const DROPPED_REQUEST_PREFIXES = [
  'x-auth-',
  'x-forwarded-',
  'x-gatehouse-',
  'gatehouse-',
  'x-envoy-',
]

const DROPPED_RESPONSE_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

/** Canonical spelling for namespace checks: lower case, '_' and '.' folded to '-'. */
function canonicalName(name: string): string {
  return name.includes('_') || name.includes('.') ? name.replace(/[_.]/g, '-') : name
}

function isDroppedRequestHeader(name: string, connectionListed: ReadonlySet<string>): boolean {
  const canonical = canonicalName(name) // Headers iterates names in lower case
  if (DROPPED_REQUEST_HEADERS.has(canonical) || connectionListed.has(canonical)) return true
  for (const prefix of DROPPED_REQUEST_PREFIXES) if (canonical.startsWith(prefix)) return true
  return false
}

function connectionTokens(headers: Headers): Set<string> {
  const value = headers.get('connection')
  const tokens = new Set<string>()
  if (value === null) return tokens
  for (const token of value.split(',')) {
    const name = canonicalName(token.trim().toLowerCase())
    if (name !== '') tokens.add(name)
  }
  return tokens
}

export interface ForwardHeaderOptions {
  readonly forwardAuthorization: boolean
  /** Cookie names the gateway owns; they never reach an origin. */
  readonly gatewayCookies: readonly string[]
}

/**
 * Copies the client's headers that may reach an origin. The caller then sets the identity,
 * forwarding and signature headers on the result (nothing client-sent survives in their names).
 */
export function forwardableRequestHeaders(
  incoming: Headers,
  options: ForwardHeaderOptions,
): Headers {
  const connectionListed = connectionTokens(incoming)
  // One native copy, then deletions by name: cheaper than re-appending every header in JS.
  const out = new Headers(incoming)
  for (const name of incoming.keys()) {
    if (isDroppedRequestHeader(name, connectionListed)) out.delete(name)
  }
  // The DPoP proof goes with the credential it proves: the origin sees the key in the identity.
  if (!options.forwardAuthorization) {
    out.delete('authorization')
    out.delete('dpop')
  }
  const cookie = out.get('cookie')
  if (cookie !== null) {
    const kept = withoutCookies(cookie, options.gatewayCookies)
    if (kept === '') out.delete('cookie')
    else if (kept !== cookie) out.set('cookie', kept)
  }
  return out
}

/** Removes the named cookies (compared case-insensitively) from a Cookie header value. */
export function withoutCookies(cookieHeader: string, names: readonly string[]): string {
  if (names.length === 0) return cookieHeader
  // Several Cookie fields arrive joined by ", "; cookie-octets never contain ',' (RFC 6265 §4.1.1).
  return cookieHeader
    .split(/[;,]/)
    .map((pair) => pair.trim())
    .filter((pair) => pair !== '' && !isOwnedCookie(pair, names))
    .join('; ')
}

function isOwnedCookie(cookie: string, owned: readonly string[]): boolean {
  const eq = cookie.indexOf('=')
  const name = (eq < 0 ? cookie : cookie.slice(0, eq)).trim().toLowerCase()
  return owned.some((o) => o.toLowerCase() === name)
}

/**
 * Makes an origin's response headers fit for the client, in place (the caller passes a mutable
 * copy): hop-by-hop headers and whatever Connection names go, and an origin may not set (or
 * clear) a cookie the gateway owns. Deletes by name: no iteration over the headers.
 */
export function sanitizeResponseHeaders(headers: Headers, gatewayCookies: readonly string[]): void {
  const listed = headers.get('connection')
  if (listed !== null) {
    for (const token of listed.split(',')) {
      const name = token.trim().toLowerCase()
      if (name === '') continue
      headers.delete(name)
      headers.delete(canonicalName(name))
    }
  }
  for (const name of DROPPED_RESPONSE_HEADERS) headers.delete(name)
  // The gateway's host also serves /auth: a proxied answer must never be sniffed into script.
  headers.set('x-content-type-options', 'nosniff')
  if (!headers.has('set-cookie')) return
  const cookies = headers.getSetCookie()
  headers.delete('set-cookie')
  for (const cookie of cookies) {
    if (!isOwnedCookie(cookie.split(';', 1)[0] ?? '', gatewayCookies))
      headers.append('set-cookie', cookie)
  }
}
