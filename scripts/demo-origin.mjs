// The demo origin (README § the local demo profile): answers every request with 200 and JSON
// {method, path, query, headers, gateway}, and GET /__count with {count} — the number of
// requests it has served, not counting /__count itself nor the demo IdP's key. `gateway` is what
// the origin verifier (src/origin/) concluded about the signed identity headers: how a real
// origin trusts them. GET /idp/jwks.json serves the demo third-party issuer's public key.
//
//   node scripts/demo-origin.mjs [port]        (npm start runs it for you)

import { createServer } from 'node:http'
import { pathToFileURL } from 'node:url'
import { loadOriginVerifier } from './lib/origin-verifier.mjs'

/** Starts the demo origin; resolves to the http.Server once it listens. */
export async function startDemoOrigin({ port = 8788, host = '127.0.0.1', secret, idpJwks } = {}) {
  const verify = secret ? await loadOriginVerifier(secret) : null
  let count = 0
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', `http://${host}`)
    if (req.method === 'GET' && url.pathname === '/__count') {
      return send(res, { count })
    }
    // The gateway fetching the demo IdP's keys is not an API request reaching the origin.
    if (req.method === 'GET' && url.pathname === '/idp/jwks.json' && idpJwks) {
      return send(res, idpJwks)
    }
    count++
    for await (const _chunk of req) {
      // drain the body: the echo reports headers, not bodies
    }
    const gateway = verify
      ? await verify({ method: req.method ?? 'GET', target: req.url ?? '/', headers: req.headers })
      : null
    send(res, {
      method: req.method,
      path: url.pathname,
      query: url.search,
      headers: Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), v]),
      ),
      gateway,
    })
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, resolve)
  })
  return server
}

function send(res, body) {
  const text = JSON.stringify(body)
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  })
  res.end(text)
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const port = Number(process.argv[2] ?? 8788)
  const secret = process.env.ORIGIN_SECRET_DEMO
  await startDemoOrigin({ port, secret })
  console.log(`demo origin listening on http://127.0.0.1:${port}`)
}
