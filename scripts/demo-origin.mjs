// The demo origin (README § the local demo profile): answers every request with 200 and JSON
// {method, path, query, headers, gateway}, and GET /__count with {count} — the number of
// requests it has served, not counting /__count itself nor the demo IdP's key. `gateway` is what
// the origin concluded about the request's provenance, the way a real origin trusts Gatehouse:
// the Gatehouse-Assertion verified with gatehouse/origin (HS256 under ORIGIN_SECRET_DEMO,
// audience this origin's URL), and the legacy signed X-Auth-* headers (src/origin/) when a route
// sends them (identity = "headers" | "both"). GET /idp/jwks.json serves the demo third-party
// issuer's public key. A WebSocket upgrade on any path is accepted (counted like a request, its
// assertion verified the same way): the first message is the same JSON for the upgrade request
// plus the subprotocol chosen (the first one offered), then every message is echoed back.
//
//   node scripts/demo-origin.mjs [port]        (npm start runs it for you)

import { createServer } from 'node:http'
import { pathToFileURL } from 'node:url'
import { createAssertionVerifier, readNodeBody, verifyNodeRequest } from 'gatehouse/origin'
import { WebSocketServer } from 'ws'
import { loadOriginVerifier } from './lib/origin-verifier.mjs'

/** Bodies are read whole to check their digest; the gateway binds at most 1 MiB by default. */
const DEMO_MAX_BODY_BYTES = 16 * 1024 * 1024
/**
 * Node's default is 16 KiB of request line and headers. The assertion carries the full URL in
 * `htu` (base64url, so 4/3 of it), so a long path arrives about 2.3 times over: room for the
 * gateway's longest forwarded paths.
 */
const DEMO_MAX_HEADER_BYTES = 64 * 1024

/**
 * Starts the demo origin; resolves to the http.Server once it listens. Without `secret` it
 * verifies nothing (`gateway: null`); `issuer` is the gateway's public_url, `audience` defaults
 * to this origin's own URL (the demo routes' `origin`).
 */
export async function startDemoOrigin({
  port = 8788,
  host = '127.0.0.1',
  secret,
  issuer = 'http://127.0.0.1:8787',
  audience,
  idpJwks,
} = {}) {
  const legacy = secret ? await loadOriginVerifier(secret) : null
  /** @type {import('gatehouse/origin').AssertionVerifier | null} */
  let assertion = null
  let count = 0
  /** What the origin reports of a request it served: its HTTP answer, a socket's first message. */
  const report = async (req, body) => {
    const url = new URL(req.url ?? '/', `http://${host}`)
    return {
      method: req.method,
      path: url.pathname,
      query: url.search,
      headers: Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), v]),
      ),
      gateway: secret ? await verdict(req, body) : null,
    }
  }
  const server = createServer({ maxHeaderSize: DEMO_MAX_HEADER_BYTES }, async (req, res) => {
    const url = new URL(req.url ?? '/', `http://${host}`)
    if (req.method === 'GET' && url.pathname === '/__count') {
      return send(res, 200, { count })
    }
    // The gateway fetching the demo IdP's keys is not an API request reaching the origin.
    if (req.method === 'GET' && url.pathname === '/idp/jwks.json' && idpJwks) {
      return send(res, 200, idpJwks)
    }
    count++
    let body
    try {
      body = await readNodeBody(req, DEMO_MAX_BODY_BYTES)
    } catch {
      return send(res, 413, { error: 'body too large for the demo origin' })
    }
    send(res, 200, await report(req, body))
  })

  // WebSockets (README § APIs from browsers and sockets): the ws library answers the handshake
  // and picks the first subprotocol offered. The verdict is reached before the socket opens (the
  // upgrade has no body: the assertion says `none`).
  const sockets = new WebSocketServer({ noServer: true })
  server.on('upgrade', async (req, socket, head) => {
    socket.on('error', () => socket.destroy())
    count++
    const first = await report(req, null)
    sockets.handleUpgrade(req, socket, head, (ws) => {
      ws.send(JSON.stringify({ ...first, protocol: ws.protocol }))
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }))
    })
  })
  server.on('close', () => {
    for (const ws of sockets.clients) ws.terminate()
  })

  /** The assertion's verdict, and the legacy headers' where the route also sends those. */
  async function verdict(req, body) {
    const signedHeaders = req.headers['x-auth-signature'] !== undefined
    const headersVerdict = async () => ({
      ...(await legacy({
        method: req.method ?? 'GET',
        target: req.url ?? '/',
        headers: req.headers,
      })),
      via: 'headers',
    })
    if (req.headers['gatehouse-assertion'] === undefined && signedHeaders) return headersVerdict()
    const result = await verifyNodeRequest(assertion, req, body)
    if (!result.ok) return { ok: false, via: 'assertion', reason: result.reason }
    if (signedHeaders) {
      const headers = await headersVerdict()
      if (!headers.ok) return { ok: false, via: 'both', reason: headers.reason }
    }
    return {
      ok: true,
      via: signedHeaders ? 'both' : 'assertion',
      identity: identityOf(result.claims),
      claims: result.claims,
    }
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, resolve)
  })
  if (secret) {
    const { port: bound } = /** @type {import('node:net').AddressInfo} */ (server.address())
    assertion = createAssertionVerifier({
      issuer,
      audience: audience ?? `http://${host}:${bound}`,
      secret,
    })
  }
  return server
}

/** The identity in the shape the legacy verifier reports it (src/origin/verify-identity.ts). */
function identityOf(claims) {
  const jti = String(claims.jti)
  return {
    subject: claims.sub ?? null,
    issuer: claims.sub === undefined ? null : (claims.token_iss ?? claims.iss),
    tenant: claims.tid ?? null,
    scopes: claims.scope ? claims.scope.split(' ') : [],
    session: claims.sid ?? null,
    client: claims.client_id ?? null,
    dpopKey: claims.cnf?.jkt ?? null,
    revocation: claims.rev ?? null,
    requestId: jti.slice(0, jti.lastIndexOf('.')),
  }
}

function send(res, status, body) {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  })
  res.end(text)
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const port = Number(process.argv[2] ?? 8788)
  const secret = process.env.ORIGIN_SECRET_DEMO
  const issuer = process.env.GATEHOUSE_PUBLIC_URL ?? 'http://127.0.0.1:8787'
  await startDemoOrigin({ port, secret, issuer })
  console.log(`demo origin listening on http://127.0.0.1:${port}`)
}
