// WebSockets through the gateway: the upgrade is authenticated and authorised like any request
// (token, scopes, tier, revocation, DPoP) before anything reaches the origin, then the gateway
// relays the socket (a WebSocketPair to the client, a socket to the origin) so it can close it:
// at the token's expiry on every tier (4401 "token expired"), and on standard and critical routes
// within `websocket_check_seconds` of a revocation of the token, its session or its subject
// (4401 "revoked"): a timer asks the subject's RevocationShard, one call per socket per period
// (12 a minute at the default 5 s). A timer rather than a push from the shard: the shard would
// have to know every isolate holding a socket, and a check is one small SQL query.
//
// Browsers cannot set headers on `new WebSocket()`, so a client may offer its access token (and a
// DPoP proof) as subprotocols: `gatehouse.bearer.<token>`, `gatehouse.dpop.<proof>` — headers,
// never a URL. They are removed before the origin sees the offer.

import { AuthError } from '../lib/errors'
import { logLine } from '../observability/log'
import { countMetric } from '../observability/metrics'
import type { RouteConfig } from '../proxy/route'
import type { Tier } from '../revocation/tier'
import type { VerifiedToken } from '../verify/verify-token'
import type { RequestContext } from './request-context'

const BEARER_PROTOCOL = 'gatehouse.bearer.'
const DPOP_PROTOCOL = 'gatehouse.dpop.'
/**
 * Offered beside the credentials; the gateway answers with it when the origin picks none of the
 * client's own subprotocols (a browser fails a handshake that offered some and got none back).
 */
const MARKER_PROTOCOL = 'gatehouse'
/** Close codes: 4401 mirrors HTTP 401 (the credential is no longer valid). */
const CLOSE_UNAUTHORIZED = 4401
const CLOSE_TRY_AGAIN = 1013
const CLOSE_GOING_AWAY = 1001

/** Whether a request asks to upgrade to a WebSocket. */
export function isWebSocketUpgrade(headers: Headers): boolean {
  return (headers.get('upgrade') ?? '').toLowerCase() === 'websocket'
}

/**
 * Moves credentials a browser offered as subprotocols into the headers the gateway checks (only
 * when the request has no Authorization of its own); returns the request to authenticate and
 * the subprotocols left for the origin.
 */
export function subprotocolCredentials(request: Request): {
  request: Request
  protocols: string[]
  marker: boolean
} {
  const offered = (request.headers.get('sec-websocket-protocol') ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
  const token = offered.find((p) => p.startsWith(BEARER_PROTOCOL))?.slice(BEARER_PROTOCOL.length)
  const proof = offered.find((p) => p.startsWith(DPOP_PROTOCOL))?.slice(DPOP_PROTOCOL.length)
  const protocols = offered.filter((p) => p !== MARKER_PROTOCOL && !p.startsWith('gatehouse.'))
  const marker = offered.includes(MARKER_PROTOCOL)
  if (token === undefined || request.headers.has('authorization')) {
    return { request, protocols, marker }
  }
  const headers = new Headers(request.headers)
  headers.set('authorization', proof === undefined ? `Bearer ${token}` : `DPoP ${token}`)
  if (proof !== undefined) headers.set('dpop', proof)
  return {
    request: new Request(request.url, { method: request.method, headers }),
    protocols,
    marker,
  }
}

export interface RelayInput {
  readonly route: RouteConfig
  readonly target: string
  readonly verified: VerifiedToken | null
  readonly tier: Tier
  /** The subprotocols the client offered, gateway ones removed. */
  readonly protocols: readonly string[]
  /** The client offered the `gatehouse` marker: answered when the origin picks nothing. */
  readonly marker: boolean
  /** The signed origin headers of the upgrade request. */
  readonly headers: Headers
}

/** Opens the origin's socket and relays it; the origin's refusal passes through unchanged. */
export async function relayWebSocket(rc: RequestContext, o: RelayInput): Promise<Response> {
  const headers = o.headers
  for (const name of [...headers.keys()]) {
    if (name.startsWith('sec-websocket-')) headers.delete(name)
  }
  headers.set('upgrade', 'websocket')
  if (o.protocols.length > 0) headers.set('sec-websocket-protocol', o.protocols.join(', '))
  let upstream: Response
  try {
    upstream = await fetch(o.route.origin + o.target, { headers })
  } catch {
    throw new AuthError('origin_unreachable', { detail: 'WebSocket upgrade to the origin failed' })
  }
  const originSocket = upstream.webSocket
  if (upstream.status !== 101 || originSocket === null) return upstream
  const pair = new WebSocketPair()
  const client = pair[0]
  const gateway = pair[1]
  gateway.accept()
  originSocket.accept()
  watch(rc, o, gateway, originSocket)
  const chosen =
    upstream.headers.get('sec-websocket-protocol') ?? (o.marker ? MARKER_PROTOCOL : null)
  return new Response(null, {
    status: 101,
    webSocket: client,
    headers: chosen === null ? {} : { 'sec-websocket-protocol': chosen },
  })
}

/** Relays both ways and closes both sockets on expiry, revocation or either side's close. */
function watch(rc: RequestContext, o: RelayInput, client: WebSocket, origin: WebSocket): void {
  const { services, config } = rc
  const route = o.route.prefix
  let open = true
  const timers: ReturnType<typeof setTimeout>[] = []
  const end = (result: string, code: number, reason: string) => {
    if (!open) return
    open = false
    for (const t of timers) clearTimeout(t)
    countMetric('gatehouse_websocket_total', { route, result })
    logLine('info', 'websocket_closed', { route, result, request_id: rc.requestId })
    for (const socket of [client, origin]) {
      try {
        socket.close(code, reason)
      } catch {
        // already closed
      }
    }
  }
  client.addEventListener('message', (e) => open && origin.send(e.data))
  origin.addEventListener('message', (e) => open && client.send(e.data))
  client.addEventListener('close', (e) => end('closed_by_client', closeCode(e.code), e.reason))
  origin.addEventListener('close', (e) => end('closed_by_origin', closeCode(e.code), e.reason))
  client.addEventListener('error', () => end('error', CLOSE_GOING_AWAY, 'client error'))
  origin.addEventListener('error', () => end('error', CLOSE_GOING_AWAY, 'origin error'))
  const token = o.verified
  if (token === null) return
  const untilExpiry = token.expiresAt * 1000 - services.now()
  timers.push(
    setTimeout(() => end('expired', CLOSE_UNAUTHORIZED, 'token expired'), Math.max(0, untilExpiry)),
  )
  if (o.tier === 'low') return
  const periodMs = config.websocketCheckSeconds * 1000
  const check = async () => {
    if (!open) return
    try {
      await services.revocation.check(token, o.tier)
    } catch (err) {
      const reason = err instanceof AuthError ? err.reason : 'internal'
      if (reason === 'revoked') end('revoked', CLOSE_UNAUTHORIZED, 'revoked')
      else end('revocation_unavailable', CLOSE_TRY_AGAIN, 'revocation store unavailable')
      return
    }
    if (open) timers.push(setTimeout(check, periodMs))
  }
  timers.push(setTimeout(check, periodMs))
}

/** A close code one side may pass on to the other (1005/1006 are never sent on the wire). */
function closeCode(code: number): number {
  return code === 1005 || code === 1006 || code === 1015 ? CLOSE_GOING_AWAY : code
}
