// DPoP proofs (RFC 9449) for the soak's bound sessions: one P-256 key per session, one freshly
// signed proof per request (its own jti, htm and htu, and at a resource `ath`, the hash of the
// access token). node:crypto signs synchronously, which keeps a proof off the event loop's
// critical path; the gateway verifies ES256 and EdDSA alike.

import { createHash, generateKeyPairSync, randomUUID, sign } from 'node:crypto'

const b64url = (input) => Buffer.from(input).toString('base64url')

/** A new proof key: { sign(method, url, accessToken?) → compact JWS }. */
export function createDpopKey() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' })
  const header = b64url(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } }))
  return {
    sign(method, url, accessToken = null) {
      const claims = {
        jti: randomUUID(),
        htm: method,
        htu: url,
        iat: Math.floor(Date.now() / 1000),
        ...(accessToken === null
          ? {}
          : { ath: createHash('sha256').update(accessToken).digest('base64url') }),
      }
      const input = `${header}.${b64url(JSON.stringify(claims))}`
      // JWS ES256 is r ‖ s (IEEE P1363), not DER.
      const signature = sign('sha256', Buffer.from(input), {
        key: privateKey,
        dsaEncoding: 'ieee-p1363',
      })
      return `${input}.${signature.toString('base64url')}`
    },
  }
}
