// orders-service/server.mjs: an origin that only answers requests Gatehouse forwarded
import { createServer } from 'node:http'
import { createAssertionVerifier, readNodeBody, verifyNodeRequest } from 'gatehouse/origin'

const port = Number(process.env.ORDERS_PORT ?? 9001)
const gatehouse = createAssertionVerifier({
  issuer: `http://127.0.0.1:${process.env.GATEHOUSE_PORT ?? 8787}`, // the gateway's public_url
  audience: `http://127.0.0.1:${port}`, // this route's origin (or its assertion_audience)
  secret: process.env.ORIGIN_SECRET_ORDERS, // HS256; for EdDSA instead:
  // jwksUrl: 'https://auth.example.com/.well-known/origin-assertion-jwks.json',
})

createServer(async (req, res) => {
  const body = await readNodeBody(req) // the bytes the digest covers; null when there are none
  const result = await verifyNodeRequest(gatehouse, req, body) // Host header, raw req.url
  if (!result.ok) {
    console.warn(`orders: refused ${req.method} ${req.url} (${result.reason})`) // e.g. replayed
    return res.writeHead(401).end()
  }
  const { sub, tid, scope } = result.claims // no sub on auth = "none" routes
  console.log(`orders: ${req.method} ${req.url} for ${sub} of ${tid}`)
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify({ order: req.url?.split('/').pop(), for: sub, tenant: tid, scope }))
}).listen(port, '127.0.0.1', () => console.log(`orders service on http://127.0.0.1:${port}`))
