// Bench-only Worker (never deployed): the hot-path profile. It runs Gatehouse's whole Worker
// in-isolate (the origin and JWKS fetches answered by a stub, so no sockets are involved) and
// each step of the verified-request path on its own (profile-steps.ts), N times per request, so
// the Node client can time every piece from outside. With `stages=1` a request op also records
// where each request's time goes, in place: the proxy path's stage marks
// (src/observability/stage-marks.ts) and this harness's own (building the client's request,
// reading the answer), summed per stage on the clock workerd advances during CPU work locally.
// Bindings are wrangler.toml's; GATEHOUSE is a bench config.

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
import { recordStages } from '../../src/observability/stage-marks'
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

/** Per-stage sums of the current `stages=1` request (ms), or null when not recording. */
let stageSums: Record<string, number> | null = null
let stageClock = 0

/** Attributes the time since the previous mark to `stage` (a recorder for recordStages). */
function mark(stage: string): void {
  if (stageSums === null) return
  const now = performance.now()
  stageSums[stage] = (stageSums[stage] ?? 0) + (now - stageClock)
  stageClock = now
}

/** One client request through Gatehouse, the harness's own work marked as its stages. */
async function throughGatehouse(
  fx: Fixture,
  env: Env,
  ctx: ExecutionContext,
  path: string,
  withToken: boolean,
): Promise<boolean> {
  const req = request(fx, path, withToken)
  mark('client request')
  const res = await gatehouse.fetch(req, env, ctx)
  const ok = await consume(res)
  mark('read answer')
  return ok
}

const REQUEST_OPS: Record<string, Op> = {
  noop: () => true,
  // What the pass-through Worker does, in-isolate: the floor of any proxy.
  bare: async (fx) => {
    const req = request(fx, '/api/echo/x', true)
    mark('client request')
    const url = new URL(req.url)
    const res = await fetch(BENCH_ORIGIN + url.pathname + url.search, {
      method: req.method,
      headers: req.headers,
      redirect: 'manual',
    })
    mark('origin')
    const ok = await consume(res)
    mark('read answer')
    return ok
  },
  'app-public': (fx, env, ctx) => throughGatehouse(fx, env, ctx, '/api/public/x', false),
  'app-low': (fx, env, ctx) => throughGatehouse(fx, env, ctx, '/api/echo/x', true),
  'app-critical': (fx, env, ctx) => throughGatehouse(fx, env, ctx, '/api/secure/x', true),
  // What a request log line costs when written inside a request (the lone step writes its lines
  // back to back, and costs far less).
  'public+log-line': async (fx, env, ctx) => {
    const ok = await throughGatehouse(fx, env, ctx, '/api/public/x', false)
    STEP_OPS['log-line']?.(fx, env, ctx)
    return ok
  },
  'hono-minimal': async (fx) => consume(await minimalApp.fetch(request(fx, '/api/echo/x', true))),
}

const OPS: Record<string, Op> = { ...REQUEST_OPS, ...STEP_OPS }
let fixture: Promise<Fixture> | null = null

export default {
  async fetch(req, env, ctx) {
    const url = new URL(req.url)
    const name = url.searchParams.get('op') ?? 'noop'
    const n = Number(url.searchParams.get('n') ?? '1')
    const staged = url.searchParams.get('stages') === '1'
    const op = OPS[name]
    if (op === undefined) return Response.json({ error: `unknown op ${name}` }, { status: 400 })
    try {
      fixture ??= makeFixture(env)
      const fx = await fixture
      installStubFetch(fx)
      let ok = 0
      stageSums = staged ? {} : null
      recordStages(staged ? mark : null)
      try {
        for (let i = 0; i < n; i++) {
          stageClock = performance.now()
          if ((await op(fx, env, ctx)) !== false) ok++
        }
      } finally {
        recordStages(null)
      }
      const stages = stageSums
      stageSums = null
      return Response.json({ op: name, n, ok, stages }, { status: ok === n ? 200 : 500 })
    } catch (err) {
      return Response.json({ op: name, n, error: String(err) }, { status: 500 })
    }
  },
} satisfies ExportedHandler<Env>
