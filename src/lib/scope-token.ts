// The one grammar of OAuth scopes (RFC 6749 §3.3): a scope-token is 1*( %x21 / %x23-5B /
// %x5D-7E ), and a scope value is scope-tokens separated by single spaces. Config, the admin
// API and the claims check all use these, so a scope one accepts the others accept too.

/** RFC 6749 §3.3 scope-token. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/

/** RFC 6749 §3.3 scope: scope-tokens separated by one space. */
export const SCOPE_VALUE = /^[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*$/

/** True when every element is a string and a scope-token. */
export function isScopeList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((s) => typeof s === 'string' && SCOPE_TOKEN.test(s))
}
