// Bench-only Worker (never deployed): what a DPoP proof costs on the low route, in-isolate. Runs
// Gatehouse's whole Worker (network stubbed, as in profile-bench.ts) N times per request for a
// Bearer token (also with an unread proof header) and for DPoP-bound tokens with a fresh proof
// each (ES256, EdDSA), and the DPoP steps on their own (dpop-steps.ts).
// `?op=prepare&ES256=N&EdDSA=M` signs that many fresh proofs in an untimed request before a
// round; the timed requests only take them.

import gatehouse from '../../src/index'
import {
  PROOF_ALGS,
  ProofPool,
  dpopRequest,
  makeProofClient,
  type ProofAlg,
  type ProofClient,
} from './dpop-fixture'
import { DPOP_STEP_OPS, type DpopFixture, type DpopOp } from './dpop-steps'
import { consume, installStubFetch, makeFixture, request, type Env } from './profile-fixture'

export * from '../../src/index'

const dpopOp =
  (alg: ProofAlg): DpopOp =>
  async ({ fx, clients, pool }, env, ctx) =>
    consume(await gatehouse.fetch(dpopRequest(fx, clients[alg], pool.take(alg)), env, ctx))

const OPS: Record<string, DpopOp> = {
  noop: () => true,
  'app-bearer': async ({ fx }, env, ctx) =>
    consume(await gatehouse.fetch(request(fx, '/api/echo/x', true), env, ctx)),
  // A Bearer request that also carries a proof the gateway never reads (the token is unbound):
  // what the bigger request alone costs, apart from checking the proof.
  'app-bearer-proof-header': async ({ fx, pool }, env, ctx) => {
    const req = request(fx, '/api/echo/x', true)
    req.headers.set('dpop', pool.take('ES256'))
    return consume(await gatehouse.fetch(req, env, ctx))
  },
  'app-dpop-es256': dpopOp('ES256'),
  'app-dpop-eddsa': dpopOp('EdDSA'),
  ...DPOP_STEP_OPS,
}

async function makeDpopFixture(env: Env): Promise<DpopFixture> {
  const fx = await makeFixture(env)
  const clients = {} as Record<ProofAlg, ProofClient>
  for (const alg of PROOF_ALGS) clients[alg] = await makeProofClient(fx, alg)
  return { fx, clients, pool: new ProofPool() }
}

let fixture: Promise<DpopFixture> | null = null

export default {
  async fetch(req, env, ctx) {
    const url = new URL(req.url)
    const name = url.searchParams.get('op') ?? 'noop'
    const n = Number(url.searchParams.get('n') ?? '1')
    try {
      fixture ??= makeDpopFixture(env)
      const dfx = await fixture
      installStubFetch(dfx.fx)
      if (name === 'prepare') {
        // n proofs of each algorithm unless the request names a count for it (?ES256=…).
        for (const alg of PROOF_ALGS) {
          await dfx.pool.fill(dfx.clients[alg], Number(url.searchParams.get(alg) ?? n))
        }
        return Response.json({ op: name, n, ok: n })
      }
      const op = OPS[name]
      if (op === undefined) return Response.json({ error: `unknown op ${name}` }, { status: 400 })
      let ok = 0
      for (let i = 0; i < n; i++) if ((await op(dfx, env, ctx)) !== false) ok++
      return Response.json({ op: name, n, ok }, { status: ok === n ? 200 : 500 })
    } catch (err) {
      return Response.json({ op: name, n, error: String(err) }, { status: 500 })
    }
  },
} satisfies ExportedHandler<Env>
