// The request target the gateway evaluates and forwards. The path is taken from the URL string
// as the runtime handed it over — never decoded, never normalised by us — and anything that an
// origin might decode or normalise into a different path is refused with 400 before routing:
// dot segments, encoded dots/slashes/backslashes, double encoding, empty segments, NUL, control
// characters, ';' path parameters, and percent-encoded unreserved characters (RFC 3986 §2.3: they
// never need encoding, so `%61dmin` is only ever a way to reach `admin` past a prefix match). So
// the origin receives exactly the path policy evaluated.

export interface RequestTarget {
  /** Raw path, starting with '/'. */
  readonly path: string
  /** Raw query including its leading '?', or ''. */
  readonly search: string
}

/** Splits an absolute URL string into its raw path and query (no decoding, no normalisation). */
export function splitRequestTarget(url: string): RequestTarget {
  const schemeEnd = url.indexOf('://')
  const authorityStart = schemeEnd < 0 ? 0 : schemeEnd + 3
  let pathStart = authorityStart
  while (pathStart < url.length && !'/?#'.includes(url.charAt(pathStart))) pathStart++
  const hash = url.indexOf('#', pathStart)
  const end = hash < 0 ? url.length : hash
  const query = url.indexOf('?', pathStart)
  const pathEnd = query < 0 || query > end ? end : query
  const path = pathStart === pathEnd ? '/' : url.slice(pathStart, pathEnd)
  return { path, search: pathEnd === end ? '' : url.slice(pathEnd, end) }
}

// %2e '.', %2f '/', %5c '\', %25 '%' (double encoding), %00 NUL, %3b ';' — any case.
const ENCODED_HAZARD = /%(?:2e|2f|5c|25|00|3b)/i
// Raw hazards: backslash, ';', controls, and characters a URL parser would have encoded.
const RAW_HAZARD = /[\\;\u0000-\u0020\u007f-\u009f"<>`{}]/
const DOT_SEGMENT = /(?:^|\/)\.\.?(?:\/|$)/
// RFC 3986 §2.3 unreserved, percent-encoded: ALPHA, DIGIT, '-', '_', '~' ('.' is above).
const ENCODED_UNRESERVED = /%(?:3[0-9]|4[1-9a-f]|5[0-9a]|6[1-9a-f]|7[0-9a]|2d|5f|7e)/i

/** Returns why a raw path is refused, or null when it is safe to route and forward as is. */
export function pathHazard(path: string): string | null {
  if (!path.startsWith('/')) return 'not absolute'
  if (path.includes('//')) return 'empty segment'
  if (DOT_SEGMENT.test(path)) return 'dot segment'
  if (RAW_HAZARD.test(path)) return 'forbidden character'
  if (path.includes('%') && ENCODED_HAZARD.test(path)) return 'forbidden encoding'
  if (path.includes('%') && ENCODED_UNRESERVED.test(path)) return 'encoded unreserved character'
  if (path.includes('%')) {
    if (!/^(?:[^%]|%[0-9A-Fa-f]{2})*$/.test(path)) return 'broken encoding'
    if (!decodesToUtf8(path)) return 'invalid utf-8 encoding'
  }
  return null
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Percent-encoded bytes must form valid UTF-8: an overlong form such as %c0%ae (a '.' to
 * legacy decoders, CVE-2008-2938) or a lone continuation byte is refused, not passed on.
 */
function decodesToUtf8(path: string): boolean {
  const bytes: number[] = []
  for (let i = 0; i < path.length; i++) {
    if (path.charCodeAt(i) === 37 /* % */) {
      bytes.push(parseInt(path.slice(i + 1, i + 3), 16))
      i += 2
    } else {
      bytes.push(path.charCodeAt(i) & 0x7f)
    }
  }
  try {
    strictUtf8.decode(new Uint8Array(bytes))
    return true
  } catch {
    return false
  }
}

/** Returns why a raw query is refused (controls or NUL, raw or encoded), or null. */
export function queryHazard(search: string): string | null {
  if (/[\u0000-\u001f\u007f]/.test(search)) return 'control character'
  if (search.includes('%') && /%00/.test(search)) return 'encoded NUL'
  return null
}
