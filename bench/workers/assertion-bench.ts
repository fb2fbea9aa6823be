// Bench-only Worker (never deployed): what the origin identity costs (issue 15), in-isolate. Runs
// Gatehouse's whole Worker (network stubbed, as in profile-bench.ts) N times per request on copies
// of the low route that differ only in `identity` / `assertion_signing` / `body_binding` (the
// section adds them under /bench/…), and the identity and body-digest steps on their own
// (assertion-steps.ts). The stub origin drains every request body, as a real fetch would send
// it, and records what the last forward carried (`?op=inspect&path=…` returns it).

import gatehouse from '../../src/index'
import {
  ASSERTION_STEP_OPS,
  BODY_KIB,
  assertionInput,
  chunksRead,
  postRequest,
} from './assertion-steps'
import { checkPrototypes } from './assertion-whatif'
import type { AssertionFixture, AssertionOp, BodyKib } from './assertion-steps'
import {
  BENCH_ISSUER,
  ORIGIN_BODY,
  consume,
  makeFixture,
  request,
  type Env,
} from './profile-fixture'

export * from '../../src/index'

/** The GET variants: route path per identity mode (the section's routes). */
const GET_PATHS = {
  headers: '/bench/headers/x',
  hs256: '/bench/hs256/x',
  eddsa: '/bench/eddsa/x',
  both: '/bench/both/x',
} as const
/** The POST variants: body bound into the assertion, or streamed unbound (body_binding off). */
const POST_PATHS = { bound: '/bench/bound/x', off: '/bench/off/x' } as const

const getOp =
  (path: string): AssertionOp =>
  async ({ fx }, env, ctx) =>
    consume(await gatehouse.fetch(request(fx, path, true), env, ctx))

const postOp =
  (path: string, kib: BodyKib): AssertionOp =>
  async (afx, env, ctx) =>
    consume(await gatehouse.fetch(postRequest(afx.fx, path, afx.bodies[kib]), env, ctx))

const REQUEST_OPS: Record<string, AssertionOp> = {
  noop: () => true,
  'app-headers': getOp(GET_PATHS.headers),
  'app-headers-again': getOp(GET_PATHS.headers), // the A/A control
  'app-hs256': getOp(GET_PATHS.hs256),
  'app-eddsa': getOp(GET_PATHS.eddsa),
  'app-both': getOp(GET_PATHS.both),
}
for (const kib of BODY_KIB) {
  REQUEST_OPS[`post-bound-${kib}k`] = postOp(POST_PATHS.bound, kib)
  REQUEST_OPS[`post-off-${kib}k`] = postOp(POST_PATHS.off, kib)
}

const OPS: Record<string, AssertionOp> = { ...REQUEST_OPS, ...ASSERTION_STEP_OPS }

/** Stands in for the network: JWKS, and an origin that reads the body and notes the headers. */
function installDrainingFetch(afx: AssertionFixture): void {
  const { fx } = afx
  globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    if (url.startsWith(BENCH_ISSUER)) return Response.json(fx.jwks)
    const body = init?.body == null ? 0 : (await new Response(init.body).arrayBuffer()).byteLength
    const names: string[] = []
    let headerBytes = 0
    for (const [name, value] of new Headers(init?.headers)) {
      names.push(name)
      headerBytes += name.length + value.length + 4 // "name: value\r\n"
    }
    afx.lastForward = { names, headerBytes, bodyBytes: body }
    return new Response(ORIGIN_BODY, { status: 200, headers: fx.originHeaders })
  }
}

function bodyOf(kib: number): Uint8Array {
  const bytes = new Uint8Array(kib * 1024)
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff
  return bytes
}

async function makeAssertionFixture(env: Env): Promise<AssertionFixture> {
  const fx = await makeFixture(env)
  const route = fx.config.routes.find((r) => r.prefix === '/bench/eddsa')
  const keys = fx.services.assertionKeys
  if (route === undefined || keys === null)
    throw new Error('the section’s /bench routes are missing')
  const signer = await keys.signer.current(Date.now())
  const bodies = Object.fromEntries(BODY_KIB.map((kib) => [kib, bodyOf(kib)]))
  const afx: AssertionFixture = {
    fx,
    secret: route.originSecret,
    eddsa: { alg: 'EdDSA', kid: signer.kid, key: signer.key },
    bodies: bodies as AssertionFixture['bodies'],
    lastForward: null,
  }
  await checkPrototypes(afx, assertionInput(afx, crypto.randomUUID()))
  return afx
}

let fixture: Promise<AssertionFixture> | null = null

export default {
  async fetch(req, env, ctx) {
    const url = new URL(req.url)
    const name = url.searchParams.get('op') ?? 'noop'
    const n = Number(url.searchParams.get('n') ?? '1')
    try {
      fixture ??= makeAssertionFixture(env)
      const afx = await fixture
      installDrainingFetch(afx)
      if (name === 'chunks') return Response.json(await chunksRead(afx))
      if (name === 'inspect') {
        // One request through the named variant; what reached the origin.
        afx.lastForward = null
        const op = OPS[url.searchParams.get('variant') ?? '']
        if (op === undefined) return Response.json({ error: 'unknown variant' }, { status: 400 })
        const ok = await op(afx, env, ctx)
        return Response.json({ ok, forwarded: afx.lastForward })
      }
      const op = OPS[name]
      if (op === undefined) return Response.json({ error: `unknown op ${name}` }, { status: 400 })
      let ok = 0
      for (let i = 0; i < n; i++) if ((await op(afx, env, ctx)) !== false) ok++
      return Response.json({ op: name, n, ok }, { status: ok === n ? 200 : 500 })
    } catch (err) {
      return Response.json({ op: name, n, error: String(err) }, { status: 500 })
    }
  },
} satisfies ExportedHandler<Env>
