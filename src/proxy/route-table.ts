// The route table, compiled once per isolate: longest prefix wins, a prefix matches only at a
// segment boundary ("/api/echo" matches "/api/echo" and "/api/echo/x", never "/api/echoes"),
// and a path no route claims is denied. Matching is on the raw path that request-target.ts has
// already vetted, case-sensitively, exactly as the origin will receive it.

import type { RouteConfig } from '../config/config'

export interface RouteTable {
  /** Routes sorted by descending prefix length. */
  readonly routes: readonly RouteConfig[]
}

const compiled = new WeakMap<readonly RouteConfig[], RouteTable>()

/** Returns the compiled table for a config's routes (compiled on first use per isolate). */
export function routeTableFor(routes: readonly RouteConfig[]): RouteTable {
  let table = compiled.get(routes)
  if (table === undefined) {
    table = { routes: [...routes].sort((a, b) => b.prefix.length - a.prefix.length) }
    compiled.set(routes, table)
  }
  return table
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
