// Bench-only Worker (never deployed): what a rate limit adds to a `low` route request, in-isolate.
// Runs Gatehouse's whole Worker (network stubbed, as in profile-bench.ts) N times per request on
// bench copies of the demo's /api/echo: without a limit, and with a limit by subject counted by
// a Workers Rate Limiting binding or exactly in a Durable Object, both under their limit
// (forwarded) and over it (refused 429 before the origin); and each counter's call on its own.
// The routes and bindings are the section's (scripts/bench/sections/api-edge.mjs).

import gatehouse from '../../src/index'
import {
  consume,
  installStubFetch,
  makeFixture,
  request,
  type Env,
  type Fixture,
} from './profile-fixture'

export * from '../../src/index'

/** The bench routes' prefixes (the section configures them) and the bindings they name. */
const PATHS = {
  none: '/bench/rl-none/x',
  bindingUnder: '/bench/rl-binding/x',
  exactUnder: '/bench/rl-exact/x',
  bindingOver: '/bench/rl-binding-over/x',
  exactOver: '/bench/rl-exact-over/x',
}
const BINDING = 'RATE_LIMIT_BENCH'
/** The exact counter's call as the gateway makes it: one route, one subject key. */
const EXACT_ROUTE = '/bench/rl-exact'
const EXACT_KEY = JSON.stringify(['https://idp.bench', 'bench', 'usr_profile_0001'])
const HIGH_LIMIT = 1_000_000
const PERIOD_SECONDS = 60

type Op = (fx: Fixture, env: Env, ctx: ExecutionContext) => Promise<boolean> | boolean

/** A request through the whole Worker under its limit; true for a 200. */
const under =
  (path: string): Op =>
  async (fx, env, ctx) =>
    consume(await gatehouse.fetch(request(fx, path, true), env, ctx))

/**
 * A request through the whole Worker over its limit; true for a 429, and for the 200 of the one
 * request a new window lets through (limit 1: one per minute, or per hour, in a run).
 */
const over =
  (path: string): Op =>
  async (fx, env, ctx) => {
    const res = await gatehouse.fetch(request(fx, path, true), env, ctx)
    await res.arrayBuffer()
    return res.status === 429 || res.status === 200
  }

const OPS: Record<string, Op> = {
  noop: () => true,
  'app-low': under(PATHS.none),
  'app-limited-binding': under(PATHS.bindingUnder),
  'app-limited-exact': under(PATHS.exactUnder),
  'app-refused-binding': over(PATHS.bindingOver),
  'app-refused-exact': over(PATHS.exactOver),
  'binding-limit': async (_fx, env) => {
    const limiter = (env as unknown as Record<string, RateLimit>)[BINDING]!
    return (await limiter.limit({ key: `${EXACT_ROUTE} ${EXACT_KEY}` })).success
  },
  'exact-hit': async (fx) =>
    (await fx.services.rateCounters.exact(EXACT_ROUTE, EXACT_KEY).hit(HIGH_LIMIT, PERIOD_SECONDS))
      .allowed,
}

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
