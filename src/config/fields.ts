// Field builders for the configuration schemas: each states the operator-facing message of every
// rule it checks and carries a description for docs/config.schema.json. Rules JSON Schema cannot
// express (URL shape, cross-field rules) are valibot checks that the generator skips
// (JSON_SCHEMA_IGNORED_ACTIONS); the gateway enforces them all the same.

import * as v from 'valibot'
import { SCOPE_TOKEN } from '../lib/scope-token'
import { closestName } from './suggest'

const NON_EMPTY = 'must be a non-empty string'
const INTEGER = 'must be an integer'
const LIST = 'must be a list of strings'
const TABLE_LIST = 'must be a list of at least 1 tables'

/** A pattern and the rule it enforces, in words an operator can act on (never the regex). */
export interface TextRule {
  readonly pattern: RegExp
  /** The message when a value breaks it, e.g. `must be visible ASCII characters, no spaces`. */
  readonly words: string
}

/** A binding's or secret's name (what `wrangler secret put` is given). */
const ENV_NAME: TextRule = {
  pattern: /^[A-Z][A-Z0-9_]{0,63}$/,
  words: 'must be a binding name: an upper-case letter, then A-Z, 0-9 or _ (at most 64 characters)',
}
/** Visible ASCII, no spaces: audiences, token types, tenants. */
export const PRINTABLE: TextRule = {
  pattern: /^[\x21-\x7e]+$/,
  words: 'must be visible ASCII characters, no spaces',
}
/** An RFC 6749 §3.3 scope-token. */
export const SCOPE: TextRule = {
  pattern: SCOPE_TOKEN,
  words:
    'must be a scope: visible ASCII characters such as letters, digits and : . _ - / ' +
    '(no spaces, no " or \\)',
}

/** An optional integer in [min, max]. */
export function integer(fallback: number, min: number, max: number, description: string) {
  const range = `must be between ${min} and ${max}`
  return v.optional(
    v.pipe(
      v.number(INTEGER),
      v.integer(INTEGER),
      v.minValue(min, range),
      v.maxValue(max, range),
      v.description(description),
    ),
    fallback,
  )
}

/** An optional boolean. */
export function flag(fallback: boolean, description: string) {
  return v.optional(
    v.pipe(v.boolean('must be true or false'), v.description(description)),
    fallback,
  )
}

/** A non-empty string of at most maxLength characters. */
export function text(maxLength: number, description: string) {
  return v.pipe(
    v.string(NON_EMPTY),
    v.nonEmpty(NON_EMPTY),
    v.maxLength(maxLength, `must be at most ${maxLength} characters`),
    v.description(description),
  )
}

/** A non-empty string that follows rule. */
export function token(rule: TextRule, description: string) {
  return v.pipe(
    v.string(NON_EMPTY),
    v.nonEmpty(NON_EMPTY),
    v.regex(rule.pattern, rule.words),
    v.description(description),
  )
}

/** A non-empty string of at most maxLength characters that follows rule. */
export function limitedToken(rule: TextRule, maxLength: number, description: string) {
  return v.pipe(
    v.string(NON_EMPTY),
    v.nonEmpty(NON_EMPTY),
    v.maxLength(maxLength, `must be at most ${maxLength} characters`),
    v.regex(rule.pattern, rule.words),
    v.description(description),
  )
}

/** The name of a Worker binding (a D1 database, a queue…) as wrangler.toml declares it. */
export function bindingName(description: string) {
  return token(ENV_NAME, description)
}

/** The name of a secret binding; the secret itself is resolved after validation (secrets.ts). */
export function secretName(description: string) {
  return token(ENV_NAME, description)
}

/** One of a fixed list of strings. */
export function choice<const T extends readonly [string, ...string[]]>(
  options: T,
  description: string,
) {
  return v.pipe(
    v.picklist(options, `must be one of ${options.join(', ')}`),
    v.description(description),
  )
}

/** A list of items (each checked by item), possibly empty. */
export function list<I extends v.GenericSchema<unknown, string>>(item: I, description: string) {
  return v.pipe(v.array(item, LIST), v.description(description))
}

/** A list of at least one item. */
export function nonEmptyList<I extends v.GenericSchema<unknown, string>>(
  item: I,
  description: string,
) {
  return v.pipe(
    v.array(item, LIST),
    v.minLength(1, 'must have at least 1 entries'),
    v.description(description),
  )
}

/** `url`: any absolute http(s) URL; `base`: no path; `origin`: no path, written as URL.origin. */
type UrlKind = 'url' | 'base' | 'origin'

/** Why value is not an acceptable URL of this kind, or null. */
function urlProblem(value: string, kind: UrlKind): string | null {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return 'must be an absolute URL'
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return 'must use https (or http for local development)'
  }
  if (url.username || url.password || url.search || url.hash) {
    return 'must not contain credentials, a query or a fragment'
  }
  if (kind !== 'url' && url.pathname !== '/') return 'must not contain a path'
  if (kind === 'origin' && url.origin !== value) return `must be written as ${url.origin}`
  return null
}

/** An absolute http(s) URL without credentials, query or fragment (see UrlKind). */
export function urlText(kind: UrlKind, description: string) {
  return v.pipe(
    v.string(NON_EMPTY),
    v.nonEmpty(NON_EMPTY),
    v.url('must be an absolute URL'),
    v.rawCheck<string>(({ dataset, addIssue }) => {
      if (!dataset.typed) return
      const problem = urlProblem(dataset.value, kind)
      if (problem !== null) addIssue({ message: problem })
    }),
    v.description(description),
  )
}

/** An exact origin (scheme://host[:port], written as URL.origin) or the wildcard "*". */
export function originOrWildcard(description: string) {
  return v.pipe(
    v.string(NON_EMPTY),
    v.nonEmpty(NON_EMPTY),
    v.rawCheck<string>(({ dataset, addIssue }) => {
      if (!dataset.typed || dataset.value === '*') return
      const problem = urlProblem(dataset.value, 'origin')
      if (problem !== null) addIssue({ message: `must be "*" or an origin: ${problem}` })
    }),
    v.description(description),
  )
}

/** The message of a table's own issues; `fields` (a strict table's) for did-you-mean. */
function tableMessage(issue: v.StrictObjectIssue | v.RecordIssue, fields: readonly string[]) {
  if (issue.expected === 'never') {
    // valibot reports an unknown key with the key itself as the input.
    const meant = typeof issue.input === 'string' ? closestName(issue.input, fields) : undefined
    return meant === undefined ? 'unknown field' : `unknown field; did you mean \`${meant}\`?`
  }
  if (issue.input === undefined && issue.expected?.startsWith('"')) return 'is required'
  return 'must be a table (object)'
}

/**
 * valibot accepts an array where an object is expected (it is `typeof 'object'`); a table
 * written as a list is a mistake, so it is refused with the table's own message.
 */
function rejectArrays<S extends v.GenericSchema>(schema: S): S {
  return {
    ...schema,
    '~run'(dataset, config) {
      if (!Array.isArray(dataset.value)) return schema['~run'](dataset, config)
      v._addIssue(schema, 'type', dataset, config)
      return dataset as ReturnType<S['~run']>
    },
  }
}

/** A table (object) with exactly these fields: any other field is an error, not ignored. */
export function table<const E extends v.ObjectEntries>(entries: E) {
  const fields = Object.keys(entries)
  return rejectArrays(v.strictObject(entries, (issue) => tableMessage(issue, fields)))
}

/** A table whose keys are data (checked by key), each value checked by value. */
export function keyedTable<K extends v.GenericSchema<string, string>, V extends v.GenericSchema>(
  key: K,
  value: V,
) {
  return rejectArrays(v.record(key, value, (issue) => tableMessage(issue, [])))
}

/** A list of at least one table. */
export function tableList<T extends v.GenericSchema>(item: T) {
  return v.pipe(v.array(item, TABLE_LIST), v.minLength(1, TABLE_LIST))
}

type PathKey = string | number

/**
 * Reports the issues of a cross-field check on the field it is about (valibot's `forward`
 * stops at a field that is absent, e.g. an `auth` table left to its defaults).
 */
export function at<TInput extends Record<string, unknown>, TIssue extends v.BaseIssue<unknown>>(
  path: readonly PathKey[],
  action: v.BaseValidation<TInput, TInput, TIssue>,
): v.BaseValidation<TInput, TInput, TIssue> {
  return {
    ...action,
    '~run'(dataset, config) {
      const before = dataset.issues?.length ?? 0
      const out = action['~run'](dataset, config)
      for (const issue of out.issues?.slice(before) ?? []) {
        const mutable = issue as { path?: v.IssuePathItem[] }
        mutable.path = [...(mutable.path ?? []), ...pathItems(path)]
      }
      return out
    },
  }
}

/** An issue path for keys, for checks that report on a field they computed. */
export function pathItems(keys: readonly PathKey[]): v.UnknownPathItem[] {
  return keys.map((key) => ({
    type: 'unknown',
    origin: 'value',
    input: undefined,
    key,
    value: undefined,
  }))
}

/** The first value that occurs twice, or undefined. */
export function firstDuplicate(values: readonly string[]): string | undefined {
  const seen = new Set<string>()
  for (const value of values) {
    if (seen.has(value)) return value
    seen.add(value)
  }
  return undefined
}
