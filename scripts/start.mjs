// npm start: the local demo profile (v2) in one command (README § Quick start).
//   1. secrets in .dev.vars (generated once), 2. D1 migrations applied locally to every session
//   shard and the audit database, 3. demo data seeded on their shards (idempotent), 4. the demo third-party issuer's key in .demo-idp.json
//   (generated once), 5. demo origin on :8788 (it publishes that key), 6. the gateway on :8787.
//   The Python and Go example origins (:8789, :8790) are started by hand (README).
// Ctrl-C stops everything.

import { spawn, spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startDemoOrigin } from './demo-origin.mjs'
import { readFileSync } from 'node:fs'
import { demoIdpJwks, ensureDemoIdp } from './lib/demo-idp.mjs'
import { ensureDevVars } from './lib/dev-vars.mjs'
import { auditBinding, shardBindings } from './lib/placement.mjs'
import { seedDemo } from './seed-demo.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const wrangler = join(root, 'node_modules', '.bin', 'wrangler')
const GATEWAY_PORT = Number(process.env.GATEHOUSE_PORT ?? 8787)
const ORIGIN_PORT = Number(process.env.DEMO_ORIGIN_PORT ?? 8788)
// The example origins in Python and Go (examples/, README § How an origin trusts Gatehouse):
// npm start does not run them, but the demo profile routes /api/py and /api/go to them.
const PYTHON_ORIGIN_PORT = Number(process.env.PYTHON_ORIGIN_PORT ?? 8789)
const GO_ORIGIN_PORT = Number(process.env.GO_ORIGIN_PORT ?? 8790)
// The single-page app the demo profile lets call /api/echo cross-origin (CORS), at Vite's default
// http://localhost:5173: npm start serves no such app; the e2e tests serve a page there.
const SPA_PORT = Number(process.env.DEMO_SPA_PORT ?? 5173)
const persistTo = process.env.GATEHOUSE_STATE_DIR // e2e tests run against a throwaway state dir

function step(label, args) {
  const result = spawnSync(wrangler, args, {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, CI: '1' }, // no interactive confirmation prompts
  })
  if (result.status !== 0) {
    console.error(`npm start: ${label} failed (exit ${result.status})`)
    process.exit(1)
  }
}

/**
 * The demo profile's URLs name ports 8787 (gateway), 8788 (demo origin), 8789 and 8790 (the
 * Python and Go example origins) and 5173 (the app allowed by CORS). On other ports
 * (GATEHOUSE_PORT, DEMO_ORIGIN_PORT, PYTHON_ORIGIN_PORT, GO_ORIGIN_PORT, DEMO_SPA_PORT — the e2e
 * tests use free ones) the same configuration
 * (config/demo.json, the file the Worker bundles) is passed with the ports rewritten in one pass
 * (so a new port never matches an old one), as a GATEHOUSE var that overrides the profile.
 */
function portOverrides() {
  const ports = {
    8787: GATEWAY_PORT,
    8788: ORIGIN_PORT,
    8789: PYTHON_ORIGIN_PORT,
    8790: GO_ORIGIN_PORT,
    5173: SPA_PORT,
  }
  if (Object.entries(ports).every(([from, to]) => Number(from) === to)) return []
  const json = JSON.stringify(demo).replace(
    /:(878[7-9]|8790|5173)(?!\d)/g,
    (_, from) => `:${ports[from]}`,
  )
  return ['--var', `GATEHOUSE:${json}`, '--inspector-port', String(GATEWAY_PORT + 1000)]
}

const secrets = ensureDevVars(join(root, '.dev.vars'))
const persist = persistTo ? ['--persist-to', persistTo] : []
const demo = JSON.parse(readFileSync(join(root, 'config', 'demo.json'), 'utf8'))
for (const binding of [...shardBindings(demo), auditBinding(demo)]) {
  step(`applying D1 migrations to ${binding}`, [
    'd1',
    'migrations',
    'apply',
    binding,
    '--local',
    ...persist,
  ])
}
await seedDemo({ root, wrangler, pepper: secrets.PASSWORD_PEPPER, config: demo, persist })
const idp = ensureDemoIdp(root, ORIGIN_PORT)
const origin = await startDemoOrigin({
  port: ORIGIN_PORT,
  secret: secrets.ORIGIN_SECRET_DEMO,
  issuer: `http://127.0.0.1:${GATEWAY_PORT}`,
  idpJwks: demoIdpJwks(idp),
})
console.log(`demo origin   http://127.0.0.1:${ORIGIN_PORT}`)
console.log(`demo issuer   ${idp.issuer} (private key in .demo-idp.json; tenant partners)`)

const gateway = spawn(
  wrangler,
  [
    'dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(GATEWAY_PORT),
    '--local',
    ...persist,
    ...portOverrides(),
  ],
  { cwd: root, stdio: 'inherit', env: process.env },
)
const stop = () => {
  gateway.kill('SIGTERM')
  origin.close()
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
gateway.on('exit', (code) => {
  origin.close()
  process.exit(code ?? 0)
})
