// Bench-only Worker (never deployed): the hot-path profile. It runs Gatehouse's whole Worker
// in-isolate (the origin and JWKS fetches answered by a stub, so no sockets are involved) and
// each step of the verified-request path on its own (profile-steps.ts), N times per request, so
// the Node client can time every piece from outside and attribute a request's cost to the
// functions that spend it. Bindings are wrangler.toml's; GATEHOUSE is a bench config.

import { Hono } from 'hono'
import gatehouse from '../../src/index'
import {
  BENCH_ORIGIN,
  consume,
  installStubFetch,
  makeFixture,
  request,
  type Env,
  type Fixture,
} from './profile-fixture'
import { STEP_OPS, type Op } from './profile-steps'

export * from '../../src/index'

/** The framework floor: a Hono app with one wrapping middleware and a catch-all forward. */
const minimalApp = new Hono()
minimalApp.use('*', async (c, next) => {
  await next()
  c.res.headers.set('x-request-id', 'bench')
})
minimalApp.all('*', async (c) => {
  const res = await fetch(BENCH_ORIGIN + c.req.path, { headers: c.req.raw.headers })
  return new Response(res.body, res)
})

const REQUEST_OPS: Record<string, Op> = {
  noop: () => true,
  // What the pass-through Worker does, in-isolate: the floor of any proxy.
  bare: async (fx) => {
    const req = request(fx, '/api/echo/x', true)
    const url = new URL(req.url)
    return consume(
      await fetch(BENCH_ORIGIN + url.pathname + url.search, {
        method: req.method,
        headers: req.headers,
        redirect: 'manual',
      }),
    )
  },
  'app-public': async (fx, env, ctx) =>
    consume(await gatehouse.fetch(request(fx, '/api/public/x', false), env, ctx)),
  'app-low': async (fx, env, ctx) =>
    consume(await gatehouse.fetch(request(fx, '/api/echo/x', true), env, ctx)),
  'app-critical': async (fx, env, ctx) =>
    consume(await gatehouse.fetch(request(fx, '/api/secure/x', true), env, ctx)),
  'hono-minimal': async (fx) => consume(await minimalApp.fetch(request(fx, '/api/echo/x', true))),
}

const OPS: Record<string, Op> = { ...REQUEST_OPS, ...STEP_OPS }
let fixture: Promise<Fixture> | null = null

export default {
  async fetch(req, env, ctx) {
    const url = new URL(req.url)
    const name = url.searchParams.get('op') ?? 'noop'
    const n = Number(url.searchParams.get('n') ?? '1')
    const op = OPS[name]
    if (op === undefined) return Response.json({ error: `unknown op ${name}` }, { status: 400 })
    try {
      fixture ??= makeFixture(env)
      const fx = await fixture
      installStubFetch(fx)
      let ok = 0
      for (let i = 0; i < n; i++) if ((await op(fx, env, ctx)) !== false) ok++
      return Response.json({ op: name, n, ok }, { status: ok === n ? 200 : 500 })
    } catch (err) {
      return Response.json({ op: name, n, error: String(err) }, { status: 500 })
    }
  },
} satisfies ExportedHandler<Env>
