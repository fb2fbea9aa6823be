// The client's requests to the gateway: proofs stamped with the gateway's latest DPoP-Nonce and
// its clock, token-endpoint calls, and resource requests classified for a retry. What the
// gateway answers teaches two things: a nonce (RFC 9449 §8: a 400 or 401 `use_dpop_nonce`
// carries the one to retry with) and the gateway's clock (its Date header, the `iat` of the
// tokens it mints), so a client whose clock is off by more than the gateway's skew window
// still makes proofs the gateway accepts.

import { createProof, issuedAt } from './dpop.js'

/** A clock estimate that moved less than this is noise (Date has 1 s resolution; skew is 60 s). */
const CLOCK_TOLERANCE_MS = 10_000
/** Half a second: a Date header or an `iat` truncates to the second. */
const HALF_SECOND_MS = 500
const CHALLENGE_ERROR = /\berror="([^"]*)"/

/** A refused request of the client: the gateway's status and its error code. */
export class GatehouseError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the gateway could not be reached
   * @param {string} code the answer's `error` (`invalid_grant`, `rate_limited`…), or `network_error`
   */
  constructor(status, code) {
    super(`gatehouse: ${code} (${status})`)
    this.name = 'GatehouseError'
    this.status = status
    this.code = code
  }
}

/** @typedef {import('./dpop.js').ProofKey} ProofKey */
/** @typedef {import('./tabs.js').SharedToken} Token */
/** @typedef {{ status: number, body: Record<string, unknown> | null }} Answer */
/** @typedef {'nonce' | 'clock' | 'token'} Retry */

/**
 * The `error` of a token endpoint's answer; `network_error` when there was none.
 * @param {Answer} answer
 */
export const errorCode = (answer) =>
  typeof answer.body?.error === 'string'
    ? answer.body.error
    : answer.status === 0
      ? 'network_error'
      : 'unknown'

/**
 * @param {object} o
 * @param {(input: RequestInfo | URL, init?: RequestInit) => Promise<Response>} o.fetch
 * @param {() => number} o.now the client's clock, epoch milliseconds
 * @param {RequestInit} o.withCookie what a token-endpoint request adds for the refresh cookie
 */
export function createWire({ fetch, now, withCookie }) {
  /** @type {string | null} */
  let nonce = null
  let clockOffsetMs = 0

  /** Adopts a new estimate of the gateway's clock if it moved; true when it did. */
  function learnClock(/** @type {number} */ gatewayMs) {
    const offset = gatewayMs - now()
    if (Math.abs(offset - clockOffsetMs) <= CLOCK_TOLERANCE_MS) return false
    clockOffsetMs = offset
    return true
  }

  /**
   * Learns the nonce of any answer and, from the gateway's own answers (not an origin's), its
   * clock; true when the clock estimate moved.
   * @param {Response} res @param {boolean} gatewayAnswer
   */
  function learn(res, gatewayAnswer) {
    const next = res.headers.get('dpop-nonce')
    if (next) nonce = next
    const date = Date.parse(res.headers.get('date') ?? '')
    return gatewayAnswer && Number.isFinite(date) && learnClock(date + HALF_SECOND_MS)
  }

  /** @param {ProofKey} k @param {string} method @param {string} url @param {string | null} ath */
  function proof(k, method, url, ath) {
    const nowSeconds = Math.floor((now() + clockOffsetMs) / 1000)
    return createProof(k, { method, url, accessToken: ath, nonce, nowSeconds })
  }

  return {
    /**
     * A proof with `ath` for a request the client makes outside `send` (a WebSocket handshake):
     * the latest nonce and the corrected clock, as every other proof.
     * @param {ProofKey} k @param {string} method @param {string} url @param {string} accessToken
     */
    proofFor: (k, method, url, accessToken) => proof(k, method, url, accessToken),

    /** Learns the gateway's clock from a token it just minted. @param {string} accessToken */
    learnToken(accessToken) {
      const iat = issuedAt(accessToken)
      if (iat !== null) learnClock(iat * 1000 + HALF_SECOND_MS)
    },

    /**
     * POSTs JSON (or nothing) to a token endpoint with a proof by `k`; retries once after a
     * nonce challenge and once after a refused proof that a corrected clock explains.
     * Resolves to status 0 when the gateway could not be reached.
     * @param {string} url @param {Record<string, unknown> | null} body @param {ProofKey} k
     * @returns {Promise<Answer>}
     */
    async tokenRequest(url, body, k) {
      const retried = new Set()
      for (;;) {
        /** @type {Record<string, string>} */
        const headers = { dpop: await proof(k, 'POST', url, null) }
        if (body !== null) headers['content-type'] = 'application/json'
        let res
        try {
          const payload = body === null ? null : JSON.stringify(body)
          res = await fetch(url, { method: 'POST', headers, body: payload, ...withCookie })
        } catch {
          return { status: 0, body: null }
        }
        const clockMoved = learn(res, true)
        const answer = { status: res.status, body: await res.json().catch(() => null) }
        const code = errorCode(answer)
        /** @type {Retry | null} */
        let retry = null
        if (res.status === 400 && code === 'use_dpop_nonce' && res.headers.has('dpop-nonce')) {
          retry = 'nonce'
        }
        if (res.status === 400 && code === 'invalid_dpop_proof' && clockMoved) retry = 'clock'
        if (retry === null || retried.has(retry)) return answer
        retried.add(retry)
      }
    },

    /**
     * POSTs JSON to a gateway endpoint that takes no proof (the start of a passkey login).
     * Resolves to status 0 when the gateway could not be reached.
     * @param {string} url @param {Record<string, unknown>} body @returns {Promise<Answer>}
     */
    async postJson(url, body) {
      let res
      try {
        const headers = { 'content-type': 'application/json' }
        res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) })
      } catch {
        return { status: 0, body: null }
      }
      learn(res, true)
      return { status: res.status, body: await res.json().catch(() => null) }
    },

    /**
     * Sends `request` with `token` and, when `k` is given, a fresh proof for it; says which
     * retry the answer calls for: `nonce` (use_dpop_nonce), `clock` (a refused proof and a
     * corrected clock), `token` (invalid_token: refresh first), or none.
     * @param {Request} request @param {Token | null} token @param {ProofKey | null} k
     * @returns {Promise<{ res: Response, retry: Retry | null }>}
     */
    async send(request, token, k) {
      const headers = new Headers(request.headers)
      if (token !== null) {
        headers.set('authorization', `${token.type} ${token.value}`)
        if (k !== null)
          headers.set('dpop', await proof(k, request.method, request.url, token.value))
      }
      const res = await fetch(new Request(request.clone(), { headers }))
      // A 401 to a request with a token is the gateway's own answer (it never reached an origin).
      const challenged = res.status === 401 && token !== null
      const clockMoved = learn(res, challenged)
      if (!challenged) return { res, retry: null }
      const code = CHALLENGE_ERROR.exec(res.headers.get('www-authenticate') ?? '')?.[1]
      if (code === 'use_dpop_nonce' && res.headers.has('dpop-nonce')) return { res, retry: 'nonce' }
      if (code === 'invalid_dpop_proof' && clockMoved) return { res, retry: 'clock' }
      return { res, retry: code === 'invalid_token' ? 'token' : null }
    },
  }
}
