// npm run config:schema — writes docs/config.schema.json, the JSON Schema of the GATEHOUSE
// document, from the valibot schema the Worker validates with (src/config/schema.ts, bundled with
// esbuild). config/*.json point at it with "$schema", so editors complete and explain fields.
// Cross-field rules and URL shape checks have no JSON Schema form: the gateway checks them anyway.
//
//   node scripts/config-schema.mjs           # (re)write docs/config.schema.json
//   node scripts/config-schema.mjs --check   # exit 1 if the committed file is stale

import { toJsonSchema } from '@valibot/to-json-schema'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as prettier from 'prettier'
import { ROOT, importBundled } from './lib/deploy-config.mjs'

const OUTPUT = join(ROOT, 'docs', 'config.schema.json')

const { values: args } = parseArgs({ options: { check: { type: 'boolean', default: false } } })

const { GatehouseSchema, JSON_SCHEMA_IGNORED_ACTIONS } = await importBundled('src/config/schema.ts')
// The same call as test/unit/config/json-schema.test.ts, which fails when this file is stale.
const schema = toJsonSchema(GatehouseSchema, { ignoreActions: JSON_SCHEMA_IGNORED_ACTIONS })
const text = await prettier.format(JSON.stringify(schema), {
  ...(await prettier.resolveConfig(OUTPUT)),
  filepath: OUTPUT,
})

if (args.check) {
  const committed = await readFile(OUTPUT, 'utf8').catch(() => '')
  if (committed !== text) {
    console.error('config:schema: docs/config.schema.json is stale; run `npm run config:schema`')
    process.exit(1)
  }
  console.log('config:schema: docs/config.schema.json is up to date')
} else {
  await writeFile(OUTPUT, text)
  console.log(`config:schema: wrote docs/config.schema.json (${text.length} bytes)`)
}
