// What check-config warns about without failing, for a deployed environment: hosts that are
// placeholders (example.com, *.test, …; RFC 2606 / 6761), named by route prefix and issuer, and
// the secrets the deployed Worker does not have — or that they could not be checked (offline).
// Run by `npm run check:deploy`, or alone: node --test test/deploy/check-config-warnings.test.mjs

import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { before, test } from 'node:test'
import {
  ROOT,
  gatehouseDocument,
  placeholderHostWarnings,
  readWranglerEnv,
  unsetSecrets,
  validateGatehouse,
  workerNotFoundText,
} from '../../scripts/lib/deploy-config.mjs'

const ENV = 'production'
let production, document

before(async () => {
  production = await readWranglerEnv(ENV)
  document = await gatehouseDocument(production.vars)
})

/** The production environment serving `doc` (a GATEHOUSE override), validated. */
async function checked(doc) {
  const vars = { ...production.vars, GATEHOUSE: JSON.stringify(doc) }
  const result = await validateGatehouse(vars, `[env.${ENV}] `)
  assert.equal(result.problem, undefined, String(result.problem))
  return { env: { ...production, vars }, ...result }
}

test('warns about every placeholder host, naming routes by prefix and issuers by name', async () => {
  const { env, config, name } = await checked(document)
  const fields = placeholderHostWarnings(env, config, name).map((w) => w.field)
  assert.deepEqual(fields, [
    'vars.GATEHOUSE.public_url',
    'vars.GATEHOUSE.issuers["https://auth.example.com"].issuer',
    'vars.GATEHOUSE.routes["/api/status"].origin',
    'vars.GATEHOUSE.routes["/api/catalog"].origin',
    'vars.GATEHOUSE.routes["/api/account"].origin',
    'vars.GATEHOUSE.routes["/api/payments"].origin',
    'vars.GATEHOUSE.auth.allowed_origins[0]',
  ])
})

test('warns about .test, .invalid and example.org hosts, and not about real ones', async () => {
  const text = JSON.stringify(document)
    .replaceAll('auth.example.com', 'auth.acme-corp.io')
    .replaceAll('app.example.com', 'app.acme-corp.io')
    .replaceAll('status.internal.example.com', 'status.internal.test')
    .replaceAll('catalog.internal.example.com', 'catalog.invalid')
    .replaceAll('accounts.internal.example.com', 'example.org')
    .replaceAll('payments.internal.example.com', 'payments.acme-corp.io')
  const { env, config, name } = await checked(JSON.parse(text))
  const warnings = placeholderHostWarnings(env, config, name)
  assert.deepEqual(
    warnings.map((w) => w.field),
    [
      'vars.GATEHOUSE.routes["/api/status"].origin',
      'vars.GATEHOUSE.routes["/api/catalog"].origin',
      'vars.GATEHOUSE.routes["/api/account"].origin',
    ],
  )
})

test('names the secrets the Worker does not have, or says they could not be checked', () => {
  const needed = ['KEY_ENCRYPTION_SECRET', 'PASSWORD_PEPPER', 'ORIGIN_SECRET_STATUS']
  const listed = JSON.stringify([{ name: 'KEY_ENCRYPTION_SECRET', type: 'secret_text' }])
  assert.deepEqual(
    unsetSecrets(needed, 'gatehouse-production', ENV, () => ({ ok: true, output: listed })),
    { missing: ['PASSWORD_PEPPER', 'ORIGIN_SECRET_STATUS'] },
  )
  const notFound = workerNotFoundText('gatehouse-production', ENV)
  assert.deepEqual(
    unsetSecrets(needed, 'gatehouse-production', ENV, () => ({ ok: false, output: notFound })),
    { missing: needed },
  )
  const offline = '\u001b[31m✘ [ERROR] Not logged in. Run wrangler login.\n🪵  Logs were written'
  const unknown = unsetSecrets(needed, 'gatehouse-production', ENV, () => ({
    ok: false,
    output: offline,
  }))
  assert.match(unknown.unknown, /failed: Not logged in\.$/)
})

test('check-config --env production warns, offline, and still exits 0', () => {
  const run = spawnSync(
    process.execPath,
    [join(ROOT, 'scripts', 'check-config.mjs'), '--env', ENV],
    { cwd: ROOT, encoding: 'utf8' },
  )
  assert.equal(run.status, 0, run.stderr)
  assert.match(
    run.stdout,
    /warning: .*GATEHOUSE\.routes\["\/api\/payments"\]\.origin .*placeholder host/,
  )
  assert.match(run.stdout, /warning: secrets not checked against the deployed Worker \(offline\)/)
})
