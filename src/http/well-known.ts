// The discovery documents of Gatehouse's own issuer: the JWKS (next, current and retired keys,
// served from the KV copy the KeyManager keeps current, falling back to the KeyManager) and the
// RFC 8414 authorization server metadata. Both are public and cacheable.

import type { Config } from '../config/config'
import { AuthError } from '../lib/errors'
import { JWKS_HTTP_MAX_AGE_SECONDS } from '../keys/key-manager'
import { jwksKvKey, type StoredJwks } from '../keys/key-store'
import { DPOP_ALGORITHMS } from '../verify/dpop-proof'
import type { Services } from './services'

/** GET /.well-known/jwks.json */
export async function jwksResponse(s: Services): Promise<Response> {
  let keys: readonly unknown[] | null = null
  try {
    keys = (await s.kv.get<StoredJwks>(jwksKvKey(s.config.auth.issuer), 'json'))?.keys ?? null
  } catch {
    keys = null // KV unavailable: the KeyManager is the source of truth
  }
  keys ??= (await s.keyManager().publishedKeys(s.keySettings)).keys
  return new Response(JSON.stringify({ keys }), {
    headers: {
      'content-type': 'application/jwk-set+json',
      'cache-control': `public, max-age=${JWKS_HTTP_MAX_AGE_SECONDS}`,
      'access-control-allow-origin': '*',
    },
  })
}

/**
 * GET /.well-known/origin-assertion-jwks.json: the public keys origins verify EdDSA assertions
 * with (docs/ASSERTION.md); 404 when no route signs with EdDSA.
 */
export async function assertionJwksResponse(s: Services): Promise<Response> {
  const keys = s.assertionKeys
  if (keys === null) throw new AuthError('route_not_found')
  let published: readonly unknown[] | null = null
  try {
    published = (await s.kv.get<StoredJwks>(jwksKvKey(keys.settings.issuer), 'json'))?.keys ?? null
  } catch {
    published = null
  }
  published ??= (await keys.manager().publishedKeys(keys.settings)).keys
  return new Response(JSON.stringify({ keys: published }), {
    headers: {
      'content-type': 'application/jwk-set+json',
      'cache-control': `public, max-age=${JWKS_HTTP_MAX_AGE_SECONDS}`,
    },
  })
}

/** GET /.well-known/oauth-authorization-server (RFC 8414 §2). */
export function metadataResponse(config: Config): Response {
  const base = config.publicUrl
  const metadata = {
    issuer: config.auth.issuer,
    jwks_uri: `${base}/.well-known/jwks.json`,
    // Gatehouse has no authorization endpoint: first-party clients log in with a password.
    response_types_supported: [],
    grant_types_supported: ['password', 'refresh_token'],
    token_endpoint_auth_methods_supported: ['none'],
    scopes_supported: [],
    token_endpoint: `${base}/auth/login`,
    revocation_endpoint: `${base}/auth/revoke`,
    introspection_endpoint: `${base}/auth/introspect`,
    gatehouse_refresh_endpoint: `${base}/auth/refresh`,
    gatehouse_logout_endpoint: `${base}/auth/logout`,
    access_token_signing_alg_values_supported: [config.auth.signingAlgorithm],
    // RFC 9449 §5.1: login and refresh accept proofs of these algorithms and bind the tokens.
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
  }
  return new Response(JSON.stringify(metadata), {
    headers: {
      'content-type': 'application/json',
      'cache-control': 'public, max-age=3600',
      'access-control-allow-origin': '*',
    },
  })
}
