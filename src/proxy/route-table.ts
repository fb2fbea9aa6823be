// The route table, compiled once per isolate: longest prefix wins, a prefix matches only at a
// segment boundary ("/api/echo" matches "/api/echo" and "/api/echo/x", never "/api/echoes"),
// and a path no route claims is denied. Matching is on the raw path that request-target.ts has
// already vetted, case-sensitively, exactly as the origin will receive it. Origins are looser:
// many decode and fold case (ASP.NET, Spring, Java equalsIgnoreCase maps 'ı' and 'İ' to i,
// case-insensitive file systems), normalise compatibility forms (NFKC: full-width letters), or
// drop trailing dots and spaces from a segment (IIS, Windows, Spring's trimTokens). A path whose
// folded form would select a different route than its exact form is refused, so
// `/api/account/ADMIN`, `admin.`, `admin%20` or `ａｄｍｉｎ` cannot slip past the stricter
// `/api/account/admin` route. (Spring's old suffix matching, `admin.json` → `admin`, is not
// folded: it is off by default since Spring 5.3.)

import type { RouteConfig } from './route'

export interface RouteTable {
  /** Routes sorted by descending prefix length. */
  readonly routes: readonly RouteConfig[]
  /** The same routes with lower-cased prefixes, for the case-fold check. */
  readonly folded: readonly (readonly [string, RouteConfig])[]
  /** True when some prefix has upper-case letters (then every path needs the fold check). */
  readonly upperInPrefixes: boolean
}

/** Compiles a route list into a table (once per isolate, by the wiring). */
export function compileRouteTable(routes: readonly RouteConfig[]): RouteTable {
  const sorted = [...routes].sort((a, b) => b.prefix.length - a.prefix.length)
  const folded = sorted
    .map((r) => [foldPath(r.prefix), r] as const)
    .sort((a, b) => b[0].length - a[0].length)
  return {
    routes: sorted,
    folded,
    upperInPrefixes: folded.some(([prefix, r]) => prefix !== r.prefix),
  }
}

/** What a path may look like to a loose origin: anything that makes it differ needs the check. */
const FOLDABLE = /[A-Z%\u0080-\uffff]|\.(?:\/|$)/

/**
 * The path as a loose origin may read it: percent-decoded (pathHazard guarantees valid UTF-8 and
 * no encoded '/'), NFKC-normalised, Unicode case-folded (through upper case, so 'ı', 'ſ' and 'K'
 * meet their ASCII letters; the combining dot of 'İ' dropped), each segment without trailing
 * dots and surrounding whitespace.
 */
function foldPath(path: string): string {
  let text = path
  try {
    text = decodeURIComponent(path)
  } catch {
    // pathHazard has refused anything undecodable; keep the raw form if it ever gets here.
  }
  const cased = text
    .normalize('NFKC')
    .toUpperCase()
    .toLowerCase()
    .replace(/\u0307/g, '')
  return cased
    .split('/')
    .map((segment) => segment.trim().replace(/[.\s]+$/u, ''))
    .join('/')
}

/** The route for a raw path, or null when no route claims it. */
export function matchRoute(table: RouteTable, path: string): RouteConfig | null {
  for (const route of table.routes) {
    if (claims(route.prefix, path)) return route
  }
  return null
}

/**
 * True when the folded path (foldPath) would select another route than `exact`, the route its
 * exact form matched: such a path is refused, never forwarded. (A path no route claims is a 404
 * anyway, whatever its folded form would match.)
 */
export function caseFoldConflict(table: RouteTable, path: string, exact: RouteConfig): boolean {
  if (!table.upperInPrefixes && !FOLDABLE.test(path)) return false
  const folded = foldPath(path)
  for (const [prefix, route] of table.folded) {
    if (claims(prefix, folded)) return route !== exact
  }
  return true
}

/** A prefix claims itself and what lies below it, at a segment boundary ('/' is 47). */
function claims(prefix: string, path: string): boolean {
  if (prefix === '') return true // a catch-all "/" route
  return (
    path.startsWith(prefix) &&
    (path.length === prefix.length || path.charCodeAt(prefix.length) === 47)
  )
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** Scopes a method needs on a route: read scopes for GET/HEAD/OPTIONS, write scopes otherwise. */
export function requiredScopes(route: RouteConfig, method: string): readonly string[] {
  return READ_METHODS.has(method) ? route.readScopes : route.writeScopes
}
