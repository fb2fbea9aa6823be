// The demo third-party issuer (demo profile v2): an Ed25519 key written once to .demo-idp.json at
// the project root (git-ignored) as {"issuer", "private_jwk"}. The demo origin publishes its
// public half at /idp/jwks.json; the gateway trusts the issuer with audience gatehouse-demo and
// tenant pinned to `partners`; tests mint validly signed tokens with the private half, so a
// black-box case can break exactly one property of an otherwise valid token.

import { generateKeyPairSync, createHash } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export const DEMO_IDP_FILE = '.demo-idp.json'

/** The issuer URL for an origin port. */
export function demoIdpIssuer(originPort) {
  return `http://127.0.0.1:${originPort}/idp`
}

/**
 * Ensures `<root>/.demo-idp.json` exists and names the issuer at `originPort`; the key is made
 * once and kept (only the issuer URL follows the port). Returns the parsed document.
 */
export function ensureDemoIdp(root, originPort) {
  const path = join(root, DEMO_IDP_FILE)
  const issuer = demoIdpIssuer(originPort)
  let doc = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : null
  if (doc === null || typeof doc.private_jwk?.d !== 'string') {
    const { privateKey } = generateKeyPairSync('ed25519')
    const jwk = privateKey.export({ format: 'jwk' })
    doc = { issuer, private_jwk: { ...jwk, kid: thumbprint(jwk), alg: 'EdDSA', use: 'sig' } }
  }
  if (doc.issuer !== issuer) doc = { ...doc, issuer }
  writeFileSync(path, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 })
  return doc
}

/** The public JWKS of a demo IdP document. */
export function demoIdpJwks(doc) {
  const { kty, crv, x, kid, alg, use } = doc.private_jwk
  return { keys: [{ kty, crv, x, kid, alg, use }] }
}

/** RFC 7638 thumbprint of an OKP key: SHA-256 over {"crv","kty","x"}, base64url. */
function thumbprint(jwk) {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x })
  return createHash('sha256').update(canonical).digest('base64url')
}
