// Prepares a production deploy of Gatehouse (docs/DEPLOY.md is the walk-through). Without --run
// it prints the plan: the commands, in order, for [env.production] as wrangler.toml and the
// configuration profile describe it; DEPLOY.md shows exactly these blocks (a test compares them).
// The D1 databases are those the configuration's storage table names (every session shard, then
// the audit database), each with the migrations of its kind.
// With --run it runs them, idempotently: existing resources are found by their exact names and
// kept, and a secret that is already set is never replaced unless --replace-secret names it.
//
//   node scripts/deploy-setup.mjs                 # print the plan
//   CLOUDFLARE_ACCOUNT_ID=… node scripts/deploy-setup.mjs --run --custom-domain-checked auth.example.com
//   … --run --custom-domain-checked auth.example.com --replace-secret ORIGIN_SECRET_PAYMENTS
//
// --run needs the account (CLOUDFLARE_ACCOUNT_ID or account_id): wrangler runs with CI=1 and
// cannot ask which one. It also needs --custom-domain-checked for every Custom Domain host:
// wrangler deploy, not on a terminal, replaces that host's DNS record and takes the host from
// any other Worker without asking (DEPLOY.md § 5 says what to check first).
// Secrets get fresh random values piped into `wrangler secret put`; a value is never printed.
// Generated values are appended to a private file (mode 600, outside the repository) so the
// operator can move them to a password manager and hand them over; the path is printed.

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
  accountIdOf,
  configuredD1,
  customDomainHosts,
  envPrefixedKvTitle,
  isAccountId,
  isPlaceholderId,
  kvNamespaceTitle,
  readWranglerEnv,
  requiredSecrets,
  secretHolders,
  secretNamesFromList,
  storageBindingProblems,
  validateGatehouse,
  workerNotFoundText,
} from './lib/deploy-config.mjs'

/** 256 bits: readSecret wants ≥ 32 characters; base64url of 32 bytes is 43. */
const SECRET_BYTES = 32
/** Changing these breaks existing data; docs/RUNBOOK.md has the procedures. */
const NOT_REPLACEABLE_HERE = new Set(['KEY_ENCRYPTION_SECRET', 'PASSWORD_PEPPER'])
/** The first administrator DEPLOY.md § 6 creates (an operator; any tenant and name will do). */
const FIRST_ADMIN = { tenant: 'acme', username: 'root' }

const { values: args } = parseArgs({
  options: {
    run: { type: 'boolean', default: false },
    env: { type: 'string', default: 'production' },
    'secrets-file': { type: 'string' },
    'replace-secret': { type: 'string', multiple: true, default: [] },
    'custom-domain-checked': { type: 'string', multiple: true, default: [] },
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
  const { config } = checked
  const storageProblems = storageBindingProblems(env, config, `[env.${envName}] `)
  if (storageProblems.length > 0) {
    fail(`${storageProblems[0]} (run: node scripts/check-config.mjs --env ${envName})`)
  }
  const worker = env.name
  const secrets = requiredSecrets(checked.secretNames)
  const holders = secretHolders(config, secrets)
  return {
    worker,
    publicUrl: config.publicUrl,
    account: accountIdOf(env),
    customDomains: customDomainHosts(env),
    kv: (env.kv_namespaces ?? []).map((kv) => ({
      ...kv,
      title: kvNamespaceTitle(worker, kv.binding),
    })),
    // Session shards first, in the configuration's order, then the audit database.
    d1: configuredD1(env, config).map((db) => ({
      ...db.declared,
      role: db.role,
      buckets: db.buckets,
    })),
    queues: [
      ...new Set([
        ...(env.queues?.producers ?? []).map((q) => q.queue),
        ...(env.queues?.consumers ?? []).map((q) => q.queue),
      ]),
    ],
    datasets: (env.analytics_engine_datasets ?? []).map((d) => d.dataset ?? d.binding),
    secrets,
    holders,
    metricsSecret: holders.find((h) => h.holder === 'your metrics scraper')?.name ?? null,
    tokenRoute: config.routes.find((r) => r.auth === 'token')?.prefix ?? null,
    secretsFile: args['secrets-file'] ?? `$HOME/.gatehouse/${worker}-secrets.env`,
  }
}

function fail(message) {
  console.error(`deploy-setup: ${message}`)
  process.exit(1)
}

// ── print mode: one block per DEPLOY.md section, blocks separated by one blank line ─────────

/** The shell expression reading one value back from the secrets file (the newest line wins). */
function fromSecretsFile(p, name) {
  return `"$(sed -n 's/^${name}=//p' "${p.secretsFile}" | tail -1)"`
}

/** A command with a trailing comment, the comments aligned in one column. */
function note(command, comment) {
  return `${command.padEnd(58)} # ${comment}`
}

/** Commands with trailing comments aligned one column past the longest command. */
function alignNotes(pairs) {
  const width = Math.max(...pairs.map(([command]) => command.length))
  return pairs.map(([command, comment]) => `${command.padEnd(width)}   # ${comment}`)
}

/** What a D1 database holds, for the plan's comments. */
function d1Role(db) {
  return db.role === 'audit' ? 'audit events' : `session shard, buckets ${db.buckets}`
}

/** Shell words wrapped at ~100 columns with `\` continuations. */
function wrapWords(first, words, last) {
  const lines = []
  let line = first
  for (const word of words) {
    if (`${line} ${word}`.length > 96) {
      lines.push(`${line} \\`)
      line = '   '
    }
    line += ` ${word}`
  }
  lines.push(`${line}${last}`)
  return lines
}

function planBlocks(p) {
  const e = envName
  const hosts = p.customDomains.join(', ')
  const account =
    p.account === null
      ? 'export CLOUDFLARE_ACCOUNT_ID=<your account id>   # wrangler will not pick one for you'
      : p.account.from === 'CLOUDFLARE_ACCOUNT_ID'
        ? `export CLOUDFLARE_ACCOUNT_ID=${p.account.id}   # wrangler will not pick one for you`
        : `# account_id = "${p.account.id}" in wrangler.toml picks the account`
  const secretsDir = dirname(p.secretsFile)
  const handOver = p.holders.filter((h) => h.holder !== 'nobody')
  const width = Math.max(...handOver.map((h) => h.name.length))
  return [
    [
      `# ── 0. Gatehouse [env.${e}]: Worker "${p.worker}" on ${p.publicUrl}`,
      `# Prerequisites (DEPLOY.md § 1): a Workers Paid plan; the zone of ${hosts || 'the host'} in the account.`,
      'npx wrangler login                  # in CI instead: CLOUDFLARE_API_TOKEN',
      'npx wrangler whoami                 # your accounts and their ids',
      account,
    ],
    [`# ── 1. Check the configuration (DEPLOY.md § 2)`, `node scripts/check-config.mjs --env ${e}`],
    [
      '# ── 2. KV namespace and D1 databases (DEPLOY.md § 3); put the ids they print into wrangler.toml',
      ...p.kv.flatMap((kv) => [
        `npx wrangler kv namespace create ${kv.title}   # exact title: no --env`,
        `#   → [[env.${e}.kv_namespaces]] binding = "${kv.binding}": id = "<the id>"`,
      ]),
      ...p.d1.flatMap((db) => [
        note(`npx wrangler d1 create ${db.database_name}`, d1Role(db)),
        `#   → [[env.${e}.d1_databases]] binding = "${db.binding}": database_id = "<the id>"`,
      ]),
    ],
    [
      '# ── 3. Migrations (every session shard, the audit database) and the queue (DEPLOY.md § 3)',
      `node scripts/check-config.mjs --env ${e} --require-ids   # fails while a placeholder id remains`,
      ...alignNotes(
        p.d1.map((db) => [
          `npx wrangler d1 migrations apply ${db.binding} --remote --env ${e}`,
          db.migrations_dir,
        ]),
      ),
      ...p.queues.map((q) => `npx wrangler queues create ${q}`),
      `# Analytics Engine: nothing to create; ${p.datasets.join(', ')} appears with the first data point.`,
    ],
    [
      '# ── 4. Secrets (DEPLOY.md § 4): random values, never shown; one already set is kept',
      `umask 077; mkdir -p "${secretsDir}"; f="${p.secretsFile}"`,
      `listed=$(npx wrangler secret list --env ${e} 2>&1) || case "$listed" in`,
      `  *'${workerNotFoundText(p.worker, e)}'*) listed='[]' ;;   # a new Worker: none set`,
      `  *) printf '%s\\nsecret list failed: no secret was put\\n' "$listed" >&2; listed='' ;;`,
      'esac',
      ...wrapWords('[ -n "$listed" ] && for name in', p.secrets, '; do'),
      `  case "$listed" in *"\\"$name\\""*) echo "$name is set: kept"; continue ;; esac`,
      `  value=$(node -e "process.stdout.write(require('node:crypto').randomBytes(${SECRET_BYTES}).toString('base64url'))")`,
      `  [ "$name" = KEY_ENCRYPTION_SECRET ] || printf '%s=%s\\n' "$name" "$value" >> "$f"   # nobody else needs it`,
      `  printf '%s' "$value" | npx wrangler secret put "$name" --env ${e}`,
      'done; unset value',
      '# New values are in "$f": move them to your password manager and hand them over:',
      ...handOver.map((h) => `#   ${h.name.padEnd(width)} → ${h.holder}`),
    ],
    [
      '# ── 5. Deploy (DEPLOY.md § 5)',
      ...(p.customDomains.length > 0
        ? [
            `# First check ${hosts}: wrangler replaces its DNS record and takes it from any other`,
            '# Worker (it asks only on a terminal, and a "no" still exits 0).',
          ]
        : []),
      'npm run check:deploy',
      `npx wrangler deploy --env ${e}`,
    ],
    [
      '# ── 6. The first administrator, an operator: gatehouse:admin gatehouse:operator (DEPLOY.md § 6)',
      `PASSWORD_PEPPER=${fromSecretsFile(p, 'PASSWORD_PEPPER')} \\`,
      `  node scripts/create-user.mjs --env ${e} --tenant ${FIRST_ADMIN.tenant} --username ${FIRST_ADMIN.username} --operator`,
    ],
    [
      '# ── 7. Verify (DEPLOY.md § 7)',
      `B=${p.publicUrl}`,
      note('curl -s $B/healthz', '{"status":"ok"}'),
      'curl -s $B/.well-known/oauth-authorization-server | jq .issuer',
      note("curl -s $B/.well-known/jwks.json | jq -r '.keys[].kid'", 'a current and a next key'),
      note("curl -s -o /dev/null -w '%{http_code}\\n' $B/demo", '404: no demo page when deployed'),
      ...(p.tokenRoute === null
        ? []
        : [note(`curl -si $B${p.tokenRoute} | head -1`, '401: a token is required')]),
      note(
        'read -rs PW',
        "the operator's password (a mobile login: the refresh token in the body)",
      ),
      `TOKEN=$(jq -n --arg p "$PW" '{tenant:"${FIRST_ADMIN.tenant}",username:"${FIRST_ADMIN.username}",password:$p,client:"mobile",device_id:"ops-laptop"}' |`,
      "  curl -s -H 'content-type: application/json' -d @- $B/auth/login | jq -r .access_token); unset PW",
      note('curl -s -H "authorization: Bearer $TOKEN" $B/admin/keys | jq', 'the key states'),
      ...(p.metricsSecret === null
        ? []
        : [
            `SCRAPE=${fromSecretsFile(p, p.metricsSecret)}`,
            'curl -s -H "authorization: Bearer $SCRAPE" $B/metrics | grep gatehouse_requests_total; unset SCRAPE',
          ]),
      note(`npx wrangler tail --env ${e} --format json`, 'one JSON line per request'),
    ],
  ]
}

// ── run mode ────────────────────────────────────────────────────────────────────────────────

function wrangler(wranglerArgs, { input, allowFailure = false, echo = true, show = false } = {}) {
  if (echo) console.log(`$ wrangler ${wranglerArgs.join(' ')}`)
  const result = spawnSync(WRANGLER, wranglerArgs, {
    cwd: ROOT,
    encoding: 'utf8',
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, CI: '1', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
  })
  if (show || (result.status !== 0 && !allowFailure)) {
    process.stdout.write(result.stdout)
    process.stderr.write(result.stderr)
  }
  if (result.status !== 0 && !allowFailure) {
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
  const script = join(ROOT, 'scripts', 'check-config.mjs')
  const result = spawnSync(process.execPath, [script, ...envFlag, ...extra], {
    cwd: ROOT,
    stdio: 'inherit',
  })
  if (result.status !== 0) fail('the configuration check failed; fix wrangler.toml and re-run')
}

/** Everything --run refuses before the first wrangler call. */
function preflight(p) {
  if (p.account === null) {
    fail(
      '--run needs the Cloudflare account: export CLOUDFLARE_ACCOUNT_ID=<id> (`npx wrangler ' +
        'whoami` lists them) or set account_id in wrangler.toml. wrangler runs here with CI=1 ' +
        'and aborts with "More than one account available" instead of asking.',
    )
  }
  if (!isAccountId(p.account.id)) {
    fail(`the account id from ${p.account.from} is not 32 hex digits: ${p.account.id}`)
  }
  for (const name of args['replace-secret']) {
    if (NOT_REPLACEABLE_HERE.has(name))
      fail(`${name} is never replaced by this script: see docs/RUNBOOK.md`)
    if (!p.secrets.includes(name))
      fail(`--replace-secret ${name}: the configuration does not use it`)
  }
  for (const host of args['custom-domain-checked']) {
    if (!p.customDomains.includes(host.toLowerCase()))
      fail(`--custom-domain-checked ${host}: not a Custom Domain of [env.${envName}]`)
  }
  const checked = new Set(args['custom-domain-checked'].map((h) => h.toLowerCase()))
  const unchecked = p.customDomains.filter((h) => !checked.has(h))
  if (unchecked.length > 0) {
    fail(
      `wrangler deploy would replace, without asking, any DNS record of ${unchecked.join(', ')} ` +
        'and take the host from any other Worker. Check it first (docs/DEPLOY.md § 5), then ' +
        `re-run with ${unchecked.map((h) => `--custom-domain-checked ${h}`).join(' ')}`,
    )
  }
}

async function runPlan(p) {
  console.log(`── 0. preflight (account ${p.account.id}, from ${p.account.from})`)
  const who = wrangler(['whoami'], { allowFailure: true })
  if (who.status !== 0 || /not authenticated/i.test(who.stdout + who.stderr)) {
    fail('wrangler is not logged in: run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN)')
  }

  console.log(`── 1. configuration`)
  checkConfig()

  console.log(`── 2. KV namespace and D1 databases`)
  for (const kv of p.kv) ensureKvNamespace(kv)
  for (const db of p.d1) ensureD1(db) // every session shard, then the audit database
  checkConfig(['--require-ids'])

  console.log(`── 3. D1 migrations (remote: every session shard, the audit database) and queue`)
  // Each database records what it has applied, so a re-run after a failure on shard k applies
  // only what is missing, shard by shard.
  for (const db of p.d1) {
    console.log(`  ${db.binding}: ${d1Role(db)}, ${db.migrations_dir}`)
    wrangler(['d1', 'migrations', 'apply', db.binding, '--remote', ...envFlag])
  }
  for (const q of p.queues) {
    if (wrangler(['queues', 'info', q], { allowFailure: true, echo: false }).status === 0) {
      console.log(`  ${q} exists`)
    } else wrangler(['queues', 'create', q])
  }
  console.log(`  Analytics Engine: ${p.datasets.join(', ')} appear(s) with the first data point`)

  console.log(`── 4. Secrets`)
  const generated = putMissingSecrets(p)

  console.log(`── 5. Deploy`)
  const deployed = wrangler(['deploy', ...envFlag], { show: true })
  // Under a "no" (or a refused override) wrangler deploys the Worker without the host, exit 0.
  if (/Publishing to .*Custom Domains? .*was skipped/.test(deployed.stdout + deployed.stderr)) {
    fail(`the Worker is deployed, but not on ${p.customDomains.join(', ')}: see the output above`)
  }

  console.log(`── 6. First administrator (an operator)`)
  await firstAdmin(generated.get('PASSWORD_PEPPER'))

  console.log(`── 7. Verify`)
  await verify(p.publicUrl)
}

/** Finds the namespace by its exact title (or the one `--env` would have made); else creates it. */
function ensureKvNamespace(kv) {
  const list = () => json(wrangler(['kv', 'namespace', 'list'], { echo: false }).stdout) ?? []
  const prefixed = envPrefixedKvTitle(envName, kv.title)
  let namespaces = list()
  let found = namespaces.find((n) => n.title === kv.title)
  if (!found && (found = namespaces.find((n) => n.title === prefixed))) {
    console.log(`  using ${prefixed} (${found.id}), created earlier with --env; no second one`)
  } else if (found) console.log(`  ${kv.title} exists (${found.id})`)
  else {
    wrangler(['kv', 'namespace', 'create', kv.title]) // no --env: the title stays exact
    namespaces = list()
    found = namespaces.find((n) => n.title === kv.title)
    if (!found) fail(`created ${kv.title} but cannot find it in the namespace list`)
  }
  if (isPlaceholderId(kv.id)) writeId(kv.id, found.id, `[env.${envName}] kv ${kv.binding} id`)
  else if (kv.id !== found.id)
    console.log(`  ! wrangler.toml names ${kv.id}, the account has ${found.id}`)
}

function ensureD1(db) {
  const find = () =>
    json(wrangler(['d1', 'list', '--json'], { echo: false }).stdout)?.find(
      (d) => d.name === db.database_name,
    )
  let found = find()
  if (found) console.log(`  ${db.database_name} exists (${found.uuid}): ${d1Role(db)}`)
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

/**
 * Puts a random value for every secret the configuration needs that is not set yet, and for
 * each --replace-secret. Refuses to put anything unless `wrangler secret list` answered (or
 * said the Worker does not exist yet): an unknown state must never overwrite the key-encryption
 * secret or the pepper, which would make every signing key and every password unusable.
 */
function putMissingSecrets(p) {
  const listed = wrangler(['secret', 'list', ...envFlag], { allowFailure: true, echo: false })
  let existing
  if (listed.status === 0) {
    existing = secretNamesFromList(listed.stdout)
    if (existing === null) fail('cannot read the output of `wrangler secret list`: no secret put')
  } else if ((listed.stdout + listed.stderr).includes(workerNotFoundText(p.worker, envName))) {
    existing = new Set() // a new Worker: the first `secret put` creates it as a draft
  } else {
    process.stderr.write(listed.stdout + listed.stderr)
    fail('`wrangler secret list` failed, so no secret was put (it could replace a set one)')
  }
  const secretsFile =
    args['secrets-file'] ?? join(homedir(), '.gatehouse', `${p.worker}-secrets.env`)
  const generated = new Map()
  for (const name of p.secrets) {
    if (existing.has(name) && !args['replace-secret'].includes(name)) {
      console.log(`  ${name} is set: kept`)
      continue
    }
    const value = randomBytes(SECRET_BYTES).toString('base64url')
    // Nobody but the Worker needs the key-encryption secret: it is not written anywhere.
    if (name !== 'KEY_ENCRYPTION_SECRET') saveSecret(secretsFile, name, value)
    wrangler(['secret', 'put', name, ...envFlag], { input: value })
    generated.set(name, value)
  }
  const saved = p.holders.filter((h) => generated.has(h.name) && h.holder !== 'nobody')
  if (saved.length > 0) {
    console.log(`  new values are in ${secretsFile} (mode 600); move them to your password`)
    console.log('  manager and hand them over, then delete the file:')
    for (const h of saved) console.log(`    ${h.name} → ${h.holder}`)
  }
  return generated
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

async function firstAdmin(pepper) {
  const command =
    'PASSWORD_PEPPER=… node scripts/create-user.mjs ' +
    `--env ${envName} --tenant ${FIRST_ADMIN.tenant} --username ${FIRST_ADMIN.username} --operator`
  if (!process.stdin.isTTY || pepper === undefined) {
    console.log(`  ${command}`)
    console.log('  (PASSWORD_PEPPER: the deployed value, from your password manager)')
    return
  }
  const readline = await import('node:readline/promises')
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout })
  const tenant = (await rl.question('  tenant of the first operator (empty: skip): ')).trim()
  const username = tenant ? (await rl.question('  username: ')).trim() : ''
  rl.close()
  if (!tenant || !username) {
    console.log(`  skipped; later: ${command}`)
    return
  }
  // The pepper travels in the child's environment, never on its command line.
  const createUser = join(ROOT, 'scripts', 'create-user.mjs')
  await new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [createUser, ...envFlag, '--tenant', tenant, '--username', username, '--operator'],
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
if (args.run) {
  preflight(plan)
  await runPlan(plan)
} else {
  if (args['replace-secret'].length > 0) fail('--replace-secret needs --run')
  console.log(
    planBlocks(plan)
      .map((block) => block.join('\n'))
      .join('\n\n'),
  )
}
