// Prepares a production deploy of Gatehouse (docs/DEPLOY.md is the walk-through). Without
// flags it prints the wrangler commands, in order, for [env.production] as wrangler.toml
// describes it; with --run it runs them, idempotently (existing resources and secrets are kept):
//   KV namespace · D1 database (+ remote migrations) · Queue · secrets · deploy · first admin.
// Analytics Engine datasets need no creation: a dataset exists from its first write.
//
//   node scripts/deploy-setup.mjs                 # print the plan
//   node scripts/deploy-setup.mjs --run           # do it (needs `npx wrangler login` first)
//   node scripts/deploy-setup.mjs --run --rotate ORIGIN_SECRET_PAYMENTS   # a new origin secret
//
// Secrets get fresh random values piped into `wrangler secret put`; a value is never printed.
// Generated values are appended to a private file (mode 600, outside the repository) so the
// operator can move them to a password manager and the origins; the path is printed.

import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  ROOT,
  WRANGLER,
  WRANGLER_TOML,
  isPlaceholderId,
  readWranglerEnv,
  requiredSecrets,
  validateGatehouse,
} from './lib/deploy-config.mjs'

/** 256 bits: readSecret wants ≥ 32 characters; base64url of 32 bytes is 43. */
const SECRET_BYTES = 32
/** Changing these breaks existing data; docs/RUNBOOK.md has the procedures. */
const NOT_ROTATABLE_HERE = new Set(['KEY_ENCRYPTION_SECRET', 'PASSWORD_PEPPER'])

const { values: args } = parseArgs({
  options: {
    run: { type: 'boolean', default: false },
    env: { type: 'string', default: 'production' },
    'secrets-file': { type: 'string' },
    rotate: { type: 'string', multiple: true, default: [] },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (args.help) {
  console.log(
    readFileSync(new URL(import.meta.url), 'utf8')
      .split('\n\n')[0]
      .replace(/^\/\/ ?/gm, ''),
  )
  process.exit(0)
}

const envName = args.env
const envFlag = ['--env', envName]

async function loadPlan() {
  const env = await readWranglerEnv(envName)
  if (env.vars?.GATEHOUSE_PROFILE === undefined && env.vars?.GATEHOUSE === undefined)
    fail(`wrangler.toml [env.${envName}.vars] names no GATEHOUSE_PROFILE (config/<profile>.json)`)
  const checked = await validateGatehouse(env.vars, `[env.${envName}] `)
  if (checked.problem)
    fail(`${checked.problem} (run: node scripts/check-config.mjs --env ${envName})`)
  const worker = env.name
  return {
    env,
    worker,
    publicUrl: checked.config.publicUrl,
    kv: (env.kv_namespaces ?? []).map((kv) => ({
      ...kv,
      title: `${worker}-${kv.binding.toLowerCase().replace(/_/g, '-')}`,
    })),
    d1: env.d1_databases ?? [],
    queues: [
      ...new Set([
        ...(env.queues?.producers ?? []).map((q) => q.queue),
        ...(env.queues?.consumers ?? []).map((q) => q.queue),
      ]),
    ],
    datasets: (env.analytics_engine_datasets ?? []).map((d) => d.dataset ?? d.binding),
    secrets: requiredSecrets(checked.secretNames),
  }
}

function fail(message) {
  console.error(`deploy-setup: ${message}`)
  process.exit(1)
}

function defaultSecretsFile(worker) {
  return join(homedir(), '.gatehouse', `${worker}-secrets.env`)
}

// ── print mode ──────────────────────────────────────────────────────────────────────────────

function printPlan(p) {
  const secretsFile = args['secrets-file'] ?? `$HOME/.gatehouse/${p.worker}-secrets.env`
  const out = []
  const step = (title) => out.push('', `# ── ${title}`)
  out.push(
    `# Gatehouse: preparing [env.${envName}] (Worker "${p.worker}", ${p.publicUrl}).`,
    '# Run from the repository root. Or let this script do it all: node scripts/deploy-setup.mjs --run',
  )
  step('0. Prerequisites: a Workers Paid plan (Argon2id needs ~35 ms CPU per login), then log in')
  out.push('npx wrangler login', `node scripts/check-config.mjs --env ${envName}`)
  step('1. KV namespace (JWKS cache); paste the printed id into wrangler.toml')
  for (const kv of p.kv) {
    out.push(
      `npx wrangler kv namespace create ${kv.title}`,
      `#   → [[env.${envName}.kv_namespaces]] binding = "${kv.binding}": id = "<the id>"`,
    )
  }
  step('2. D1 database (users, sessions, refresh tokens, audit events); paste database_id')
  for (const db of p.d1) {
    out.push(
      `npx wrangler d1 create ${db.database_name}`,
      `#   → [[env.${envName}.d1_databases]] binding = "${db.binding}": database_id = "<the id>"`,
    )
  }
  out.push(`node scripts/check-config.mjs --env ${envName} --require-ids   # the ids are real now`)
  step('3. Apply the D1 migrations to the remote database')
  for (const db of p.d1)
    out.push(`npx wrangler d1 migrations apply ${db.binding} --remote --env ${envName}`)
  step('4. Queue (security and audit events → D1)')
  for (const q of p.queues) out.push(`npx wrangler queues create ${q}`)
  step('5. Analytics Engine')
  out.push(
    `# Nothing to create: dataset(s) ${p.datasets.join(', ')} appear with the first data point.`,
  )
  step('6. Secrets: random values, never shown; saved to a private file for your password manager')
  out.push(
    `umask 077; mkdir -p "${dirname(secretsFile)}"; f="${secretsFile}"`,
    `existing=$(npx wrangler secret list --env ${envName} 2>/dev/null)   # never overwrite a set secret`,
    `for name in ${p.secrets.join(' ')}; do`,
    `  case "$existing" in *"\\"$name\\""*) echo "$name is set: kept"; continue;; esac`,
    `  value=$(node -e "process.stdout.write(require('node:crypto').randomBytes(${SECRET_BYTES}).toString('base64url'))")`,
    `  [ "$name" = KEY_ENCRYPTION_SECRET ] || printf '%s=%s\\n' "$name" "$value" >> "$f"`,
    `  printf '%s' "$value" | npx wrangler secret put "$name" --env ${envName}`,
    'done; unset value',
    '# Move the values to a password manager and give each ORIGIN_SECRET_* to its origin service',
    '# (src/origin/ verifies with it); then delete the file.',
  )
  step('7. Deploy')
  out.push(`npx wrangler deploy --env ${envName}`)
  step('8. First admin user (the deployed gateway starts with no users)')
  out.push(
    `PASSWORD_PEPPER="$(sed -n 's/^PASSWORD_PEPPER=//p' "$f" | tail -1)" \\`,
    `  node scripts/create-user.mjs --env ${envName} --tenant <tenant> --username <name> --admin`,
    '#   (prompts for the password; never pass it as an argument)',
  )
  step('9. Verify')
  out.push(
    `curl -s ${p.publicUrl}/healthz                     # {"status":"ok"}`,
    `curl -s ${p.publicUrl}/.well-known/jwks.json       # the signing keys`,
    `curl -s ${p.publicUrl}/.well-known/oauth-authorization-server`,
  )
  console.log(out.join('\n'))
}

// ── run mode ────────────────────────────────────────────────────────────────────────────────

function wrangler(wranglerArgs, { input, allowFailure = false, echo = true } = {}) {
  if (echo) console.log(`$ wrangler ${wranglerArgs.join(' ')}`)
  const result = spawnSync(WRANGLER, wranglerArgs, {
    cwd: ROOT,
    encoding: 'utf8',
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, CI: '1', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
  })
  if (result.status !== 0 && !allowFailure) {
    process.stdout.write(result.stdout)
    process.stderr.write(result.stderr)
    fail(`wrangler ${wranglerArgs[0]} ${wranglerArgs[1] ?? ''} failed (exit ${result.status})`)
  }
  return result
}

function json(text) {
  const start = text.search(/[[{]/)
  return start < 0 ? null : JSON.parse(text.slice(start))
}

/** Replaces a placeholder id in wrangler.toml if it occurs exactly once; else asks the operator. */
function writeId(placeholder, id, where) {
  const text = readFileSync(WRANGLER_TOML, 'utf8')
  const quoted = `"${placeholder}"`
  if (text.split(quoted).length !== 2) {
    console.log(`  → put ${where} = "${id}" into wrangler.toml yourself (placeholder not unique)`)
    return false
  }
  writeFileSync(WRANGLER_TOML, text.replace(quoted, `"${id}"`))
  console.log(`  → wrote ${where} = "${id}" into wrangler.toml (commit it)`)
  return true
}

function checkConfig(extra = []) {
  const result = spawnSync(
    process.execPath,
    [join(ROOT, 'scripts', 'check-config.mjs'), ...envFlag, ...extra],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  )
  if (result.status !== 0) fail('the configuration check failed; fix wrangler.toml and re-run')
}

async function runPlan(p) {
  for (const name of args.rotate) {
    if (NOT_ROTATABLE_HERE.has(name))
      fail(`${name} is not rotated by this script: see docs/RUNBOOK.md`)
    if (!p.secrets.includes(name)) fail(`--rotate ${name}: the configuration does not use it`)
  }
  console.log(`── 0. preflight`)
  checkConfig()
  const who = wrangler(['whoami'], { allowFailure: true })
  if (who.status !== 0 || /not authenticated/i.test(who.stdout + who.stderr)) {
    fail('wrangler is not logged in: run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN)')
  }

  console.log(`── 1. KV namespace`)
  for (const kv of p.kv) {
    const find = () =>
      json(wrangler(['kv', 'namespace', 'list'], { echo: false }).stdout)?.find(
        (n) => n.title === kv.title,
      )
    let found = find()
    if (found) console.log(`  ${kv.title} exists (${found.id})`)
    else {
      wrangler(['kv', 'namespace', 'create', kv.title])
      found = find() ?? fail(`created ${kv.title} but cannot find it in the namespace list`)
    }
    if (isPlaceholderId(kv.id))
      writeId(kv.id, found.id, `[env.${envName}] kv_namespaces ${kv.binding} id`)
    else if (kv.id !== found.id)
      console.log(`  ! wrangler.toml names ${kv.id}, the account has ${found.id}`)
  }

  console.log(`── 2. D1 database`)
  for (const db of p.d1) {
    const find = () =>
      json(wrangler(['d1', 'list', '--json'], { echo: false }).stdout)?.find(
        (d) => d.name === db.database_name,
      )
    let found = find()
    if (found) console.log(`  ${db.database_name} exists (${found.uuid})`)
    else {
      wrangler(['d1', 'create', db.database_name])
      found = find() ?? fail(`created ${db.database_name} but cannot find it in the list`)
    }
    if (isPlaceholderId(db.database_id)) {
      writeId(db.database_id, found.uuid, `[env.${envName}] d1_databases ${db.binding} database_id`)
    } else if (db.database_id !== found.uuid) {
      console.log(`  ! wrangler.toml names ${db.database_id}, the account has ${found.uuid}`)
    }
  }
  checkConfig(['--require-ids'])

  console.log(`── 3. D1 migrations (remote)`)
  for (const db of p.d1) wrangler(['d1', 'migrations', 'apply', db.binding, '--remote', ...envFlag])

  console.log(`── 4. Queue`)
  for (const q of p.queues) {
    if (wrangler(['queues', 'info', q], { allowFailure: true, echo: false }).status === 0) {
      console.log(`  ${q} exists`)
    } else wrangler(['queues', 'create', q])
  }

  console.log(`── 5. Analytics Engine`)
  console.log(`  nothing to create: ${p.datasets.join(', ')} appear(s) with the first data point`)

  console.log(`── 6. Secrets`)
  const listed = wrangler(['secret', 'list', ...envFlag], { allowFailure: true, echo: false })
  const existing = new Set(
    listed.status === 0 ? (json(listed.stdout) ?? []).map((s) => s.name) : [],
  )
  const secretsFile = args['secrets-file'] ?? defaultSecretsFile(p.worker)
  const generated = new Map()
  for (const name of p.secrets) {
    if (existing.has(name) && !args.rotate.includes(name)) {
      console.log(`  ${name} is set — kept`)
      continue
    }
    const value = randomBytes(SECRET_BYTES).toString('base64url')
    // Nobody but the Worker needs the key-encryption secret: it is not written anywhere.
    if (name !== 'KEY_ENCRYPTION_SECRET') saveSecret(secretsFile, name, value)
    wrangler(['secret', 'put', name, ...envFlag], { input: value })
    generated.set(name, value)
  }
  const saved = [...generated.keys()].filter((name) => name !== 'KEY_ENCRYPTION_SECRET')
  if (saved.length > 0) {
    console.log(
      `  new values of ${saved.join(', ')} are in ${secretsFile} (mode 600).\n` +
        '  Move them to your password manager, give each ORIGIN_SECRET_* to its origin, then delete the file.',
    )
  }

  console.log(`── 7. Deploy`)
  wrangler(['deploy', ...envFlag])

  console.log(`── 8. First admin user`)
  await firstAdmin(p, generated.get('PASSWORD_PEPPER'))

  console.log(`── 9. Verify`)
  await verify(p.publicUrl)
}

function saveSecret(file, name, value) {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  if (!existsSync(file)) writeFileSync(file, `# ${secretsFileHeader()}\n`, { mode: 0o600 })
  chmodSync(file, 0o600)
  appendFileSync(file, `${name}=${value}\n`)
}

function secretsFileHeader() {
  return `Gatehouse [env.${envName}] secrets generated by scripts/deploy-setup.mjs on ${new Date().toISOString()}`
}

async function firstAdmin(p, pepper) {
  const command =
    'PASSWORD_PEPPER=… node scripts/create-user.mjs ' +
    `--env ${envName} --tenant <tenant> --username <name> --admin`
  if (!process.stdin.isTTY || pepper === undefined) {
    console.log(`  ${command}`)
    console.log('  (PASSWORD_PEPPER: the deployed value, from your password manager)')
    return
  }
  const readline = await import('node:readline/promises')
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout })
  const tenant = (await rl.question('  tenant of the first admin (empty: skip): ')).trim()
  const username = tenant ? (await rl.question('  username: ')).trim() : ''
  rl.close()
  if (!tenant || !username) {
    console.log(`  skipped; later: ${command}`)
    return
  }
  // The pepper travels in the child's environment, never on its command line.
  await new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        join(ROOT, 'scripts', 'create-user.mjs'),
        ...envFlag,
        '--tenant',
        tenant,
        '--username',
        username,
        '--admin',
      ],
      { cwd: ROOT, stdio: 'inherit', env: { ...process.env, PASSWORD_PEPPER: pepper } },
    )
    child.on('exit', resolve)
  })
}

async function verify(publicUrl) {
  for (const path of ['/healthz', '/.well-known/oauth-authorization-server']) {
    try {
      const res = await fetch(`${publicUrl}${path}`, { signal: AbortSignal.timeout(10_000) })
      console.log(`  GET ${path} → ${res.status}`)
    } catch (err) {
      console.log(`  GET ${path} → ${err instanceof Error ? err.message : err}`)
      console.log(
        '  (a new custom domain can take a few minutes to get its certificate; retry with curl)',
      )
    }
  }
}

const plan = await loadPlan()
if (args.run) await runPlan(plan)
else printPlan(plan)
