// One error class for every way the configuration can be wrong. Each problem names the field as
// an operator reads it (`GATEHOUSE.routes[1].origin`), mapped here from valibot's issue paths;
// every problem is kept (`issues`), and the first one is the message, so a start-up log line
// stays one line while a deploy check can print them all.

import type { BaseIssue } from 'valibot'

/** The root every field name starts with: the var (or bundled profile) the document came from. */
export const ROOT_FIELD = 'GATEHOUSE'

export interface ConfigIssue {
  /** The field as written in the document, e.g. `GATEHOUSE.routes[1].origin`. */
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

/** `GATEHOUSE` + `.key` for object keys, `[i]` for list indexes. */
export function fieldName(keys: readonly unknown[]): string {
  let field = ROOT_FIELD
  for (const key of keys) field += typeof key === 'number' ? `[${key}]` : `.${String(key)}`
  return field
}

/**
 * valibot issues as ConfigIssues, in order, one per field: a value that breaks several rules of
 * one field (empty, so also not matching its pattern) is reported by the first rule only.
 */
export function issuesFromValibot(issues: readonly BaseIssue<unknown>[]): ConfigIssue[] {
  const seen = new Set<string>()
  const out: ConfigIssue[] = []
  for (const issue of issues) {
    const field = fieldName((issue.path ?? []).map((item) => item.key))
    if (seen.has(field)) continue
    seen.add(field)
    out.push({ field, problem: issue.message })
  }
  return out
}
