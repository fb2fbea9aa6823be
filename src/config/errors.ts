// One error class for every way the configuration can be wrong. Each problem names the field as
// an operator finds it (`GATEHOUSE.routes["/api/orders"].origin`: a route by its prefix, an
// issuer by its issuer value, never a 0-based index), mapped here from valibot's issue paths;
// every problem is kept (`issues`), and the first one is the message, so a start-up log line
// stays one line while a deploy check can print them all.

import type { BaseIssue } from 'valibot'

/** The root every field name starts with: the var (or bundled profile) the document came from. */
export const ROOT_FIELD = 'GATEHOUSE'

export interface ConfigIssue {
  /** The field as written in the document, e.g. `GATEHOUSE.routes["/api/orders"].origin`. */
  readonly field: string
  readonly problem: string
}

/** Thrown by parseConfig; `field` and `problem` are the first of `issues`. */
export class ConfigError extends Error {
  readonly problem: string
  readonly issues: readonly ConfigIssue[]

  constructor(
    readonly field: string,
    problem: string,
    issues: readonly ConfigIssue[] = [{ field, problem }],
  ) {
    super(`invalid configuration: ${field}: ${problem}`)
    this.name = 'ConfigError'
    this.problem = problem
    this.issues = issues
  }

  /** The error for a non-empty list of issues; the first one becomes the message. */
  static of(issues: readonly [ConfigIssue, ...ConfigIssue[]]): ConfigError {
    return new ConfigError(issues[0].field, issues[0].problem, issues)
  }
}

/** The root lists whose entries an operator knows by a field of their own, not by position. */
const NAMED_LISTS: Readonly<Record<string, string>> = { routes: 'prefix', issuers: 'issuer' }

/**
 * `GATEHOUSE` + `.key` for object keys and `[i]` for list indexes, except that an entry of
 * `routes` or `issuers` is named by its prefix or issuer as written in `doc` (the raw or the
 * validated document): `routes["/api/orders"]`. An entry whose name is missing, not a string
 * or shared with another entry (a duplicate, itself an error) keeps its index.
 */
export function fieldName(keys: readonly unknown[], doc?: unknown): string {
  let field = ROOT_FIELD
  keys.forEach((key, depth) => {
    if (typeof key !== 'number') {
      field += `.${String(key)}`
      return
    }
    const name = depth === 1 ? entryName(doc, keys[0], key) : undefined
    field += name === undefined ? `[${key}]` : `[${JSON.stringify(name)}]`
  })
  return field
}

function entryName(doc: unknown, list: unknown, index: number): string | undefined {
  if (typeof list !== 'string' || !Object.hasOwn(NAMED_LISTS, list)) return undefined
  const by = NAMED_LISTS[list] as string
  const entries = isRecord(doc) ? doc[list] : undefined
  if (!Array.isArray(entries)) return undefined
  const nameOf = (entry: unknown) => {
    const name = isRecord(entry) ? entry[by] : undefined
    return typeof name === 'string' && name !== '' ? name : undefined
  }
  const name = nameOf(entries[index])
  if (name === undefined) return undefined
  return entries.filter((entry) => nameOf(entry) === name).length === 1 ? name : undefined
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * valibot issues as ConfigIssues, in order, one per field (named with `doc`, the raw document,
 * as fieldName does): a value that breaks several rules of one field (empty, so also not
 * matching its pattern) is reported by the first rule only.
 */
export function issuesFromValibot(
  issues: readonly BaseIssue<unknown>[],
  doc: unknown,
): ConfigIssue[] {
  const seen = new Set<string>()
  const out: ConfigIssue[] = []
  for (const issue of issues) {
    const field = fieldName(
      (issue.path ?? []).map((item) => item.key),
      doc,
    )
    if (seen.has(field)) continue
    seen.add(field)
    out.push({ field, problem: issue.message })
  }
  return out
}
