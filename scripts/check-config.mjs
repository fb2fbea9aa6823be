// Validates one wrangler.toml environment the way the deployed Worker would: the gateway's own
// parseConfig (src/config/config.ts, bundled with esbuild) over the configuration the environment
// selects (config/<GATEHOUSE_PROFILE>.json, or a GATEHOUSE override var) with placeholder
// secrets; the D1 databases its storage table names must be exactly the environment's
// d1_databases, with the right migrations; and for a named environment the deploy rules of
// scripts/lib/deploy-config.mjs.
// Exits 1 naming every bad field; prints the secrets the environment needs. For a named
// environment it also warns (exit 0) about placeholder hosts (example.com, *.test, …) and, with
// --check-secrets, about needed secrets the deployed Worker does not have (it asks
// `wrangler secret list`, so it needs `wrangler login` or CLOUDFLARE_API_TOKEN; without the
// flag nothing leaves the machine and the output says the secrets were not checked).
//
//   node scripts/check-config.mjs                    # the top level (local demo profile)
//   node scripts/check-config.mjs --env production   # a deployed environment
//   node scripts/check-config.mjs --env production --check-secrets # are its secrets set?
//   node scripts/check-config.mjs --env production --require-ids   # ids must be real, too
//   node scripts/check-config.mjs --config other.toml --env staging

import { spawnSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import {
  ROOT,
  WRANGLER,
  deployPolicyProblems,
  placeholderHostWarnings,
  readWranglerEnv,
  requiredSecrets,
  storageBindingProblems,
  unsetSecrets,
  validateGatehouse,
} from './lib/deploy-config.mjs'

/** How long `wrangler secret list` may take before the secrets count as not checked. */
const SECRET_LIST_TIMEOUT_MS = 60_000

const { values: args } = parseArgs({
  options: {
    env: { type: 'string' },
    config: { type: 'string' },
    'require-ids': { type: 'boolean', default: false },
    'check-secrets': { type: 'boolean', default: false },
  },
})

const envName = args.env ?? null
const label = envName === null ? 'wrangler.toml (top level)' : `wrangler.toml [env.${envName}]`

function fail(problems) {
  console.error(`check-config: ${label} is invalid:`)
  for (const p of problems) console.error(`  ${p}`)
  process.exit(1)
}

let top, env
try {
  top = await readWranglerEnv(undefined, args.config)
  env = envName === null ? top : await readWranglerEnv(envName, args.config)
} catch (err) {
  fail([`wrangler could not read the configuration: ${err instanceof Error ? err.message : err}`])
}
if (
  envName !== null &&
  env.vars?.GATEHOUSE_PROFILE === undefined &&
  env.vars?.GATEHOUSE === undefined
) {
  fail([
    `[env.${envName}] vars.GATEHOUSE_PROFILE: is not set (vars are not inherited from the top level)`,
  ])
}

const result = await validateGatehouse(env.vars, envName === null ? '' : `[env.${envName}] `)
if (result.problems) fail(result.problems)
const { config, secretNames, source, name } = result

const problems =
  envName === null
    ? storageBindingProblems(env, config, '')
    : deployPolicyProblems(top, env, envName, config, { requireIds: args['require-ids'], name })
if (problems.length > 0) fail(problems)

const secrets = config.auth.enabled ? requiredSecrets(secretNames) : secretNames.sort()
console.log(
  `check-config: ${label} ok — ${source}: ` +
    `${config.issuers.length} issuer(s), ${config.routes.length} route(s), ` +
    `auth server ${config.auth.enabled ? 'on' : 'off'}, demo page ${config.demoPage ? 'on' : 'off'}`,
)
console.log(`  secrets it needs: ${secrets.join(', ')}`)
for (const warning of config.warnings) console.log(`  warning: ${warning}`)
if (envName !== null) {
  for (const warning of placeholderHostWarnings(env, config, name)) {
    console.log(`  warning: [env.${envName}] ${warning}`)
  }
  const unchecked = secretsWarning(secrets)
  console.log(unchecked === null ? '  secrets: all set on the Worker' : `  warning: ${unchecked}`)
}

/** What is wrong or unknown about the deployed Worker's secrets, as one line; null: all set. */
function secretsWarning(needed) {
  if (!args['check-secrets']) {
    return (
      'secrets not checked against the deployed Worker (offline): re-run with --check-secrets ' +
      '(needs `wrangler login` or CLOUDFLARE_API_TOKEN); `npm run deploy:setup` puts missing ones'
    )
  }
  const checked = unsetSecrets(needed, env.name, envName, () => {
    const run = spawnSync(WRANGLER, ['secret', 'list', '--env', envName], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: SECRET_LIST_TIMEOUT_MS,
      env: { ...process.env, CI: '1' }, // never an interactive login prompt
    })
    return { ok: run.status === 0, output: `${run.stdout ?? ''}${run.stderr ?? ''}` }
  })
  if (checked.unknown) return `secrets not checked: ${checked.unknown}`
  if (checked.missing.length === 0) return null
  return `secrets not set on the Worker: ${checked.missing.join(', ')} (npm run deploy:setup, or wrangler secret put NAME --env ${envName})`
}
