// gatehouse/client: a client for a Gatehouse gateway whose tokens are sender-constrained with
// DPoP (RFC 9449). It logs in with a proof, keeps the access token in memory only, signs a fresh
// proof for every request to the gateway, refreshes once when the gateway says the token is
// invalid (and before it expires), and answers the gateway's nonce challenges (wire.js); it
// opens WebSockets with the token (and a proof) offered as subprotocols (socket.js). Browser
// clients keep the refresh token in the gateway's HttpOnly cookie and the non-extractable key in
// IndexedDB, so a reload keeps the session; their tabs share one rotation (tabs.js). Mobile and
// Node clients keep the refresh token in memory (or a storage they pass) and send it in the body.
// Second factors (mfa.js, webauthn.js): a login that needs one rejects with MfaRequiredError and
// is finished by completeMfa (or replaced by a passkey-only login); a route that wants a fresher
// or stronger authentication rejects `request` with StepUpRequiredError, answered by stepUp.
// Dependency-free: WebCrypto, fetch, and where present IndexedDB, Web Locks, BroadcastChannel,
// WebAuthn.

import { generateKeyPair, proofKey, unverifiedClaims } from './dpop.js'
import { chooseKeyStore, isShared, memoryTokenStorage } from './key-store.js'
import {
  MfaRequiredError,
  StepUpRequiredError,
  callJson,
  createFactorApi,
  factorBody,
  stepUpChallenge,
  wantsPasskey,
} from './mfa.js'
import { offeredProtocols, socketTarget } from './socket.js'
import { createTabs } from './tabs.js'
import { runCeremony } from './webauthn.js'
import { GatehouseError, createWire, errorCode } from './wire.js'

export { GatehouseError, MfaRequiredError, StepUpRequiredError, stepUpChallenge }

/** @param {unknown} value @returns {value is Record<string, any>} */
const isObject = (value) => typeof value === 'object' && value !== null

/** Refresh this long before `expires_in` runs out: clock drift and the request's own latency. */
const DEFAULT_REFRESH_MARGIN_SECONDS = 30
/** How long a tab waits for another tab to hand it the current token before rotating itself. */
const PEER_WAIT_MS = 150

/** @typedef {import('./index.js').GatehouseClientOptions} Options */
/** @typedef {import('./index.js').GatehouseClient} Client */
/** @typedef {import('./index.js').Session} Session */
/** @typedef {import('./index.js').RefreshOutcome} RefreshOutcome */
/** @typedef {import('./index.js').ChangeCause} ChangeCause */
/** @typedef {import('./index.js').FactorAnswer} FactorAnswer */
/** @typedef {import('./tabs.js').SharedToken} Token */
/** @typedef {import('./dpop.js').ProofKey} ProofKey */

/**
 * Creates a client for the gateway at `options.baseUrl` (see index.d.ts for the contract).
 * @param {Options} options
 * @returns {Client}
 */
export function createGatehouseClient(options) {
  const base = new URL(options.baseUrl, globalThis.location?.href)
  const root = base.href.endsWith('/') ? base.href : `${base.href}/`
  const kind = options.client ?? 'web'
  if (kind !== 'web' && kind !== 'mobile') throw new TypeError('gatehouse: client is web or mobile')
  if (kind === 'mobile' && !options.deviceId)
    throw new TypeError('gatehouse: mobile needs deviceId')
  const fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
  const now = options.now ?? (() => Date.now())
  const marginMs = (options.refreshMarginSeconds ?? DEFAULT_REFRESH_MARGIN_SECONDS) * 1000
  const store = chooseKeyStore(options.keyStore, kind, base.origin)
  // Only the IndexedDB store is shared by tabs: with any other, a tab cannot use another's token.
  const shared = kind === 'web' && isShared(store) ? store : null
  const tabs = shared === null ? null : createTabs(base.origin, onTabMessage)
  const refreshTokens = kind === 'mobile' ? (options.storage ?? memoryTokenStorage()) : null
  // Web: the refresh cookie travels to the gateway's /auth, cross-origin too (CORS allowlist).
  // Mobile: no cookies are involved (and some runtimes, workerd among them, refuse the field).
  /** @type {RequestInit} */
  const withCookie = kind === 'web' ? { credentials: 'include' } : {}
  const wire = createWire({ fetch: fetchImpl, now, withCookie })
  const endpoint = (/** @type {string} */ path) => new URL(path, root).href
  const webauthn = () => options.credentials ?? globalThis.navigator?.credentials

  /** @type {Token | null} the only copy of the access token */
  let token = null
  /** The session marker's seq that `token` belongs to (shared browser clients). */
  let tokenSeq = -1
  /** @type {Promise<ProofKey | null> | null} */
  let key = null
  /** @type {Promise<RefreshOutcome> | null} */
  let renewal = null
  /** @type {Promise<unknown>} */
  let queue = Promise.resolve()
  /** @type {Set<(session: Session | null, cause: ChangeCause) => void>} */
  const listeners = new Set()
  /**
   * A password login waiting for its second factor: the mfa_token and the key its proofs were
   * made with (the gateway binds the session to that key). Memory only.
   * @type {{ mfaToken: string, pair: CryptoKeyPair, k: ProofKey,
   *   passkeyOptions: Record<string, unknown> | null } | null}
   */
  let pendingMfa = null

  const fresh = () => token !== null && now() < token.expiresAt - marginMs
  /** @returns {Session | null} */
  function session() {
    if (token === null) return null
    const claims = unverifiedClaims(token.value)
    const amr = Array.isArray(claims?.amr) ? claims.amr.filter((m) => typeof m === 'string') : []
    return {
      tokenType: token.type,
      scope: token.scope,
      expiresAt: token.expiresAt,
      acr: typeof claims?.acr === 'string' ? claims.acr : null,
      amr,
      authTime: typeof claims?.auth_time === 'number' ? claims.auth_time : null,
    }
  }
  /** @param {ChangeCause} cause */
  const emit = (cause) => {
    for (const listener of listeners) {
      try {
        listener(session(), cause)
      } catch {
        // a listener's failure is its own
      }
    }
  }

  /** Runs `run` after every earlier session change of this client and, across tabs, under the lock. */
  function exclusive(/** @type {() => Promise<any>} */ run) {
    const next = queue.then(() => (tabs === null ? run() : tabs.exclusive(run)))
    queue = next.catch(() => undefined)
    return next
  }

  function currentKey() {
    if (key === null) {
      const loading = store.load().then((pair) => (pair === null ? null : proofKey(pair)))
      key = loading
      loading.catch(() => {
        if (key === loading) key = null
      })
    }
    return key
  }

  /** Publishes a new session state to the other tabs (and the marker they read under the lock). */
  async function publish(/** @type {boolean} */ active) {
    if (shared === null) return
    const marker = await shared.bumpMarker(active)
    tokenSeq = marker.seq
    tabs?.post(
      active && token !== null
        ? { type: 'token', seq: marker.seq, token }
        : { type: 'ended', seq: marker.seq },
    )
  }

  /**
   * Keeps a token endpoint's answer: the access token in memory, a mobile refresh token in its
   * storage. @param {Record<string, unknown> | null} body @param {ProofKey | null} k the key a
   * DPoP-bound token is bound to @param {ChangeCause} cause
   */
  async function adopt(body, k, cause) {
    const value = body?.access_token
    const expiresIn = body?.expires_in
    if (typeof value !== 'string' || typeof expiresIn !== 'number') {
      throw new GatehouseError(200, 'invalid_token_response')
    }
    wire.learnToken(value)
    const type = typeof body?.token_type === 'string' ? body.token_type : 'Bearer'
    const scope = typeof body?.scope === 'string' ? body.scope : ''
    token = {
      value,
      type,
      scope,
      expiresAt: now() + expiresIn * 1000,
      jkt: type === 'DPoP' && k !== null ? k.jkt : null,
    }
    if (refreshTokens !== null && typeof body?.refresh_token === 'string') {
      await refreshTokens.set(body.refresh_token)
    }
    await publish(true)
    emit(cause)
  }

  /** The session is over (refused refresh, logout): forget the token, the refresh token, the key. */
  async function forget(/** @type {ChangeCause} */ cause) {
    token = null
    await refreshTokens?.delete()
    await store.clear()
    key = null
    await publish(false)
    emit(cause)
  }

  /** One rotation at the token endpoint. @returns {Promise<RefreshOutcome>} */
  async function rotate() {
    const k = await currentKey()
    /** @type {Record<string, unknown> | null} */
    let body = null
    if (refreshTokens !== null) {
      const refreshToken = await refreshTokens.get()
      if (!refreshToken) return { ok: false, status: null, rotated: false }
      body = { refresh_token: refreshToken, device_id: options.deviceId }
    }
    // A bound session refreshes only with its key: without one there is nothing to send.
    if (k === null) return { ok: false, status: null, rotated: false }
    const answer = await wire.tokenRequest(endpoint('auth/refresh'), body, k)
    if (answer.status === 200) {
      await adopt(answer.body, k, 'refresh')
      return { ok: true, status: 200, rotated: true }
    }
    // invalid_grant: the session ended (revoked, expired, reused). Anything else (a refused
    // proof, 403, 429, 5xx, the network) does not prove that, and consumed nothing.
    if (errorCode(answer) === 'invalid_grant') await forget('ended')
    return { ok: false, status: answer.status, rotated: false }
  }

  /**
   * Gets a token newer than `stale`: from another tab if one already rotated, else by rotating.
   * Single-flight in this client; under the refresh lock across tabs.
   * @param {string | null} stale @returns {Promise<RefreshOutcome>}
   */
  function renew(stale) {
    renewal ??= exclusive(async () => {
      const reused = { ok: true, status: null, rotated: false }
      // Checked again after every await: another tab's token may arrive at any of them.
      const renewed = () => token !== null && token.value !== stale && fresh()
      if (renewed()) return reused
      if (shared !== null && tabs !== null) {
        const marker = await shared.readMarker()
        if (!marker.active) {
          // Another tab ended the session (its message may not have arrived yet).
          if (token !== null) {
            token = null
            emit('ended')
          }
          tokenSeq = Math.max(tokenSeq, marker.seq)
          key = null
          return { ok: false, status: null, rotated: false }
        }
        const latest = () => renewed() && tokenSeq >= marker.seq
        if (marker.seq > tokenSeq && !latest()) {
          // Another tab logged in or rotated since our token: it may hold the token (and have
          // stored a new key). Ask, wait briefly, and rotate only if nobody answers.
          key = null
          tabs.post({ type: 'want' })
          await tabs.settle(latest, PEER_WAIT_MS)
        }
        if (latest()) return reused
      }
      return rotate()
    }).finally(() => {
      renewal = null
    })
    return /** @type {Promise<RefreshOutcome>} */ (renewal)
  }

  /** Applies another tab's message (tabs.js). @param {import('./tabs.js').TabMessage} message */
  async function onTabMessage(message) {
    if (message.type === 'want') {
      if (token !== null && fresh()) tabs?.post({ type: 'token', seq: tokenSeq, token })
      return
    }
    if (message.seq <= tokenSeq) return
    if (message.type === 'ended') {
      tokenSeq = message.seq
      key = null
      if (token !== null) {
        token = null
        emit('ended')
      }
      return
    }
    key = null // the other tab may have logged in with a new key
    const k = await currentKey()
    // A token bound to a key this tab does not hold is of no use to it.
    if (message.token.jkt !== null && k?.jkt !== message.token.jkt) return
    if (message.seq <= tokenSeq) return
    token = { ...message.token }
    tokenSeq = message.seq
    emit('tab')
  }

  /**
   * Sends `request` with the token and a fresh proof; retries once after a nonce challenge,
   * once after a clock correction, and (if `mayRenew`) once after a refresh when the gateway
   * says the token is invalid.
   * @param {Request} request @param {boolean} mayRenew @returns {Promise<Response>}
   */
  async function authorized(request, mayRenew) {
    const retried = new Set()
    let current = token
    for (;;) {
      const k = current?.type === 'DPoP' ? await currentKey() : null
      const { res, retry } = await wire.send(request, current, k)
      if (retry === null || retried.has(retry) || current === null) return res
      if (retry === 'token') {
        if (!mayRenew) return res
        await renew(current.value)
        if (token === null || token.value === current.value) return res
        current = token
      }
      retried.add(retry)
      await res.body?.cancel().catch(() => undefined)
    }
  }

  /** @type {Client['fetch']} */
  async function gatewayFetch(input, init) {
    const target = typeof input === 'string' ? new URL(input, root) : input
    const request = new Request(target, init)
    // The token and proofs go to the gateway only, never to another origin.
    if (new URL(request.url).origin !== base.origin) return fetchImpl(request)
    if (!fresh()) await renew(token?.value ?? null)
    return authorized(request, true)
  }

  /** @type {Client['websocket']} */
  async function websocket(url, protocols = []) {
    const Socket = options.WebSocket ?? globalThis.WebSocket
    if (typeof Socket !== 'function') {
      throw new TypeError('gatehouse: this runtime has no WebSocket (pass options.WebSocket)')
    }
    const { socket, http } = socketTarget(url, root)
    // Like fetch: credentials go to the gateway only, never to another origin.
    if (http.origin !== base.origin)
      return new Socket(socket.href, offeredProtocols(null, null, protocols))
    if (!fresh()) await renew(token?.value ?? null)
    const current = token
    const k = current?.type === 'DPoP' ? await currentKey() : null
    // RFC 9449 §4.2: htu without query and fragment; the handshake is a GET.
    const proof =
      current === null || k === null
        ? null
        : await wire.proofFor(k, 'GET', http.href, current.value)
    return new Socket(socket.href, offeredProtocols(current?.value ?? null, proof, protocols))
  }

  /** @type {Client['login']} */
  function login(credentials) {
    return exclusive(async () => {
      const tenant = credentials.tenant ?? options.tenant
      if (!tenant) throw new TypeError('gatehouse: login needs a tenant')
      // A new key per session: sessions of one browser cannot be linked by their key, and a
      // failed login leaves the current session's key alone (it is stored only on success).
      const pair = await generateKeyPair()
      const k = await proofKey(pair)
      /** @type {Record<string, unknown>} */
      const body = {
        tenant,
        username: credentials.username,
        password: credentials.password,
        client: kind,
      }
      if (kind === 'mobile') body.device_id = options.deviceId
      pendingMfa = null
      const answer = await wire.tokenRequest(endpoint('auth/login'), body, k)
      const mfaToken = answer.body?.mfa_token
      if (answer.status === 403 && typeof mfaToken === 'string') {
        const passkeyOptions = answer.body?.passkey_options
        pendingMfa = {
          mfaToken,
          pair,
          k,
          passkeyOptions: isObject(passkeyOptions) ? passkeyOptions : null,
        }
        const factors = answer.body?.factors
        const expiresIn = answer.body?.expires_in
        throw new MfaRequiredError(
          Array.isArray(factors) ? factors.filter((f) => typeof f === 'string') : [],
          now() + (typeof expiresIn === 'number' ? expiresIn : 0) * 1000,
        )
      }
      if (answer.status !== 200) throw new GatehouseError(answer.status, errorCode(answer))
      return begin(pair, k, answer.body)
    })
  }

  /**
   * Starts the session a login endpoint answered with: keeps its key and its tokens.
   * @param {CryptoKeyPair} pair @param {ProofKey} k @param {Record<string, unknown> | null} body
   */
  async function begin(pair, k, body) {
    await store.save(pair)
    key = Promise.resolve(k)
    await adopt(body, k, 'login')
    return /** @type {Session} */ (session())
  }

  /** @type {Client['completeMfa']} */
  async function completeMfa(answer) {
    const pending = pendingMfa
    if (pending === null) throw new TypeError('gatehouse: no login is waiting for a second factor')
    let passkey = null
    if (wantsPasskey(answer)) {
      if (pending.passkeyOptions === null) {
        throw new TypeError('gatehouse: this login offers no passkey')
      }
      // The ceremony waits for the user: outside the cross-tab lock.
      passkey = await runCeremony(webauthn(), 'get', pending.passkeyOptions)
    }
    const body = { mfa_token: pending.mfaToken, ...factorBody(answer, passkey) }
    return exclusive(async () => {
      const result = await wire.tokenRequest(endpoint('auth/login/mfa'), body, pending.k)
      // A wrong answer leaves the pending login for another try (the gateway allows a few).
      if (result.status !== 200) throw new GatehouseError(result.status, errorCode(result))
      if (pendingMfa === pending) pendingMfa = null
      return begin(pending.pair, pending.k, result.body)
    })
  }

  /** @type {Client['loginWithPasskey']} */
  async function loginWithPasskey(input = {}) {
    const tenant = input.tenant ?? options.tenant
    if (!tenant) throw new TypeError('gatehouse: login needs a tenant')
    const start = await wire.postJson(endpoint('auth/passkeys/login/options'), { tenant })
    const challengeToken = start.body?.challenge_token
    const publicKey = start.body?.options
    if (start.status !== 200 || typeof challengeToken !== 'string' || !isObject(publicKey)) {
      throw new GatehouseError(start.status, errorCode(start))
    }
    const credential = await runCeremony(webauthn(), 'get', publicKey)
    return exclusive(async () => {
      pendingMfa = null
      const pair = await generateKeyPair()
      const k = await proofKey(pair)
      /** @type {Record<string, unknown>} */
      const body = { challenge_token: challengeToken, tenant, credential, client: kind }
      if (kind === 'mobile') body.device_id = options.deviceId
      const answer = await wire.tokenRequest(endpoint('auth/passkeys/login'), body, k)
      if (answer.status !== 200) throw new GatehouseError(answer.status, errorCode(answer))
      return begin(pair, k, answer.body)
    })
  }

  /** @type {Client['request']} */
  async function request(input, init) {
    const res = await gatewayFetch(input, init)
    if (res.status !== 401) return res
    // The challenge is in WWW-Authenticate; the body says it too, for a reader CORS hides it from.
    const body = res.headers.has('www-authenticate')
      ? undefined
      : await res
          .clone()
          .json()
          .catch(() => null)
    const challenge = stepUpChallenge(res, body)
    if (challenge === null) return res
    await res.body?.cancel().catch(() => undefined)
    throw challenge
  }

  /** @type {Client['stepUp']} */
  async function stepUp(answer) {
    let body
    if (wantsPasskey(answer)) {
      const start = await callJson(request, 'POST', 'auth/step-up/options')
      if (!isObject(start?.passkey_options)) {
        throw new TypeError('gatehouse: this session has no passkey to step up with')
      }
      const passkey = await runCeremony(webauthn(), 'get', start.passkey_options)
      body = { challenge_token: start.challenge_token, ...factorBody(answer, passkey) }
    } else body = factorBody(answer, null)
    const result = await callJson(request, 'POST', 'auth/step-up', body)
    const k = token?.type === 'DPoP' ? await currentKey() : null
    // A new access token for the same session (no new refresh token): kept like a rotation's.
    await exclusive(() => adopt(result, k, 'step-up'))
    return /** @type {Session} */ (session())
  }

  /** POST /auth/logout by the access token (with its proof), else by the refresh token. */
  function logout() {
    return exclusive(async () => {
      const url = endpoint('auth/logout')
      /** @type {Response | null} */
      let res = null
      if (token !== null)
        res = await authorized(new Request(url, { method: 'POST', ...withCookie }), false)
      if (res === null || res.status === 401) {
        await res?.body?.cancel().catch(() => undefined)
        const refreshToken = refreshTokens === null ? null : await refreshTokens.get()
        if (refreshTokens === null) res = await fetchImpl(url, { method: 'POST', ...withCookie })
        else if (refreshToken) {
          const body = JSON.stringify({ refresh_token: refreshToken, device_id: options.deviceId })
          const headers = { 'content-type': 'application/json' }
          res = await fetchImpl(url, { method: 'POST', headers, body })
        } else res = null
      }
      // 401 by the refresh token: there was no session left to end.
      if (res !== null && res.status !== 204 && res.status !== 401) {
        const answer = { status: res.status, body: await res.json().catch(() => null) }
        throw new GatehouseError(res.status, errorCode(answer))
      }
      pendingMfa = null
      await forget('logout')
    })
  }

  return {
    login,
    completeMfa,
    loginWithPasskey,
    stepUp,
    ...createFactorApi(request, webauthn),
    fetch: gatewayFetch,
    request,
    websocket,
    logout,
    restore: async () => fresh() || (await renew(token?.value ?? null)).ok,
    refresh: () => renew(token?.value ?? null),
    accessToken: () => token?.value ?? null,
    session,
    keyThumbprint: async () => (await currentKey())?.jkt ?? null,
    onChange: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    close: () => tabs?.close(),
  }
}
