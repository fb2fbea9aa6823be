// legacy-headers.mjs: an origin behind a route with identity = "headers"
import { createServer } from 'node:http'
import { createIdentityVerifier } from 'gatehouse/origin'

const verify = createIdentityVerifier({ secrets: [process.env.GATEHOUSE_ORIGIN_SECRET] })

createServer(async (req, res) => {
  const result = await verify({ method: req.method, target: req.url, headers: req.headers })
  if (!result.ok) {
    console.warn(`refused: ${result.reason}`) // missing_signature, stale, replayed, …
    return res.writeHead(401).end()
  }
  res.end(`hello ${result.identity.subject} of ${result.identity.tenant}`)
}).listen(Number(process.env.PORT ?? 8080))
