// npm start: the local demo profile (v2) in one command (README § Quick start; `npm start -- -h`).
//   1. secrets in .dev.vars (generated once), 2. the configuration validated before anything
//   starts (the Worker's own parseConfig with the .dev.vars secrets, and wrangler.toml's D1
//   databases): every problem is listed and npm start exits 1, 3. D1 migrations applied locally to
//   every session shard and the audit database, 4. demo data seeded on their shards (idempotent),
//   5. the demo third-party issuer's key in .demo-idp.json (generated once), 6. demo origin on
//   :8788 (it publishes that key), 7. the gateway on :8787: wrangler dev in a process group of its
//   own (scripts/lib/start-gateway.mjs), given the configuration as a GATEHOUSE var.
// The Python and Go example origins (:8789, :8790) are started by hand (README).
// While it runs, the configuration file and wrangler.toml are watched: a valid edit of the
// configuration restarts the gateway with it, anything npm start cannot apply is said so.
// Ctrl-C, SIGTERM and SIGHUP stop everything, and so does npm start's own death.

import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startDemoOrigin } from './demo-origin.mjs'
import { demoIdpJwks, ensureDemoIdp } from './lib/demo-idp.mjs'
import { ensureDevVars } from './lib/dev-vars.mjs'
import { auditBinding, shardBindings } from './lib/placement.mjs'
import { handleStartArgs, readStartEnv } from './lib/start-cli.mjs'
import { portsAreDefault, validateStart } from './lib/start-config.mjs'
import { startGateway, waitHealthy } from './lib/start-gateway.mjs'
import { watchFile } from './lib/start-watch.mjs'
import { seedDemo } from './seed-demo.mjs'

handleStartArgs(process.argv.slice(2))

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const wrangler = join(root, 'node_modules', '.bin', 'wrangler')
const wranglerToml = join(root, 'wrangler.toml')
const devVarsPath = join(root, '.dev.vars')
const settings = readStartEnv(process.env, root)
if (settings.problems.length > 0) fail(settings.problems)
const { ports, gatewayPort, originPort, configPath, configLabel, persistTo } = settings
const gatewayUrl = `http://127.0.0.1:${gatewayPort}`
const check = () => validateStart({ wranglerToml, configPath, configLabel, devVarsPath, ports })

function fail(problems) {
  console.error('npm start: the configuration is invalid; nothing was started:')
  for (const p of problems) console.error(`  ${p}`)
  process.exit(1)
}

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

const secrets = ensureDevVars(devVarsPath)
const validated = await check()
if (validated.problems.length > 0) fail(validated.problems)
const persist = persistTo ? ['--persist-to', persistTo] : []
for (const binding of [...shardBindings(validated.doc), auditBinding(validated.doc)]) {
  step(`applying D1 migrations to ${binding}`, [
    'd1',
    'migrations',
    'apply',
    binding,
    '--local',
    ...persist,
  ])
}
await seedDemo({ root, wrangler, pepper: secrets.PASSWORD_PEPPER, config: validated.doc, persist })
const idp = ensureDemoIdp(root, originPort)
const origin = await startDemoOrigin({
  port: originPort,
  secret: secrets.ORIGIN_SECRET_DEMO,
  issuer: gatewayUrl,
  idpJwks: demoIdpJwks(idp),
})
console.log(`demo origin   http://127.0.0.1:${originPort}`)
console.log(`demo issuer   ${idp.issuer} (private key in .demo-idp.json; tenant partners)`)

/**
 * wrangler dev's arguments. The configuration always goes in as a GATEHOUSE var (it overrides
 * the bundled profile): the file npm start validated, with its ports rewritten, is what the
 * Worker serves, and a later edit reaches the Worker only through npm start's own check.
 */
function gatewayArgs(doc) {
  return [
    'dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(gatewayPort),
    '--local',
    ...persist,
    '--var',
    `GATEHOUSE:${JSON.stringify(doc)}`,
    ...(portsAreDefault(ports) ? [] : ['--inspector-port', String(gatewayPort + 1000)]),
  ]
}

let gateway
let stopping = false
const unwatch = []

function launch(doc) {
  const started = startGateway({ wrangler, args: gatewayArgs(doc), cwd: root, env: process.env })
  // Wrangler ended by itself (not a restart, not a stop of ours): npm start ends with it.
  void started.exited.then((code) => {
    if (gateway === started) void shutdown(code)
  })
  return started
}

async function shutdown(code) {
  if (stopping) return
  stopping = true
  for (const stop of unwatch) stop()
  origin.closeAllConnections()
  origin.close()
  await gateway?.stop()
  process.exit(code)
}

/** Stops the running gateway and starts it with `doc`; resolves true once it answers. */
async function restartGateway(doc) {
  const old = gateway
  gateway = undefined
  await old?.stop()
  if (stopping) return false
  gateway = launch(doc)
  return waitHealthy(`${gatewayUrl}/healthz`, gateway.exited)
}

function report(headline, problems) {
  console.error(`npm start: ${headline}`)
  for (const p of problems) console.error(`  ${p}`)
}

/** A saved change that npm start can only apply at start (D1 databases it migrates and seeds). */
function needsRestart(result) {
  return result.facts !== null && result.facts !== validated.facts
}

async function onConfigChange() {
  const result = await check()
  if (result.problems.length > 0) {
    report(`${configLabel} changed and is invalid; the gateway keeps the previous configuration:`, [
      ...result.problems,
    ])
  } else if (needsRestart(result)) {
    console.log(
      `npm start: ${configLabel} changed its storage: restart npm start to apply it (D1 migrations and demo data are applied at start only)`,
    )
  } else {
    console.log(`npm start: ${configLabel} changed and is valid; restarting the gateway with it`)
    if (await restartGateway(result.doc)) console.log(`npm start: config reloaded (${gatewayUrl})`)
  }
}

async function onWranglerTomlChange() {
  const result = await check()
  if (result.problems.length > 0) {
    report(
      'wrangler.toml changed; wrangler dev reloads it, and the configuration is now invalid:',
      [...result.problems],
    )
  } else if (needsRestart(result)) {
    console.log(
      'npm start: wrangler.toml changed its D1 databases: restart npm start to apply them (D1 migrations and demo data are applied at start only)',
    )
  } else {
    console.log('npm start: wrangler.toml changed and is valid; wrangler dev reloads it')
  }
}

gateway = launch(validated.doc)
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => void shutdown(0))
// However this process ends, the gateway's group leader is told (and it also sees its stdin close).
process.on('exit', () => void gateway?.stop())
unwatch.push(watchFile(configPath, onConfigChange), watchFile(wranglerToml, onWranglerTomlChange))
if (await waitHealthy(`${gatewayUrl}/healthz`, gateway.exited)) {
  console.log(`gateway       ${gatewayUrl} (${configLabel}; Ctrl-C stops everything)`)
}
