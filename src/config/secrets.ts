// Secrets are never in the document, only their names: this module finds every name the validated
// document uses and reads it from the Worker's bindings. A problem names the field that named the
// secret and the secret's name, never its value.

import { fieldName, type ConfigIssue } from './errors'
import type { GatehouseDocument } from './schema'

/** An HMAC-SHA256 key shorter than its output weakens it (RFC 2104 §3). */
export const MIN_SECRET_LENGTH = 32
/** The auth server's own secrets: sealing signing keys at rest, peppering password hashes. */
const AUTH_SECRET_NAMES = ['KEY_ENCRYPTION_SECRET', 'PASSWORD_PEPPER'] as const

/** Reads a binding by name (the Worker's env, or a placeholder lookup in the deploy checks). */
export type SecretLookup = (name: string) => unknown

interface SecretUse {
  readonly field: string
  readonly name: string
}

/** Every secret the document needs, with the field that names it, in document order. */
function secretUses(doc: GatehouseDocument): SecretUse[] {
  const uses: SecretUse[] = doc.routes.map((route, i) => ({
    field: fieldName(['routes', i, 'origin_secret'], doc),
    name: route.origin_secret,
  }))
  if (doc.metrics_scrape_secret !== undefined) {
    uses.push({ field: fieldName(['metrics_scrape_secret']), name: doc.metrics_scrape_secret })
  }
  if (doc.issuers.some((issuer) => issuer.self)) {
    for (const name of AUTH_SECRET_NAMES)
      uses.push({ field: fieldName(['auth', '(secret)']), name })
  }
  // EdDSA assertions are signed with keys the KeyManager seals under KEY_ENCRYPTION_SECRET.
  const eddsa = doc.routes.findIndex((route) => route.assertion_signing === 'eddsa')
  if (eddsa >= 0) {
    uses.push({
      field: fieldName(['routes', eddsa, 'assertion_signing'], doc),
      name: 'KEY_ENCRYPTION_SECRET',
    })
  }
  return uses
}

/** Resolves every secret the document names; `issues` lists each missing or short one. */
export function resolveSecrets(
  doc: GatehouseDocument,
  lookup: SecretLookup,
): { values: ReadonlyMap<string, string>; issues: ConfigIssue[] } {
  const values = new Map<string, string>()
  const issues: ConfigIssue[] = []
  for (const { field, name } of secretUses(doc)) {
    if (values.has(name)) continue
    const value = lookup(name)
    if (typeof value !== 'string' || value.length === 0) {
      issues.push({ field, problem: `secret ${name} is not set (wrangler secret put ${name})` })
    } else if (value.length < MIN_SECRET_LENGTH) {
      issues.push({
        field,
        problem: `secret ${name} must be at least ${MIN_SECRET_LENGTH} characters`,
      })
    } else {
      values.set(name, value)
    }
  }
  return { values, issues }
}
