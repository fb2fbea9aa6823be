// Creates a user directly in a gateway's D1 — the way in for the first administrator of a
// deployed gateway, which starts with no users (later users: POST /admin/users). The user is
// written where the Worker will look for it: the session shard owning its account's bucket, under
// the environment's configuration (storage.session_shards), with an id that carries the bucket
// (scripts/lib/placement.mjs, the twin of src/storage/placement.ts). The hash is the Worker's own
// (scripts/lib/password.mjs mirrors src/accounts/password-hash.ts: Argon2id over
// HMAC-SHA256(PASSWORD_PEPPER, password)), so the pepper must be the deployed one.
//
//   PASSWORD_PEPPER=… node scripts/create-user.mjs --tenant acme --username root --operator
//   node scripts/create-user.mjs --local --tenant demo --username carol --scopes "echo:read"
//   PASSWORD_PEPPER=… node scripts/create-user.mjs --tenant acme --username root --reset-password
//
// The password is never an argument (argv is visible to every local user): it is read from a
// hidden prompt, or from stdin when stdin is not a terminal. The pepper comes from the
// environment (--local: from .dev.vars when unset). Default target: the remote D1 of
// [env.production]; --env picks another environment, --local the local demo databases. A bucket
// being moved between shards (storage.frozen_buckets) is refused until the move is done.

import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  ADMIN_SCOPE,
  ROOT,
  WRANGLER,
  gatehouseDocument,
  readWranglerEnv,
  storageBindingProblems,
  validateGatehouse,
} from './lib/deploy-config.mjs'
import { hashPassword, sql } from './lib/password.mjs'
import {
  accountBucket,
  isFrozen,
  newUserId,
  normalizeUsername,
  shardBindings,
  shardFor,
} from './lib/placement.mjs'

/** Deployment-wide administration (src/http/admin/admin-auth.ts): keys, metrics, all tenants. */
const OPERATOR_SCOPE = 'gatehouse:operator'

/** The same limits the Worker applies (src/http/auth/login.ts, src/http/admin/admin-accounts.ts). */
const MIN_PASSWORD_CHARS = 8
const MAX_PASSWORD_LENGTH = 1024
const MAX_USERNAME_LENGTH = 128
const MIN_PEPPER_LENGTH = 32
const TENANT = /^[A-Za-z0-9._-]{1,64}$/
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/
const CONTROL = /[\u0000-\u001f\u007f]/

const { values: args } = parseArgs({
  options: {
    tenant: { type: 'string' },
    username: { type: 'string' },
    scopes: { type: 'string', default: '' },
    admin: { type: 'boolean', default: false },
    operator: { type: 'boolean', default: false },
    'reset-password': { type: 'boolean', default: false },
    env: { type: 'string' },
    local: { type: 'boolean', default: false },
    'persist-to': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})

function usage(message) {
  if (message) console.error(`create-user: ${message}`)
  console.error(
    'usage: PASSWORD_PEPPER=… node scripts/create-user.mjs --tenant T --username U ' +
      '[--scopes "a b"] [--admin | --operator] [--reset-password] [--env production | --local]',
  )
  process.exit(message ? 2 : 0)
}

function fail(message) {
  console.error(`create-user: ${message}`)
  process.exit(1)
}

if (args.help) usage()
if (args.local && args.env) usage('--local uses the top-level (demo) environment; drop --env')
const envName = args.local ? undefined : (args.env ?? 'production')
const tenant = args.tenant ?? usage('--tenant is required')
const username = args.username ?? usage('--username is required')
if (!TENANT.test(tenant)) usage(`--tenant must match ${TENANT}`)
if (username.length > MAX_USERNAME_LENGTH || CONTROL.test(username)) {
  usage(`--username: at most ${MAX_USERNAME_LENGTH} characters, no control characters`)
}
// --admin: administers its own tenant; --operator: the deployment (and every tenant) as well.
const granted = args.operator ? [ADMIN_SCOPE, OPERATOR_SCOPE] : args.admin ? [ADMIN_SCOPE] : []
const scopes = [...new Set([...args.scopes.split(/\s+/).filter(Boolean), ...granted])]
for (const s of scopes)
  if (!SCOPE_TOKEN.test(s)) usage(`--scopes: ${JSON.stringify(s)} is not a scope token`)

// The environment's configuration, validated as the Worker would, places the user.
const config = await readWranglerEnv(envName)
const label = envName === undefined ? '' : `[env.${envName}] `
const checkCommand = `node scripts/check-config.mjs${envName === undefined ? '' : ` --env ${envName}`}`
const checked = await validateGatehouse(config.vars, label)
if (checked.problem) fail(`${checked.problem} (run: ${checkCommand})`)
const storageProblem = storageBindingProblems(config, checked.config, label)[0]
if (storageProblem) fail(`${storageProblem} (run: ${checkCommand})`)
const document = await gatehouseDocument(config.vars)
const databases = new Map(config.d1_databases.map((d) => [d.binding, d]))
const normalized = normalizeUsername(username)
const bucket = await accountBucket(tenant, normalized)
if (isFrozen(bucket, document)) {
  fail(
    `bucket ${bucket} of ${tenant}/${normalized} is being moved between shards ` +
      '(storage.frozen_buckets): the Worker refuses it too; retry when the move is done',
  )
}
const shard = shardFor(bucket, document)
const target = args.local
  ? ['--local', ...(args['persist-to'] ? ['--persist-to', args['persist-to']] : [])]
  : ['--remote', '--env', envName]
/** Where a shard is, for messages. */
const whereOf = (binding) =>
  args.local
    ? `local D1 ${binding} (demo profile)`
    : `remote D1 ${databases.get(binding).database_name} (${binding}) [env.${envName}]`
const where = `${whereOf(shard)}, bucket ${bucket}`

function wrangler(binding, d1Args, { json = false } = {}) {
  const result = spawnSync(WRANGLER, ['d1', 'execute', binding, ...target, ...d1Args], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CI: '1', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
  })
  if (result.status !== 0) {
    console.error(result.stdout, result.stderr)
    console.error(
      `create-user: wrangler d1 execute failed (exit ${result.status}) on ${whereOf(binding)}`,
    )
    process.exit(1)
  }
  return json ? JSON.parse(result.stdout) : result.stdout
}

function query(binding, statement) {
  return wrangler(binding, ['--command', statement, '--json'], { json: true })[0]?.results ?? []
}

function pepperFromEnvironment() {
  let pepper = process.env.PASSWORD_PEPPER
  if (!pepper && args.local && existsSync(join(ROOT, '.dev.vars'))) {
    const m = /^\s*PASSWORD_PEPPER\s*=\s*"?([^"\n]*)"?\s*$/m.exec(
      readFileSync(join(ROOT, '.dev.vars'), 'utf8'),
    )
    pepper = m?.[1]
  }
  if (!pepper) {
    usage(
      'PASSWORD_PEPPER is not set. Export the deployed value (from your password manager or the ' +
        'secrets file scripts/deploy-setup.mjs wrote); never pass it as an argument.',
    )
  }
  if (pepper.length < MIN_PEPPER_LENGTH)
    usage(`PASSWORD_PEPPER must be at least ${MIN_PEPPER_LENGTH} characters`)
  return pepper
}

/** Reads a line without echoing it (raw mode); Ctrl-C aborts. */
function promptHidden(question) {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin
    let value = ''
    process.stderr.write(question)
    stdin.setRawMode(true)
    stdin.setEncoding('utf8')
    stdin.resume()
    const finish = (err) => {
      stdin.setRawMode(false)
      stdin.pause()
      stdin.off('data', onData)
      process.stderr.write('\n')
      if (err) reject(err)
      else resolve(value)
    }
    const onData = (chunk) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish()
        if (ch === '\u0003') return finish(new Error('cancelled'))
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('')
        else value += ch
      }
    }
    stdin.on('data', onData)
  })
}

async function readPassword() {
  let password
  if (process.stdin.isTTY) {
    password = await promptHidden(`password for ${username}: `)
    if ((await promptHidden('again: ')) !== password) usage('the passwords differ')
  } else {
    let text = ''
    process.stdin.setEncoding('utf8')
    for await (const chunk of process.stdin) text += chunk
    password = text.replace(/\r?\n$/, '') // one trailing newline is the line end, not the password
  }
  if ([...password].length < MIN_PASSWORD_CHARS)
    usage(`the password needs at least ${MIN_PASSWORD_CHARS} characters`)
  if (password.length > MAX_PASSWORD_LENGTH)
    usage(`the password may have at most ${MAX_PASSWORD_LENGTH} characters`)
  return password
}

const pepper = pepperFromEnvironment()
// The Worker looks an account up on its bucket's shard only (a user from before sharding, whose
// id names no bucket, lives there too): so does --reset-password.
const existing = query(
  shard,
  `SELECT id FROM users WHERE tenant = ${sql(tenant)} AND username = ${sql(normalized)}`,
)[0]
if (args['reset-password'] && existing === undefined)
  usage(`no user ${normalized} in tenant ${tenant} (${where})`)
if (!args['reset-password'] && existing !== undefined) {
  usage(
    `${normalized} already exists in tenant ${tenant} (id ${existing.id}); use --reset-password or the admin API`,
  )
}
if (!args['reset-password'] && !args.operator) {
  // Users are spread over the shards: the first operator may be on any of them.
  const hasOperator = shardBindings(document).some(
    (binding) =>
      (query(
        binding,
        `SELECT COUNT(*) AS n FROM users WHERE (' ' || scopes || ' ') LIKE '% ${OPERATOR_SCOPE} %'`,
      )[0]?.n ?? 0) > 0,
  )
  if (!hasOperator) {
    usage(
      `no operator exists yet on any shard (${shardBindings(document).join(', ')}): create the first user with --operator (scopes ${ADMIN_SCOPE} ${OPERATOR_SCOPE})`,
    )
  }
}

const password = await readPassword()
const stored = await hashPassword(password, pepper)
const now = Math.floor(Date.now() / 1000)
const id = existing?.id ?? newUserId(bucket)
const statement = args['reset-password']
  ? // A password change bumps the credential version: existing sessions stop refreshing.
    `UPDATE users SET password_scheme = ${sql(stored.scheme)}, password_params = ${sql(stored.params)},
  password_hash = ${sql(stored.hash)}, password_changed_at = ${now},
  credential_version = credential_version + 1 WHERE id = ${sql(id)};`
  : `INSERT INTO users (id, tenant, username, password_scheme, password_params, password_hash, scopes, status, password_changed_at, created_at)
VALUES (${sql(id)}, ${sql(tenant)}, ${sql(normalized)}, ${sql(stored.scheme)}, ${sql(stored.params)}, ${sql(stored.hash)}, ${sql(scopes.join(' '))}, 'active', ${now}, ${now});`

// The statement holds a hash (not the password); it goes through a private file, not argv.
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-user-'))
try {
  const file = join(dir, 'user.sql')
  writeFileSync(file, statement, { mode: 0o600 })
  wrangler(shard, ['--file', file, '--yes'])
} finally {
  rmSync(dir, { recursive: true, force: true })
}

const publicUrl = document.public_url ?? '<public_url>'
if (args['reset-password']) {
  console.log(`password reset for ${normalized} (id ${id}, tenant ${tenant}) in ${where}`)
  console.log('  existing sessions can no longer refresh; access tokens live until they expire')
} else {
  console.log(
    `created ${normalized} (id ${id}, tenant ${tenant}, scopes "${scopes.join(' ')}") in ${where}`,
  )
}
console.log(`  log in: curl -s -H 'content-type: application/json' -d @- ${publicUrl}/auth/login`)
console.log(
  `          with {"tenant":"${tenant}","username":"${normalized}","password":"…","client":"mobile","device_id":"ops-laptop"}`,
)
