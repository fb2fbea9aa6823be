// The route table, compiled once per isolate: longest prefix wins, a prefix matches only at a
// segment boundary ("/api/echo" matches "/api/echo" and "/api/echo/x", never "/api/echoes"),
// and a path no route claims is denied. Matching is on the raw path that request-target.ts has
// already vetted, case-sensitively, exactly as the origin will receive it.

import type { RouteConfig } from './route'

export interface RouteTable {
  /** Routes sorted by descending prefix length. */
  readonly routes: readonly RouteConfig[]
}

/** Compiles a route list into a table (once per isolate, by the wiring). */
export function compileRouteTable(routes: readonly RouteConfig[]): RouteTable {
  return { routes: [...routes].sort((a, b) => b.prefix.length - a.prefix.length) }
}

/** The route for a raw path, or null when no route claims it. */
export function matchRoute(table: RouteTable, path: string): RouteConfig | null {
  for (const route of table.routes) {
    const p = route.prefix
    if (p === '') return route // a catch-all "/" route
    if (path.startsWith(p) && (path.length === p.length || path.charCodeAt(p.length) === 47)) {
      return route
    }
  }
  return null
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** Scopes a method needs on a route: read scopes for GET/HEAD/OPTIONS, write scopes otherwise. */
export function requiredScopes(route: RouteConfig, method: string): readonly string[] {
  return READ_METHODS.has(method) ? route.readScopes : route.writeScopes
}
