// Validates one wrangler.toml environment the way the deployed Worker would: the gateway's own
// parseConfig (src/config/config.ts, bundled with esbuild) over the configuration the environment
// selects (config/<GATEHOUSE_PROFILE>.json, or a GATEHOUSE override var) with placeholder
// secrets; the D1 databases its storage table names must be exactly the environment's
// d1_databases, with the right migrations; and for a named environment the deploy rules of
// scripts/lib/deploy-config.mjs.
// Exits 1 naming every bad field; prints the secrets the environment needs.
//
//   node scripts/check-config.mjs                    # the top level (local demo profile)
//   node scripts/check-config.mjs --env production   # a deployed environment
//   node scripts/check-config.mjs --env production --require-ids   # ids must be real, too
//   node scripts/check-config.mjs --config other.toml --env staging

import { parseArgs } from 'node:util'
import {
  deployPolicyProblems,
  readWranglerEnv,
  requiredSecrets,
  storageBindingProblems,
  validateGatehouse,
} from './lib/deploy-config.mjs'

const { values: args } = parseArgs({
  options: {
    env: { type: 'string' },
    config: { type: 'string' },
    'require-ids': { type: 'boolean', default: false },
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
const { config, secretNames, source } = result

const problems =
  envName === null
    ? storageBindingProblems(env, config, '')
    : deployPolicyProblems(top, env, envName, config, { requireIds: args['require-ids'] })
if (problems.length > 0) fail(problems)

const secrets = config.auth.enabled ? requiredSecrets(secretNames) : secretNames.sort()
console.log(
  `check-config: ${label} ok — ${source}: ` +
    `${config.issuers.length} issuer(s), ${config.routes.length} route(s), ` +
    `auth server ${config.auth.enabled ? 'on' : 'off'}, demo page ${config.demoPage ? 'on' : 'off'}`,
)
console.log(`  secrets it needs: ${secrets.join(', ')}`)
for (const warning of config.warnings) console.log(`  warning: ${warning}`)
