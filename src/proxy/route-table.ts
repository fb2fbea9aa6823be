// The route table, compiled once per isolate: longest prefix wins, a prefix matches only at a
// segment boundary ("/api/echo" matches "/api/echo" and "/api/echo/x", never "/api/echoes"),
// and a path no route claims is denied. Matching is on the raw path that request-target.ts has
// already vetted, case-sensitively, exactly as the origin will receive it. Many origins fold case
// (ASP.NET, Spring with some settings, case-insensitive file systems), so a path whose case-folded
// form would select a different route than its exact form is refused: `/api/account/ADMIN`
// cannot slip past the stricter `/api/account/admin` route.

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
  return {
    routes: sorted,
    folded: sorted.map((r) => [r.prefix.toLowerCase(), r] as const),
    upperInPrefixes: sorted.some((r) => r.prefix !== r.prefix.toLowerCase()),
  }
}

/** The route for a raw path, or null when no route claims it. */
export function matchRoute(table: RouteTable, path: string): RouteConfig | null {
  for (const route of table.routes) {
    if (claims(route.prefix, path)) return route
  }
  return null
}

/**
 * True when the case-folded path would select another route than `exact`, the route its exact
 * form matched: such a path is refused, never forwarded. (A path no route claims is a 404
 * anyway, whatever its folded form would match.)
 */
export function caseFoldConflict(table: RouteTable, path: string, exact: RouteConfig): boolean {
  const lower = path.toLowerCase()
  if (lower === path && !table.upperInPrefixes) return false
  for (const [prefix, route] of table.folded) {
    if (claims(prefix, lower)) return route !== exact
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
