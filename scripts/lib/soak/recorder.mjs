// Every request the soak sends goes through one recorder: it stamps the operation with when it
// was sent and answered (epoch milliseconds, sub-millisecond precision), its status, the
// gateway's X-Request-Id, or the network error that took its place. Nothing is sent around it,
// so the ledger's list of operations is complete by construction: an operation is answered or
// it failed, and the checks account for every one of them.

/** Epoch milliseconds with sub-millisecond precision (monotonic within the run). */
export const nowMs = () => performance.timeOrigin + performance.now()

/** A request that takes longer than this is a failure (the stack is local). */
const REQUEST_TIMEOUT_MS = 20_000

/** The User-Agent every soak request carries: web sessions are fingerprinted by it. */
export const SOAK_USER_AGENT = 'gatehouse-soak/1'

/**
 * A recorder for one gateway: `send(kind, meta, path, init)` performs the request and resolves
 * to { op, res, text } (res null on a network error); `ops` lists every operation ever sent.
 */
export function createRecorder(gateway) {
  const ops = []
  async function send(kind, meta, path, init = {}) {
    const headers = new Headers(init.headers)
    if (!headers.has('user-agent')) headers.set('user-agent', SOAK_USER_AGENT)
    const op = {
      id: ops.length,
      kind,
      ...meta,
      sentAt: nowMs(),
      doneAt: null,
      status: null,
      requestId: null,
      error: null,
    }
    ops.push(op)
    try {
      const res = await fetch(`${gateway}${path}`, {
        redirect: 'manual',
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        ...init,
        headers,
      })
      const text = await res.text()
      op.doneAt = nowMs()
      op.status = res.status
      op.requestId = res.headers.get('x-request-id')
      return { op, res, text }
    } catch (err) {
      op.doneAt = nowMs()
      op.error = describeError(err)
      return { op, res: null, text: '' }
    }
  }
  return { ops, send }
}

function describeError(err) {
  const cause = err?.cause?.code ?? err?.cause?.message
  return `${err?.name ?? 'Error'}: ${err?.message ?? String(err)}${cause ? ` (${cause})` : ''}`
}

/** JSON of a body, or null when it is not JSON. */
export function parseJson(text) {
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}

/** The header and claims of a compact JWS (read, not verified: the soak reads its own tokens). */
export function readJwt(token) {
  const [h = '', p = ''] = String(token).split('.')
  const decode = (part) => parseJson(Buffer.from(part, 'base64url').toString('utf8')) ?? {}
  const header = decode(h)
  const claims = decode(p)
  return {
    kid: header.kid ?? null,
    sid: claims.sid ?? null,
    jti: claims.jti ?? null,
    sub: claims.sub ?? null,
    exp: typeof claims.exp === 'number' ? claims.exp : null,
  }
}
