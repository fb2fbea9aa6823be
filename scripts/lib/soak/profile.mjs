// What the soak reads of the demo profile (config/demo.json, the file the Worker bundles): the
// D1 bindings of the session shards and the audit database, the token routes and their tiers
// (a tier the profile has no route for is simply not exercised), and the scopes that raise a
// route's tier (a token carrying gatehouse:admin is checked as on a critical route, even on the
// low one).

import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** { sessionShards: [binding…], audit: binding, sensitiveScopes: {scope: tier} } */
export async function readDemoProfile(root) {
  const demo = JSON.parse(await readFile(join(root, 'config', 'demo.json'), 'utf8'))
  const storage = demo.storage
  const shards = (storage?.session_shards ?? []).map((s) => s.binding).filter(Boolean)
  return {
    // Before sharding there is one database, `DB`, and audit events share it.
    sessionShards: shards.length > 0 ? shards : ['DB'],
    audit: storage?.audit_database ?? (shards.length > 0 ? 'AUDIT_DB' : 'DB'),
    sensitiveScopes: demo.sensitive_scopes ?? {},
    apiRoutes: apiRoutes(demo.routes ?? []),
  }
}

/**
 * The demo origin's URL as config/demo.json names it: the soak judges answers by that origin's
 * echo (its count and verdict), so routes to other origins (the Python and Go examples, which
 * npm start does not run) are left out; so are rate-limited routes, whose 429s the soak's
 * judgement (by revocation time) does not model.
 */
const DEMO_ORIGIN = 'http://127.0.0.1:8788'

/**
 * The token routes to the demo origin, each with a path under it that no longer prefix claims:
 * { prefix, tier, readScopes, writeScopes, dpop, path(n) }.
 */
function apiRoutes(routes) {
  const prefixes = routes.map((r) => r.prefix)
  const owner = (path) =>
    prefixes
      .filter((p) => path === p || path.startsWith(`${p}/`))
      .sort((a, b) => b.length - a.length)[0]
  return (
    routes
      // Soak sessions log in with a password: a route demanding a second factor (acr_values,
      // max_auth_age_seconds: the step-up route) would refuse every call by design.
      .filter(
        (r) =>
          r.auth === 'token' &&
          r.origin === DEMO_ORIGIN &&
          r.rate_limit === undefined &&
          r.acr_values === undefined &&
          r.max_auth_age_seconds === undefined,
      )
      .map((r) => ({
        prefix: r.prefix,
        tier: r.tier ?? 'low',
        readScopes: r.read_scopes ?? [],
        writeScopes: r.write_scopes ?? r.read_scopes ?? [],
        dpop: r.dpop ?? 'optional',
        path: (n) => `${r.prefix}/soak/${n}`,
      }))
      .filter((r) => owner(r.path(0)) === r.prefix)
  )
}
