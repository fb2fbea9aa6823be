// docs/config.schema.json is generated from the valibot schema (`npm run config:schema`): this
// test fails when the committed file is stale, and checks that both bundled profiles satisfy it
// (what an editor shows them against) and that every field explains itself.

import { toJsonSchema } from '@valibot/to-json-schema'
import { describe, expect, it } from 'vitest'
import committed from '../../../docs/config.schema.json'
import demo from '../../../config/demo.json'
import production from '../../../config/production.json'
import { GatehouseSchema, JSON_SCHEMA_IGNORED_ACTIONS } from '../../../src/config/schema'
import { checkJsonSchema } from './json-schema-check'
import { validDocument, withField } from './fixtures'

type Schema = Record<string, unknown>
const schema = committed as Schema

describe('docs/config.schema.json', () => {
  it('is what the valibot schema generates now (run `npm run config:schema` if not)', () => {
    // The same call as scripts/config-schema.mjs.
    const generated = toJsonSchema(GatehouseSchema, { ignoreActions: JSON_SCHEMA_IGNORED_ACTIONS })
    expect(committed).toEqual(JSON.parse(JSON.stringify(generated)))
  })

  it.each([
    ['config/demo.json', demo],
    ['config/production.json', production],
  ])('accepts %s, which points at it with "$schema"', (_name, profile) => {
    expect(profile.$schema).toBe('../docs/config.schema.json')
    expect(checkJsonSchema(schema, profile)).toEqual([])
  })

  it('accepts the test document and rejects what the gateway rejects field by field', () => {
    expect(checkJsonSchema(schema, validDocument())).toEqual([])
    const bad = [
      withField(validDocument(), ['typo'], 1),
      withField(validDocument(), ['routes', 0, 'timeout_ms'], 120_001),
      withField(validDocument(), ['issuers', 1, 'algorithms'], ['HS256']),
      withField(validDocument(), ['sensitive_scopes', 'a b'], 'low'),
      withField(validDocument(), ['auth', 'refresh_reuse_interval_seconds'], 1.5),
      withField(validDocument(), ['routes', 1, 'origin_secret'], 'lower'),
    ]
    for (const doc of bad) expect(checkJsonSchema(schema, doc)).toHaveLength(1)
  })

  it('describes every field, so editors show help', () => {
    const undescribed: string[] = []
    const walk = (node: Schema, path: string) => {
      for (const [key, child] of Object.entries(
        (node.properties ?? {}) as Record<string, Schema>,
      )) {
        if (typeof child.description !== 'string') undescribed.push(`${path}.${key}`)
        walk(child, `${path}.${key}`)
      }
      if (node.items) walk(node.items as Schema, `${path}[]`)
    }
    walk(schema, '$')
    expect(undescribed).toEqual([])
  })
})
