// Rules that involve more than one field (each reported on the field to fix), and the promise
// that every problem of a document is reported at once, one per field, the first in the message.

import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../../src/config/config'
import { MISSING, configError, sourceOf, validDocument, withField } from './fixtures'

const fieldOfError = (doc: Record<string, unknown>) => configError(sourceOf(doc)).field
const set = (path: (string | number)[], value: unknown, doc = validDocument()) =>
  withField(doc, path, value)

describe('cross-field rules', () => {
  it('rejects an issuer with both self = true and a jwks_uri', () => {
    const doc = set(['issuers', 0, 'jwks_uri'], 'https://gatehouse.test/jwks.json')
    expect(fieldOfError(doc)).toBe('GATEHOUSE.issuers["https://gatehouse.test"].jwks_uri')
  })

  it('rejects an issuer with neither self = true nor a jwks_uri', () => {
    expect(fieldOfError(set(['issuers', 1, 'jwks_uri'], MISSING))).toBe(
      'GATEHOUSE.issuers["https://idp.test/"].jwks_uri',
    )
    expect(fieldOfError(set(['issuers', 0, 'self'], false))).toBe(
      'GATEHOUSE.issuers["https://gatehouse.test"].jwks_uri',
    )
  })

  it('rejects two issuers with the same issuer value', () => {
    const doc = set(['issuers', 1, 'issuer'], 'https://gatehouse.test')
    expect(configError(sourceOf(doc)).issues[0]).toEqual({
      field: 'GATEHOUSE.issuers',
      problem: 'duplicate issuer "https://gatehouse.test"',
    })
  })

  it('rejects a second self issuer', () => {
    let doc = set(['issuers', 1, 'self'], true)
    doc = set(['issuers', 1, 'jwks_uri'], MISSING, doc)
    doc = set(['issuers', 1, 'tenant'], MISSING, doc)
    expect(fieldOfError(doc)).toBe('GATEHOUSE.issuers')
  })

  it.each(['/api/public', '/api/public/', '/api/public/*'])(
    'rejects a second route whose prefix normalizes to the first (%s)',
    (prefix) => {
      const doc = set(['routes', 1, 'prefix'], prefix)
      expect(configError(sourceOf(doc)).issues[0]).toEqual({
        field: 'GATEHOUSE.routes',
        problem: 'duplicate prefix "/api/public"',
      })
    },
  )

  it('rejects scopes on a route with auth = "none"', () => {
    expect(fieldOfError(set(['routes', 0, 'read_scopes'], ['echo:read']))).toBe(
      'GATEHOUSE.routes["/api/public"].auth',
    )
    expect(fieldOfError(set(['routes', 1, 'auth'], 'none'))).toBe(
      'GATEHOUSE.routes["/api/echo/*"].auth',
    )
  })

  it('rejects an idle session lifetime above the absolute one, and accepts them equal', () => {
    const doc = set(['auth', 'session_idle_lifetime_hours'], 721)
    expect(fieldOfError(doc)).toBe('GATEHOUSE.auth.session_idle_lifetime_hours')
    const equal = set(['auth', 'session_idle_lifetime_hours'], 720)
    expect(parseConfig(sourceOf(equal)).auth.refresh.idleLifetimeSeconds).toBe(720 * 3600)
  })

  it('rejects a signing algorithm the self issuer does not allow, also by default', () => {
    const doc = set(['issuers', 0, 'algorithms'], ['EdDSA'])
    expect(fieldOfError(set(['auth', 'signing_algorithm'], 'RS256', doc))).toBe(
      'GATEHOUSE.auth.signing_algorithm',
    )
    const rsOnly = set(['auth'], MISSING, set(['issuers', 0, 'algorithms'], ['RS256']))
    expect(fieldOfError(rsOnly)).toBe('GATEHOUSE.auth.signing_algorithm')
  })

  it('rejects an access-token lifetime above max_token_lifetime_seconds, also by default', () => {
    const short = set(['max_token_lifetime_seconds'], 600)
    expect(fieldOfError(short)).toBe('GATEHOUSE.auth.access_token_ttl_seconds')
    expect(fieldOfError(set(['auth'], MISSING, short))).toBe(
      'GATEHOUSE.auth.access_token_ttl_seconds',
    )
    const equal = set(['auth', 'access_token_ttl_seconds'], 600, short)
    expect(parseConfig(sourceOf(equal)).auth.accessTokenTtlSeconds).toBe(600)
  })

  it('requires a third-party issuer to pin its tenant or list its tenants, not both', () => {
    expect(fieldOfError(set(['issuers', 1, 'tenant'], MISSING))).toBe(
      'GATEHOUSE.issuers["https://idp.test/"].tenant',
    )
    const both = set(['issuers', 1, 'tenants'], ['acme', 'globex'])
    expect(fieldOfError(both)).toBe('GATEHOUSE.issuers["https://idp.test/"].tenant')
    const listed = set(
      ['issuers', 1, 'tenants'],
      ['acme', 'globex'],
      set(['issuers', 1, 'tenant'], MISSING),
    )
    expect(parseConfig(sourceOf(listed)).issuers[1]).toMatchObject({
      tenant: null,
      tenants: ['acme', 'globex'],
    })
  })

  it('refuses a tenant or a tenant list on the self issuer (its sessions name the tenant)', () => {
    expect(fieldOfError(set(['issuers', 0, 'tenant'], 'acme'))).toBe(
      'GATEHOUSE.issuers["https://gatehouse.test"].tenant',
    )
    expect(fieldOfError(set(['issuers', 0, 'tenants'], ['acme']))).toBe(
      'GATEHOUSE.issuers["https://gatehouse.test"].tenant',
    )
  })

  it('requires allowed_origins with a self issuer, and takes an explicit empty list', () => {
    expect(fieldOfError(set(['auth', 'allowed_origins'], MISSING))).toBe(
      'GATEHOUSE.auth.allowed_origins',
    )
    const none = set(['auth', 'allowed_origins'], [])
    expect(parseConfig(sourceOf(none)).auth.allowedOrigins).toEqual([])
  })

  it('reads an omitted write_scopes as the read scopes, and warns about an explicit []', () => {
    const omitted = parseConfig(sourceOf(set(['routes', 1, 'write_scopes'], MISSING)))
    expect(omitted.routes[1]?.writeScopes).toEqual(['echo:read'])
    expect(omitted.warnings).toEqual([])
    const open = parseConfig(sourceOf(set(['routes', 1, 'write_scopes'], [])))
    expect(open.routes[1]?.writeScopes).toEqual([])
    expect(open.warnings).toEqual([
      expect.stringContaining('GATEHOUSE.routes["/api/echo/*"].write_scopes'),
    ])
  })

  it('rejects an auth table when no issuer is self', () => {
    const doc = set(['issuers'], (validDocument().issuers as unknown[]).slice(1))
    expect(fieldOfError(doc)).toBe('GATEHOUSE.auth')
    const { auth: _auth, ...pureGateway } = doc
    expect(parseConfig(sourceOf(pureGateway)).auth.enabled).toBe(false)
  })
})

describe('reporting', () => {
  it('reports every problem at once, in document order, the first one in the message', () => {
    let doc = set(['public_url'], 'ftp://gatehouse.test')
    doc = set(['routes', 1, 'timeout_ms'], 99, doc)
    doc = set(['jwks', 'fetch_timeout_ms'], 1, doc)
    doc = set(['auth', 'colour'], 'blue', doc)
    doc = set(['typo'], true, doc)
    const err = configError(sourceOf(doc))
    expect(err.issues.map((i) => i.field)).toEqual([
      'GATEHOUSE.public_url',
      'GATEHOUSE.jwks.fetch_timeout_ms',
      'GATEHOUSE.routes["/api/echo/*"].timeout_ms',
      'GATEHOUSE.auth.colour',
      'GATEHOUSE.typo',
    ])
    expect(err.field).toBe('GATEHOUSE.public_url')
    expect(err.message).toBe(`invalid configuration: GATEHOUSE.public_url: ${err.problem}`)
  })

  it('reports one problem per field, the first rule it breaks', () => {
    const err = configError(sourceOf(set(['routes', 1, 'origin_secret'], '')))
    expect(err.issues).toEqual([
      {
        field: 'GATEHOUSE.routes["/api/echo/*"].origin_secret',
        problem: 'must be a non-empty string',
      },
    ])
  })

  it('names the unknown field itself, so a typo never falls back to a default', () => {
    const err = configError(sourceOf(set(['routes', 0, 'timeout'], 500)))
    expect(err.issues).toEqual([
      {
        field: 'GATEHOUSE.routes["/api/public"].timeout',
        problem: 'unknown field; did you mean `timeout_ms`?',
      },
    ])
  })
})
