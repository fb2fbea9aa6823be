// Servers the benchmark runs next to the Workers: the demo origin in a child process (so the
// Node client's own work never delays it), and an in-process JWKS endpoint that counts fetches
// for the kid-flood scenario.

import { fork } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:http'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ORIGIN_PROCESS = join(dirname(fileURLToPath(import.meta.url)), '..', 'origin-process.mjs')

/** Starts the demo origin; resolves to { url, count(), close() }. */
export async function startOrigin() {
  const child = fork(ORIGIN_PROCESS, [], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
  const [chunk] = await once(child.stdout, 'data')
  const { port } = JSON.parse(String(chunk))
  const url = `http://127.0.0.1:${port}`
  return {
    url,
    pid: child.pid,
    /** Requests the origin has served (not counting /__count). */
    async count() {
      const res = await fetch(`${url}/__count`)
      return (await res.json()).count
    },
    close() {
      child.kill()
    },
  }
}

/** Serves `jwks()` at /jwks.json and counts GETs; resolves to { url, fetches(), close() }. */
export async function startJwksServer(jwks) {
  let fetches = 0
  const server = createServer((req, res) => {
    if (req.url !== '/jwks.json') return res.writeHead(404).end()
    fetches++
    const body = JSON.stringify(jwks())
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    })
    res.end(body)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    fetches: () => fetches,
    close: () => server.close(),
  }
}
