// The request-binding half of the assertion checks (docs/ASSERTION.md § What an origin checks,
// 4 and 5): method, the htu's host against the Host header and its path and query against the
// request target, byte for byte — no decoding, no normalising, no URL parser (which would fold
// dot segments and re-encode) — and the body against its RFC 9530 digest. Pure, no I/O.

/** @typedef {import('./index.js').AssertionClaims} AssertionClaims */
/** @typedef {import('./index.js').AssertionFailure} AssertionFailure */

/** The body_digest a gateway sends: one sha-256 member, RFC 9530 §2 (a byte sequence, RFC 8941). */
const DIGEST_FORMAT = /^sha-256=:[A-Za-z0-9+/]{43}=:$/
/** `scheme://authority` then the rest, RFC 3986 §3; the authority ends at `/`, `?` or `#`. */
const ABSOLUTE_URL = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s
const DEFAULT_PORTS = /** @type {Record<string, string>} */ ({ http: '80', https: '443' })

/**
 * Splits an absolute URL into scheme, authority (lower-cased host, default port dropped) and the
 * path-and-query exactly as written; null when it is not an absolute URL with a path.
 * @param {string} url
 * @returns {{ scheme: string, authority: string, target: string } | null}
 */
export function splitUrl(url) {
  const match = ABSOLUTE_URL.exec(url)
  if (match === null) return null
  const scheme = (match[1] ?? '').toLowerCase()
  const authority = normaliseAuthority(match[2] ?? '', scheme)
  const target = match[3] ?? ''
  if (authority === '' || !target.startsWith('/') || target.includes('#')) return null
  return { scheme, authority, target }
}

/**
 * A Host header value or URL authority for comparison: host case-insensitive (RFC 3986 §3.2.2),
 * the scheme's default port implied (RFC 9110 §4.2.1), no userinfo allowed.
 * @param {string} authority
 * @param {string} scheme
 */
function normaliseAuthority(authority, scheme) {
  if (authority.includes('@')) return ''
  const lower = authority.toLowerCase()
  const port = DEFAULT_PORTS[scheme]
  return port !== undefined && lower.endsWith(`:${port}`) && !lower.endsWith(']')
    ? lower.slice(0, -(port.length + 1))
    : lower
}

/**
 * Check 4: the method, the Host header and the request target against htm and htu. The scheme is
 * not compared (TLS may end before the origin), so the Host header's default port is taken from
 * the htu's scheme.
 * @param {AssertionClaims} claims
 * @param {{ method: string, host: string | null, target: string }} request
 * @returns {AssertionFailure | null}
 */
export function requestMismatch(claims, request) {
  if (claims.htm !== request.method.toUpperCase()) return 'wrong_method'
  const htu = splitUrl(claims.htu)
  if (htu === null) return 'malformed'
  if (request.host === null || normaliseAuthority(request.host, htu.scheme) !== htu.authority) {
    return 'wrong_host'
  }
  if (htu.target !== request.target) return 'wrong_target'
  return null
}

/**
 * Check 5: `bound` — the received body's digest equals body_digest; `none` — no body arrived;
 * `unbound` — refused unless the origin accepts unbound bodies. A null body and an empty one
 * are the same bytes on the wire.
 * @param {AssertionClaims} claims
 * @param {Uint8Array | null} body
 * @param {boolean} acceptUnbound
 * @returns {Promise<AssertionFailure | null>}
 */
export async function bodyMismatch(claims, body, acceptUnbound) {
  const length = body === null ? 0 : body.byteLength
  switch (claims.body) {
    case 'none':
      return length === 0 ? null : 'body_unexpected'
    case 'unbound':
      return acceptUnbound ? null : 'body_unbound'
    case 'bound':
      if (typeof claims.body_digest !== 'string' || !DIGEST_FORMAT.test(claims.body_digest)) {
        return 'malformed'
      }
      return (await contentDigest(body ?? new Uint8Array())) === claims.body_digest
        ? null
        : 'body_mismatch'
    default:
      return 'malformed'
  }
}

/**
 * RFC 9530 `Content-Digest` value of bytes: `sha-256=:<base64>:`.
 * @param {Uint8Array} bytes
 * @returns {Promise<string>}
 */
export async function contentDigest(bytes) {
  const digest = new Uint8Array(
    await crypto.subtle.digest('SHA-256', /** @type {BufferSource} */ (bytes)),
  )
  let binary = ''
  for (const b of digest) binary += String.fromCharCode(b)
  return `sha-256=:${btoa(binary)}:`
}
