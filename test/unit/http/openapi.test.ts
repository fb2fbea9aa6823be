// docs/openapi.json against the routes the app really registers (Hono's route list): every
// gateway endpoint is documented, and every documented operation is served. The proxy catch-all
// `*` is not a gateway endpoint; `OPTIONS /auth/*` (CORS preflight) counts as documented when
// the /auth/* paths document their `options` operation. Also checks that every $ref resolves.

import { inspectRoutes } from 'hono/dev'
import { describe, expect, it } from 'vitest'
import openapi from '../../../docs/openapi.json'
import { app } from '../../../src/http/app'

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']

interface Operation {
  readonly method: string
  /** Path in OpenAPI form (`/admin/sessions/{sid}`). */
  readonly path: string
}

const key = (op: Operation) => `${op.method} ${op.path}`

/** The app's handlers (middleware left out), with Hono's `:param` written as `{param}`. */
function servedOperations(): Operation[] {
  const seen = new Map<string, Operation>()
  for (const route of inspectRoutes(app)) {
    if (route.isMiddleware || route.path === '*' || route.path === '/*') continue
    const op = {
      method: route.method.toLowerCase(),
      path: route.path.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, '{$1}'),
    }
    seen.set(key(op), op)
  }
  return [...seen.values()]
}

function documentedOperations(): Operation[] {
  const ops: Operation[] = []
  for (const [path, item] of Object.entries(openapi.paths as Record<string, object>)) {
    for (const method of Object.keys(item)) {
      if (HTTP_METHODS.includes(method)) ops.push({ method, path })
    }
  }
  return ops
}

/** Does a served pattern (`/auth/*`, `/admin/sessions/{sid}`) cover a documented path? */
function covers(served: Operation, documented: Operation): boolean {
  if (served.method !== 'all' && served.method !== documented.method) return false
  const pattern = served.path
    .split('/')
    .map((segment) => {
      if (segment === '*') return '.*'
      if (/^\{[^}]+\}$/.test(segment)) return '[^/]+'
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    })
    .join('/')
  return new RegExp(`^${pattern}$`).test(documented.path)
}

const isPattern = (op: Operation) => op.path.includes('*')

describe('docs/openapi.json', () => {
  const served = servedOperations()
  const documented = documentedOperations()

  it('sees the gateway endpoints in the app', () => {
    // Guards the test itself: if Hono's route list changed shape, the comparisons below would
    // pass vacuously.
    expect(served.map(key)).toEqual(
      expect.arrayContaining(['post /auth/login', 'get /healthz', 'delete /admin/sessions/{sid}']),
    )
  })

  it('documents every endpoint the app serves', () => {
    const undocumented = served.filter((s) =>
      isPattern(s)
        ? !documented.some((d) => covers(s, d))
        : !documented.some((d) => key(d) === key(s)),
    )
    expect(undocumented.map(key)).toEqual([])
  })

  it('documents only endpoints the app serves', () => {
    const unserved = documented.filter((d) => !served.some((s) => covers(s, d)))
    expect(unserved.map(key)).toEqual([])
  })

  it('documents the CORS preflight on every /auth/* POST endpoint', () => {
    const authPosts = documented.filter((d) => d.path.startsWith('/auth/') && d.method === 'post')
    const preflights = new Set(documented.filter((d) => d.method === 'options').map((d) => d.path))
    expect(authPosts.filter((d) => !preflights.has(d.path)).map(key)).toEqual([])
  })

  it('gives every operation an operationId and only resolvable $refs', () => {
    const ids = new Set<string>()
    for (const [path, item] of Object.entries(openapi.paths as Record<string, object>)) {
      for (const [method, op] of Object.entries(item as Record<string, { operationId?: string }>)) {
        if (!HTTP_METHODS.includes(method)) continue
        expect(op.operationId, `${method} ${path}`).toBeTypeOf('string')
        expect(ids.has(op.operationId as string), `duplicate ${op.operationId}`).toBe(false)
        ids.add(op.operationId as string)
      }
    }
    const unresolved: string[] = []
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk)
      if (typeof node !== 'object' || node === null) return
      for (const [k, v] of Object.entries(node)) {
        if (k === '$ref' && typeof v === 'string' && resolve(v) === undefined) unresolved.push(v)
        else walk(v)
      }
    }
    walk(openapi)
    expect(unresolved).toEqual([])
  })

  it('uses the error shape of src/errors.ts', () => {
    const error = openapi.components.schemas.Error
    expect(error.required).toEqual(['error', 'error_description'])
  })
})

function resolve(ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined
  let node: unknown = openapi
  for (const part of ref.slice(2).split('/')) {
    if (typeof node !== 'object' || node === null) return undefined
    node = (node as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')]
  }
  return node
}
