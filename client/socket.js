// WebSockets to the gateway. Browsers cannot set headers on `new WebSocket()`, so the access token
// and, for a DPoP-bound session, a proof for `GET` of the socket's URL travel as subprotocols
// (`gatehouse.bearer.<token>`, `gatehouse.dpop.<proof>`): request headers that stay out of URLs,
// history and access logs. The gateway takes them out of the offer before the origin sees it
// (README § APIs from browsers and sockets). A compact JWS is all token characters, which is
// what a subprotocol must be (RFC 6455 §4.1). The handshake's answer is not visible to script
// (a refused upgrade is a close with code 1006), so nothing here can retry on a nonce.

const BEARER_PROTOCOL = 'gatehouse.bearer.'
const DPOP_PROTOCOL = 'gatehouse.dpop.'
const MARKER_PROTOCOL = 'gatehouse'
/** ws(s) ↔ http(s): proofs name the http(s) form (htu), sockets open on the ws(s) form. */
const SOCKET_SCHEME = /** @type {Record<string, string>} */ ({ 'http:': 'ws:', 'https:': 'wss:' })
const HTTP_SCHEME = /** @type {Record<string, string>} */ ({ 'ws:': 'http:', 'wss:': 'https:' })

/**
 * The socket URL for `input` (ws:, wss:, http: or https:; relative to `root`) and its http(s)
 * form, both without fragment. Throws TypeError for any other scheme.
 * @param {string | URL} input @param {string} root
 * @returns {{ socket: URL, http: URL }}
 */
export function socketTarget(input, root) {
  const socket = new URL(input, root)
  socket.hash = ''
  const http = new URL(socket.href)
  if (SOCKET_SCHEME[socket.protocol] !== undefined) {
    socket.protocol = /** @type {string} */ (SOCKET_SCHEME[socket.protocol])
  } else if (HTTP_SCHEME[socket.protocol] !== undefined) {
    http.protocol = /** @type {string} */ (HTTP_SCHEME[socket.protocol])
  } else {
    throw new TypeError(`gatehouse: a WebSocket URL is ws(s) or http(s), not ${socket.protocol}`)
  }
  return { socket, http }
}

/**
 * The subprotocols to offer: the credentials first, then the caller's own (which must not be
 * the gateway's: they would be taken for credentials, and never reach the origin).
 * @param {string | null} token @param {string | null} proof @param {string | string[]} own
 * @returns {string[]}
 */
export function offeredProtocols(token, proof, own) {
  const protocols = typeof own === 'string' ? [own] : [...own]
  if (protocols.some((p) => p === MARKER_PROTOCOL || p.startsWith('gatehouse.'))) {
    throw new TypeError('gatehouse: the gatehouse.* subprotocols are the client’s own')
  }
  const credentials = token === null ? [] : [`${BEARER_PROTOCOL}${token}`]
  if (token !== null && proof !== null) credentials.push(`${DPOP_PROTOCOL}${proof}`)
  // The marker the gateway may answer with when the origin picks none of the caller's own: a
  // browser fails a handshake that offered subprotocols and got none back.
  if (credentials.length > 0) credentials.push(MARKER_PROTOCOL)
  return [...credentials, ...protocols]
}
