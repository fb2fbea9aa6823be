// The messages an operator acts on: a route named by its prefix and an issuer by its issuer
// value (never a 0-based index), "is required" for a missing field, the nearest known field for
// a typo, a rule in plain words where a regex checks the value, and every problem at once.

import { describe, expect, it } from 'vitest'
import { MISSING, configError, sourceOf, validDocument, withField } from './fixtures'

type Json = Record<string, unknown>
const set = (path: (string | number)[], value: unknown, doc: Json = validDocument()) =>
  withField(doc, path, value)
const issuesOf = (doc: Json) => configError(sourceOf(doc)).issues

describe('field names', () => {
  it('names a route by its prefix as written, and keeps the field path below it', () => {
    expect(issuesOf(set(['routes', 1, 'read_scopes'], ['two words']))[0]?.field).toBe(
      'GATEHOUSE.routes["/api/echo/*"].read_scopes[0]',
    )
  })

  it('names an issuer by its issuer value', () => {
    expect(issuesOf(set(['issuers', 1, 'audiences'], []))[0]?.field).toBe(
      'GATEHOUSE.issuers["https://idp.test/"].audiences',
    )
  })

  it('keeps the index of an entry whose name is missing, not a string, or shared', () => {
    expect(issuesOf(set(['routes', 1, 'prefix'], MISSING))[0]?.field).toBe(
      'GATEHOUSE.routes[1].prefix',
    )
    expect(issuesOf(set(['issuers', 1, 'issuer'], 5))[0]?.field).toBe('GATEHOUSE.issuers[1].issuer')
    let twins = set(['routes', 1, 'prefix'], '/api/public')
    twins = set(['routes', 1, 'origin'], 'not a url', twins)
    expect(issuesOf(twins)[0]?.field).toBe('GATEHOUSE.routes[1].origin')
  })

  it('names the route in secret problems too', () => {
    const { ORIGIN_SECRET_B: _, ...secrets } = sourceOf(validDocument())
    expect(configError(secrets).issues[0]?.field).toBe(
      'GATEHOUSE.routes["/api/echo/*"].origin_secret',
    )
  })
})

describe('problems', () => {
  it('says "is required" for a missing field', () => {
    expect(issuesOf(set(['routes', 1, 'origin'], MISSING))).toEqual([
      { field: 'GATEHOUSE.routes["/api/echo/*"].origin', problem: 'is required' },
    ])
    expect(issuesOf(set(['issuers', 1, 'audiences'], MISSING))[0]?.problem).toBe('is required')
  })

  it.each([
    [['routes', 1, 'read_scope'], ['echo:read'], 'read_scopes'],
    [['routes', 1, 'write-scopes'], ['echo:write'], 'write_scopes'],
    [['routes', 1, 'orgin'], 'https://origin.test', 'origin'],
    [['routes', 1, 'timeout'], 5000, 'timeout_ms'],
    [['issuers', 1, 'audience'], ['api'], 'audiences'],
    [['issuers', 1, 'jwks_url'], 'https://idp.test/jwks', 'jwks_uri'],
    [['auth', 'allowed_origin'], [], 'allowed_origins'],
    [['clock_skew'], 30, 'clock_skew_seconds'],
  ] as const)('suggests the nearest known field for %j', (path, value, meant) => {
    const [issue] = issuesOf(set([...path], value))
    expect(issue?.problem).toBe(`unknown field; did you mean \`${meant}\`?`)
  })

  it('suggests nothing for a field that resembles none', () => {
    expect(issuesOf(set(['routes', 1, 'colour'], 'blue'))[0]?.problem).toBe('unknown field')
  })

  it.each([
    [['routes', 1, 'prefix'], '/api/ech o', 'must be a path: '],
    [['routes', 1, 'read_scopes'], ['two words'], 'must be a scope: '],
    [['routes', 1, 'origin_secret'], 'origin-secret', 'must be a binding name: '],
    [['routes', 1, 'cors'], { origins: ['*'], headers: ['X-Upper'] }, 'must be a header name'],
    [['issuers', 1, 'audiences'], ['two words'], 'must be visible ASCII'],
    [['sensitive_scopes'], { 'two words': 'critical' }, 'must be a scope: '],
    [['routes', 1, 'acr_values'], ['a b'], 'must be an acr value: '],
  ] as const)('states the rule %j breaks in words, never as a regex', (path, value, rule) => {
    const [issue] = issuesOf(set([...path], value))
    expect(issue?.problem.startsWith(rule)).toBe(true)
    expect(issue?.problem).not.toMatch(/must match|\/\^|\$\//)
  })

  it('lists every problem at once: routes by prefix, issuers by name, typos, missing fields', () => {
    let doc = set(['routes', 0, 'origin'], MISSING)
    doc = set(['routes', 1, 'read_scope'], ['echo:read'], doc)
    doc = set(['issuers', 1, 'audiences'], ['two words'], doc)
    doc = set(['routes', 1, 'issuers'], ['https://elsewhere.test'], doc)
    expect(issuesOf(doc).map((i) => i.field)).toEqual([
      'GATEHOUSE.issuers["https://idp.test/"].audiences[0]',
      'GATEHOUSE.routes["/api/public"].origin',
      'GATEHOUSE.routes["/api/echo/*"].read_scope',
      'GATEHOUSE.routes["/api/echo/*"].issuers[0]',
    ])
  })
})
