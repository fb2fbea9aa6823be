// The D1 rules of a deployed environment, checked offline: the databases wrangler.toml declares
// are exactly those the configuration's storage table names (every session shard, the audit
// database), each with the migrations of its kind, and a problem names the field to fix. The
// environment is the committed [env.production], changed one field at a time.
// Run by `npm run check:deploy`, or alone: node --test test/deploy/storage-bindings.test.mjs

import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import {
  AUDIT_MIGRATIONS_DIR,
  SESSION_MIGRATIONS_DIR,
  bucketRangesText,
  configuredD1,
  deployPolicyProblems,
  gatehouseDocument,
  readWranglerEnv,
  storageBindingProblems,
  validateGatehouse,
} from '../../scripts/lib/deploy-config.mjs'

const ENV = 'production'
const LABEL = `[env.${ENV}] `
let top, production, config, document

before(async () => {
  top = await readWranglerEnv(undefined)
  production = await readWranglerEnv(ENV)
  const checked = await validateGatehouse(production.vars, LABEL)
  assert.equal(checked.problem, undefined, String(checked.problem))
  config = checked.config
  document = await gatehouseDocument(production.vars)
})

/** The production environment with its d1_databases changed. */
function withD1(change) {
  return { ...production, d1_databases: change(production.d1_databases.map((d) => ({ ...d }))) }
}

/** The production configuration with another storage table, passed as a GATEHOUSE override. */
async function configWith(storage) {
  const vars = { GATEHOUSE: JSON.stringify({ ...document, storage }) }
  const checked = await validateGatehouse(vars, LABEL)
  assert.equal(checked.problem, undefined, String(checked.problem))
  return { env: { ...production, vars }, config: checked.config }
}

const fields = (problems) => problems.map((p) => p.field)

test('the committed [env.production] declares exactly the D1 databases its configuration uses', () => {
  assert.deepEqual(deployPolicyProblems(top, production, ENV, config), [])
  assert.deepEqual(storageBindingProblems(top, config, ''), [], 'the top level (demo) as well')
  const used = configuredD1(production, config)
  assert.deepEqual(
    used.map((db) => [db.binding, db.role, db.declared?.migrations_dir]),
    [
      ...document.storage.session_shards.map((s) => [
        s.binding,
        'session shard',
        SESSION_MIGRATIONS_DIR,
      ]),
      [document.storage.audit_database, 'audit', AUDIT_MIGRATIONS_DIR],
    ],
  )
  assert.deepEqual(
    used.filter((db) => db.role === 'session shard').map((db) => db.buckets),
    document.storage.session_shards.map((s) => s.buckets),
  )
})

test('a D1 binding the configuration does not use (the pre-sharding DB) is named', () => {
  const env = withD1((dbs) => [
    ...dbs,
    {
      binding: 'DB',
      database_name: 'gatehouse-production',
      database_id: 'x',
      migrations_dir: 'migrations',
    },
  ])
  const problems = deployPolicyProblems(top, env, ENV, config)
  assert.deepEqual(fields(problems), [`${LABEL}d1_databases.DB`])
  assert.match(problems[0].problem, /not used by the configuration .*before sharding/)
})

test('a session shard or audit database the environment does not declare names the config field', async () => {
  const [first, second] = production.d1_databases.map((d) => d.binding)
  const env = withD1((dbs) => dbs.filter((d) => d.binding !== second))
  const missingShard = storageBindingProblems(env, config, LABEL)
  const shardIndex = document.storage.session_shards.findIndex((s) => s.binding === second)
  assert.deepEqual(fields(missingShard), [
    `${LABEL}GATEHOUSE.storage.session_shards[${shardIndex}].binding (config/production.json)`,
  ])
  assert.match(missingShard[0].problem, new RegExp(`"${second}" is not a d1_databases binding`))

  const noAudit = withD1((dbs) => dbs.filter((d) => d.binding !== config.storage.auditBinding))
  assert.deepEqual(fields(storageBindingProblems(noAudit, config, LABEL)), [
    `${LABEL}GATEHOUSE.storage.audit_database (config/production.json)`,
  ])

  // A third shard in the configuration, not yet in wrangler.toml.
  const three = await configWith({
    session_shards: [
      { binding: first, buckets: '0-511' },
      { binding: second, buckets: '512-767' },
      { binding: 'SESSIONS_2', buckets: '768-1023' },
    ],
    audit_database: config.storage.auditBinding,
  })
  assert.deepEqual(fields(storageBindingProblems(three.env, three.config, LABEL)), [
    `${LABEL}vars.GATEHOUSE.storage.session_shards[2].binding`,
  ])
})

test('every session shard must use migrations/sessions and the audit database migrations/audit', () => {
  const [first] = production.d1_databases.map((d) => d.binding)
  const audit = config.storage.auditBinding
  const env = withD1((dbs) =>
    dbs.map((d) =>
      d.binding === first
        ? { ...d, migrations_dir: 'migrations' }
        : d.binding === audit
          ? { ...d, migrations_dir: SESSION_MIGRATIONS_DIR }
          : d,
    ),
  )
  const problems = storageBindingProblems(env, config, LABEL)
  assert.deepEqual(fields(problems), [
    `${LABEL}d1_databases.${first}.migrations_dir`,
    `${LABEL}d1_databases.${audit}.migrations_dir`,
  ])
  assert.match(problems[0].problem, /must be "migrations\/sessions"/)
  assert.match(problems[1].problem, /must be "migrations\/audit"/)
  // Spelled differently, the same directory is fine.
  const spelled = withD1((dbs) =>
    dbs.map((d) => ({ ...d, migrations_dir: `./${d.migrations_dir}/` })),
  )
  assert.deepEqual(storageBindingProblems(spelled, config, LABEL), [])
})

test('two D1 bindings on one database are refused (a shard would share its rows)', () => {
  const [first, second] = production.d1_databases
  const env = withD1((dbs) =>
    dbs.map((d) =>
      d.binding === second.binding ? { ...d, database_name: first.database_name } : d,
    ),
  )
  assert.deepEqual(fields(storageBindingProblems(env, config, LABEL)), [
    `${LABEL}d1_databases.${second.binding}.database_name`,
  ])
})

test('--require-ids names every D1 database whose id is still a placeholder', () => {
  const problems = deployPolicyProblems(top, production, ENV, config, { requireIds: true })
  const d1 = fields(problems).filter((f) => f.includes('d1_databases'))
  assert.deepEqual(
    d1,
    production.d1_databases.map((d) => `${LABEL}d1_databases.${d.binding}.database_id`),
  )
})

test('bucket lists are shown as the ranges a configuration writes', () => {
  assert.equal(bucketRangesText([0, 1, 2, 3]), '0-3')
  assert.equal(bucketRangesText([768, 0, 1, 5, 769]), '0-1,5,768-769')
  assert.equal(bucketRangesText([]), '')
})
