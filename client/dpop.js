// DPoP proofs (RFC 9449 §4) with WebCrypto alone: an ECDSA P-256 key pair whose private half is
// generated non-extractable (script can sign with it, never read it), the public JWK and its
// RFC 7638 thumbprint, and ES256 proofs signed by crypto.subtle. WebCrypto's ECDSA signature is
// already the JWS form (r ‖ s, RFC 7518 §3.4), so no DER conversion is needed.

const encoder = new TextEncoder()

/** Random bytes in a proof's `jti`: 128 bits, unguessable and practically unique. */
const JTI_BYTES = 16

/**
 * base64url without padding (RFC 7515 §2).
 * @param {Uint8Array} bytes
 * @returns {string}
 */
function base64url(bytes) {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** @param {unknown} value */
const encodeJson = (value) => base64url(encoder.encode(JSON.stringify(value)))

/** @param {string} text */
async function sha256(text) {
  return base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text))))
}

/**
 * A new proof key pair. The private key is not extractable; WebCrypto always makes the public
 * half extractable, which is all a proof's `jwk` needs.
 * @returns {Promise<CryptoKeyPair>}
 */
export function generateKeyPair() {
  return crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
    'sign',
    'verify',
  ])
}

/**
 * @typedef {object} ProofKey
 * @property {CryptoKey} privateKey
 * @property {{ crv: 'P-256', kty: 'EC', x: string, y: string }} jwk the public members only
 * @property {string} jkt RFC 7638 SHA-256 thumbprint: what the gateway binds tokens to (cnf.jkt)
 */

/**
 * The signing half and public identity of a stored key pair.
 * @param {CryptoKeyPair} pair
 * @returns {Promise<ProofKey>}
 */
export async function proofKey(pair) {
  const exported = await crypto.subtle.exportKey('jwk', pair.publicKey)
  if (typeof exported.x !== 'string' || typeof exported.y !== 'string') {
    throw new TypeError('the DPoP public key did not export as an EC JWK')
  }
  // RFC 7638 §3.2: the required members in lexicographic order, which this literal has.
  const jwk = /** @type {const} */ ({ crv: 'P-256', kty: 'EC', x: exported.x, y: exported.y })
  return { privateKey: pair.privateKey, jwk, jkt: await sha256(JSON.stringify(jwk)) }
}

/**
 * @typedef {object} ProofClaims
 * @property {string} method the request method (`htm`)
 * @property {string} url the request URL; `htu` drops its query and fragment (RFC 9449 §4.2)
 * @property {string | null} accessToken the token the proof accompanies (sets `ath`), or null
 * @property {string | null} nonce the server's latest DPoP-Nonce, or null
 * @property {number} nowSeconds `iat`, seconds since the epoch by the gateway's clock
 */

/**
 * A compact-JWS DPoP proof for one request, with a fresh `jti`.
 * @param {ProofKey} key
 * @param {ProofClaims} claims
 * @returns {Promise<string>}
 */
export async function createProof(key, claims) {
  const url = new URL(claims.url)
  /** @type {Record<string, string | number>} */
  const payload = {
    jti: base64url(crypto.getRandomValues(new Uint8Array(JTI_BYTES))),
    htm: claims.method,
    htu: `${url.origin}${url.pathname}`,
    iat: claims.nowSeconds,
  }
  if (claims.accessToken !== null) payload.ath = await sha256(claims.accessToken)
  if (claims.nonce !== null) payload.nonce = claims.nonce
  const input = `${encodeJson({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk })}.${encodeJson(payload)}`
  const signature = await crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-256' },
    key.privateKey,
    encoder.encode(input),
  )
  return `${input}.${base64url(new Uint8Array(signature))}`
}

/**
 * A JWT's payload, read without verification: only for what the client shows or estimates
 * (the gateway's clock, the session's `acr`), never for a decision. Null if unreadable.
 * @param {string} jwt
 * @returns {Record<string, unknown> | null}
 */
export function unverifiedClaims(jwt) {
  try {
    const part = /** @type {string} */ (jwt.split('.')[1])
    const payload = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/')))
    return typeof payload === 'object' && payload !== null ? payload : null
  } catch {
    return null
  }
}

/**
 * The `iat` of a JWT's payload, read without verification: the gateway's clock at the moment
 * it minted the token, used only to estimate the client's clock offset. Null if unreadable.
 * @param {string} jwt
 * @returns {number | null}
 */
export function issuedAt(jwt) {
  const iat = unverifiedClaims(jwt)?.iat
  return typeof iat === 'number' && Number.isFinite(iat) ? iat : null
}
