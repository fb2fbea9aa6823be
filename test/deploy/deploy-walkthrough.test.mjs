// The deploy walk-through, checked offline: docs/DEPLOY.md's marked blocks are exactly what
// `npm run deploy:setup` prints (dry form, [env.production], a fixture account id); the plan
// creates and migrates every D1 database the configuration's storage table names; its secret
// loop, run under sh against a fake `npx wrangler`, never replaces a set secret and puts nothing
// when the list fails; `--run` refuses before its first wrangler call. Nothing here can reach
// Cloudflare: no test passes a refusal, and wrangler is pointed at a dead proxy regardless.
// Run by `npm run check:deploy` (scripts/check-deploy.mjs), or alone:
//   node --test test/deploy/deploy-walkthrough.test.mjs
//   UPDATE_DEPLOY_MD=1 node --test test/deploy/deploy-walkthrough.test.mjs   # rewrite the blocks

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import {
  ROOT,
  compatibilityDateProblem,
  configuredD1,
  envPrefixedKvTitle,
  kvNamespaceTitle,
  readWranglerEnv,
  secretNamesFromList,
  validateGatehouse,
  workerdCompatibilityDate,
} from '../../scripts/lib/deploy-config.mjs'

const DEPLOY_MD = join(ROOT, 'docs', 'DEPLOY.md')
/** The example account id of Cloudflare's API documentation: a fixture, never a real account. */
const FIXTURE_ACCOUNT_ID = '023e105f4ecef8ad9ca31a8372d0c353'
/** A plan block in DEPLOY.md: the marker comment, then (Prettier's blank line) the sh fence. */
const MARKED_BLOCK = /<!-- deploy:setup -->\n\n?```sh\n([\s\S]*?)\n```/g
/** Every secret config/production.json makes the plan put, in the plan's order. */
const PRODUCTION_SECRETS = [
  'KEY_ENCRYPTION_SECRET',
  'PASSWORD_PEPPER',
  'METRICS_SCRAPE_SECRET',
  'ORIGIN_SECRET_ACCOUNTS',
  'ORIGIN_SECRET_CATALOG',
  'ORIGIN_SECRET_PAYMENTS',
  'ORIGIN_SECRET_STATUS',
]
/** Any wrangler that slips past a refusal fails to connect instead of reaching the API. */
const OFFLINE = { HTTPS_PROXY: 'http://127.0.0.1:9', HTTP_PROXY: 'http://127.0.0.1:9' }

function run(command, args, { env = {}, input } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, ...OFFLINE, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(input ?? '')
  })
}

function markedBlocks(markdown) {
  return [...markdown.matchAll(MARKED_BLOCK)].map((m) => m[1])
}

let plan

before(async () => {
  const env = { CLOUDFLARE_ACCOUNT_ID: FIXTURE_ACCOUNT_ID }
  const result = await run(
    'npm',
    ['run', '--silent', 'deploy:setup', '--', '--env', 'production'],
    {
      env,
    },
  )
  assert.equal(result.code, 0, result.stderr)
  plan = result.stdout.trimEnd().split('\n\n')
  if (process.env.UPDATE_DEPLOY_MD === '1') {
    let i = 0
    const markdown = readFileSync(DEPLOY_MD, 'utf8').replace(MARKED_BLOCK, () => {
      const block = plan[i++] ?? '# (no such block in the plan)'
      return `<!-- deploy:setup -->\n\n\`\`\`sh\n${block}\n\`\`\``
    })
    writeFileSync(DEPLOY_MD, markdown)
  }
})

test('DEPLOY.md shows exactly the blocks the dry run of deploy:setup prints', () => {
  const shown = markedBlocks(readFileSync(DEPLOY_MD, 'utf8'))
  assert.equal(shown.length, plan.length, 'one marked block in DEPLOY.md per block of the plan')
  shown.forEach((block, i) => assert.equal(block, plan[i], `block ${i} (# ── ${i}.)`))
})

test('the plan derives the secret names from the profile and creates the first operator', () => {
  const secrets = plan.find((block) => block.startsWith('# ── 4.'))
  const loop = /for name in ([\s\S]*?); do/.exec(secrets)?.[1].split(/[\s\\]+/)
  assert.deepEqual(loop, PRODUCTION_SECRETS)
  const admin = plan.find((block) => block.startsWith('# ── 6.'))
  assert.match(admin, /create-user\.mjs --env production --tenant acme --username root --operator$/)
  assert.match(plan[0], new RegExp(`^export CLOUDFLARE_ACCOUNT_ID=${FIXTURE_ACCOUNT_ID} `, 'm'))
})

test('the KV namespace is created under the exact title the plan looks up (no --env)', () => {
  const title = kvNamespaceTitle('gatehouse-production', 'JWKS_CACHE')
  assert.equal(title, 'gatehouse-production-jwks-cache')
  // wrangler 4: `kv namespace create <name> --env <env>` titles it `<env>-<name>`.
  assert.equal(
    envPrefixedKvTitle('production', title),
    'production-gatehouse-production-jwks-cache',
  )
  assert.match(plan[2], new RegExp(`^npx wrangler kv namespace create ${title} `, 'm'))
  assert.doesNotMatch(plan[2], /kv namespace create [^#\n]*--env/)
})

test('the plan creates every session shard and the audit database, and migrates each', async () => {
  const env = await readWranglerEnv('production')
  const { config } = await validateGatehouse(env.vars, '[env.production] ')
  const used = configuredD1(env, config)
  assert.ok(used.filter((db) => db.role === 'session shard').length >= 2, 'a sharded example')
  const created = [...plan[2].matchAll(/^npx wrangler d1 create (\S+)/gm)].map((m) => m[1])
  assert.deepEqual(
    created,
    used.map((db) => db.declared.database_name),
  )
  const migrated = [
    ...plan[3].matchAll(/^npx wrangler d1 migrations apply (\S+) --remote --env production /gm),
  ].map((m) => m[1])
  assert.deepEqual(
    migrated,
    used.map((db) => db.binding),
  )
  for (const db of used) {
    const line = plan[3].split('\n').find((l) => l.includes(` apply ${db.binding} `))
    assert.match(line, new RegExp(`# ${db.migrationsDir}$`), db.binding)
  }
})

// ── § 4's loop, as DEPLOY.md shows it, under sh with a fake `npx wrangler` ─────────────────

let scratch

before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'gatehouse-walkthrough-'))
  mkdirSync(join(scratch, 'bin'))
  const npx = join(scratch, 'bin', 'npx')
  writeFileSync(
    npx,
    [
      '#!/bin/sh',
      '[ "$1" = wrangler ] || exit 127',
      'shift',
      'case "$1 $2" in',
      "  'secret list')",
      '    if [ "$FAKE_LIST_EXIT" = 0 ]; then printf \'%s\\n\' "$FAKE_LIST_OUT"',
      '    else printf \'%s\\n\' "$FAKE_LIST_OUT" >&2; fi',
      '    exit "$FAKE_LIST_EXIT" ;;',
      '  \'secret put\') value=$(cat); echo "put $3 ${#value}" >> "$FAKE_LOG"; exit 0 ;;',
      'esac',
      'echo "unexpected: $*" >> "$FAKE_LOG"; exit 1',
      '',
    ].join('\n'),
  )
  chmodSync(npx, 0o755)
})

after(() => rmSync(scratch, { recursive: true, force: true }))

async function runSecretLoop(name, { listExit, listOut }) {
  const home = join(scratch, name)
  const log = join(scratch, `${name}.log`)
  writeFileSync(log, '')
  const block = markedBlocks(readFileSync(DEPLOY_MD, 'utf8')).find((b) => b.startsWith('# ── 4.'))
  const result = await run('sh', ['-c', block], {
    env: {
      HOME: home,
      PATH: `${join(scratch, 'bin')}:${process.env.PATH}`,
      FAKE_LOG: log,
      FAKE_LIST_EXIT: String(listExit),
      FAKE_LIST_OUT: listOut,
    },
  })
  assert.equal(result.code, 0, result.stderr)
  const puts = readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' '))
  const file = join(home, '.gatehouse', 'gatehouse-production-secrets.env')
  let saved = null
  try {
    saved = { text: readFileSync(file, 'utf8'), mode: statSync(file).mode & 0o777 }
  } catch {
    // no file: nothing was generated
  }
  return { puts, saved, stderr: result.stderr }
}

const listed = (names) =>
  JSON.stringify(
    names.map((name) => ({ name, type: 'secret_text' })),
    null,
    '  ',
  )

test('the secret loop keeps every secret that is already set and puts only the missing ones', async () => {
  const set = ['KEY_ENCRYPTION_SECRET', 'PASSWORD_PEPPER', 'ORIGIN_SECRET_STATUS']
  const { puts, saved } = await runSecretLoop('partly-set', { listExit: 0, listOut: listed(set) })
  const expected = PRODUCTION_SECRETS.filter((name) => !set.includes(name))
  assert.deepEqual(
    puts.map(([, name]) => name),
    expected,
  )
  for (const [verb, , length] of puts) {
    assert.equal(verb, 'put')
    assert.ok(Number(length) >= 32, 'a value of at least 32 characters')
  }
  assert.equal(saved.mode, 0o600)
  for (const name of expected) assert.match(saved.text, new RegExp(`^${name}=`, 'm'))
  for (const name of set) assert.doesNotMatch(saved.text, new RegExp(`^${name}=`, 'm'))
})

test('the secret loop puts every secret into a Worker that does not exist yet', async () => {
  const notFound =
    '✘ [ERROR] Worker "gatehouse-production" (env: production) not found.\n\n' +
    'If this is a new Worker, run `wrangler deploy` first to create it.'
  const { puts, saved } = await runSecretLoop('new-worker', { listExit: 1, listOut: notFound })
  assert.deepEqual(
    puts.map(([, name]) => name),
    PRODUCTION_SECRETS,
  )
  // Nobody but the Worker needs the key-encryption secret: it is never written down.
  assert.doesNotMatch(saved.text, /^KEY_ENCRYPTION_SECRET=/m)
  assert.match(saved.text, /^PASSWORD_PEPPER=/m)
})

test('the secret loop puts nothing when the list fails for any other reason', async () => {
  for (const [name, listOut] of [
    ['several-accounts', '✘ [ERROR] More than one account available but unable to select one'],
    ['not-logged-in', '✘ [ERROR] You are not authenticated. Please run `wrangler login`.'],
  ]) {
    const { puts, saved } = await runSecretLoop(name, { listExit: 1, listOut })
    assert.deepEqual(puts, [], name)
    assert.equal(saved, null, name)
  }
})

// ── --run refuses before its first wrangler call ─────────────────────────────────────────────

async function deploySetup(args, env) {
  const script = join(ROOT, 'scripts', 'deploy-setup.mjs')
  return run(process.execPath, [script, ...args], {
    env: { CLOUDFLARE_ACCOUNT_ID: '', CLOUDFLARE_API_TOKEN: '', ...env },
  })
}

test('--run refuses without an account, without the custom-domain check, and to replace the pepper', async () => {
  const account = { CLOUDFLARE_ACCOUNT_ID: FIXTURE_ACCOUNT_ID }
  const checked = ['--custom-domain-checked', 'auth.example.com']
  const cases = [
    [['--run', ...checked], {}, /CLOUDFLARE_ACCOUNT_ID/],
    [['--run', ...checked], { CLOUDFLARE_ACCOUNT_ID: 'not-an-id' }, /32 hex digits/],
    [['--run'], account, /--custom-domain-checked auth\.example\.com/],
    [['--run', '--custom-domain-checked', 'other.example.com'], account, /other\.example\.com/],
    [['--run', ...checked, '--replace-secret', 'PASSWORD_PEPPER'], account, /PASSWORD_PEPPER/],
    [['--run', ...checked, '--replace-secret', 'KEY_ENCRYPTION_SECRET'], account, /KEY_ENC/],
    [['--replace-secret', 'ORIGIN_SECRET_STATUS'], account, /--replace-secret needs --run/],
  ]
  const results = await Promise.all(cases.map(([args, env]) => deploySetup(args, env)))
  results.forEach((result, i) => {
    const [args, , reason] = cases[i]
    assert.equal(result.code, 1, args.join(' '))
    assert.match(result.stderr, reason, args.join(' '))
    assert.doesNotMatch(result.stdout, /^\$ wrangler /m, 'no wrangler command ran')
  })
})

// ── pure helpers ───────────────────────────────────────────────────────────────────────────────

test('a secret list that cannot be read yields no names, so nothing is put', () => {
  assert.deepEqual(secretNamesFromList(listed(['A', 'B'])), new Set(['A', 'B']))
  assert.deepEqual(secretNamesFromList('▲ [WARNING] something\n[]\n'), new Set())
  assert.equal(secretNamesFromList('✘ [ERROR] Authentication error'), null)
  assert.equal(secretNamesFromList('[{"name": '), null)
})

test('compatibility_date may not be newer than the installed workerd supports', async () => {
  const supported = await workerdCompatibilityDate()
  assert.match(supported, /^\d{4}-\d{2}-\d{2}$/)
  assert.equal(compatibilityDateProblem(supported, supported), null)
  assert.equal(compatibilityDateProblem('2020-01-01', supported), null)
  assert.match(
    compatibilityDateProblem('2999-01-01', supported),
    /newer than the installed workerd/,
  )
})
