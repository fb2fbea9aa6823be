// A deliberately small JSON Schema (draft-07) checker for the keywords docs/config.schema.json
// uses, so a test can show the bundled profiles satisfy the schema editors see without adding a
// validator dependency. An unknown keyword throws: the checker never passes by ignoring a rule.

type Schema = Record<string, unknown>

const ANNOTATIONS = new Set(['$schema', 'title', 'description', 'default'])
const TYPES: Record<string, (value: unknown) => boolean> = {
  object: (x) => typeof x === 'object' && x !== null && !Array.isArray(x),
  array: Array.isArray,
  string: (x) => typeof x === 'string',
  integer: Number.isInteger,
  number: (x) => typeof x === 'number',
  boolean: (x) => typeof x === 'boolean',
  null: (x) => x === null,
}

/** Every violation of schema by value, as `path: problem`; empty when the value is valid. */
export function checkJsonSchema(schema: Schema, value: unknown, path = '$'): string[] {
  const problems: string[] = []
  const fail = (problem: string) => problems.push(`${path}: ${problem}`)
  for (const [keyword, rule] of Object.entries(schema)) {
    if (ANNOTATIONS.has(keyword)) continue
    switch (keyword) {
      case 'type':
        if (!TYPES[rule as string]?.(value)) fail(`must be of type ${String(rule)}`)
        break
      case 'enum':
        if (!(rule as unknown[]).includes(value)) fail(`must be one of ${JSON.stringify(rule)}`)
        break
      case 'minimum':
        if (typeof value === 'number' && value < (rule as number)) fail(`must be ≥ ${rule}`)
        break
      case 'maximum':
        if (typeof value === 'number' && value > (rule as number)) fail(`must be ≤ ${rule}`)
        break
      case 'minLength':
        if (typeof value === 'string' && value.length < (rule as number)) fail('too short')
        break
      case 'maxLength':
        if (typeof value === 'string' && value.length > (rule as number)) fail('too long')
        break
      case 'pattern':
        if (typeof value === 'string' && !new RegExp(rule as string, 'u').test(value))
          fail(`must match ${rule}`)
        break
      case 'format':
        if (rule !== 'uri') throw new Error(`unsupported format ${String(rule)}`)
        if (typeof value === 'string' && !URL.canParse(value)) fail('must be a URI')
        break
      case 'minItems':
        if (Array.isArray(value) && value.length < (rule as number)) fail('too few items')
        break
      case 'items':
        if (Array.isArray(value))
          value.forEach((item, i) =>
            problems.push(...checkJsonSchema(rule as Schema, item, `${path}[${i}]`)),
          )
        break
      case 'required':
        if (TYPES.object!(value))
          for (const key of rule as string[])
            if (!(key in (value as object))) fail(`${key} is required`)
        break
      case 'properties':
      case 'additionalProperties':
      case 'propertyNames':
        if (TYPES.object!(value))
          problems.push(...checkObject(schema, keyword, value as Schema, path))
        break
      default:
        throw new Error(`json-schema-check: unsupported keyword ${keyword} at ${path}`)
    }
  }
  return problems
}

function checkObject(schema: Schema, keyword: string, value: Schema, path: string): string[] {
  const properties = (schema.properties ?? {}) as Record<string, Schema>
  const problems: string[] = []
  for (const [key, child] of Object.entries(value)) {
    const at = `${path}.${key}`
    if (keyword === 'properties' && key in properties) {
      problems.push(...checkJsonSchema(properties[key]!, child, at))
    } else if (keyword === 'additionalProperties' && !(key in properties)) {
      const rule = schema.additionalProperties
      if (rule === false) problems.push(`${at}: is not allowed`)
      else if (typeof rule === 'object')
        problems.push(...checkJsonSchema(rule as Schema, child, at))
    } else if (keyword === 'propertyNames') {
      problems.push(...checkJsonSchema(schema.propertyNames as Schema, key, `${at} (name)`))
    }
  }
  return problems
}
