// GET /demo: a small browser page for the local demo profile — log in, call an API route,
// refresh, log out — served by the gateway itself so it is same-origin with /auth/*. It is also
// the reference browser client: the access token lives only in a script variable, the refresh
// token only in the HttpOnly cookie, and an invalid or expired access token is refreshed once
// and the call retried. Dependency-free; a per-response nonce keeps the CSP free of
// 'unsafe-inline'. `#status` carries a read-only summary for the e2e tests, never a token:
// data-ready, data-busy, data-seq (one more per finished action), data-action, data-http-status,
// data-outcome (ok | error), data-session (active | none), data-refreshes, data-subject (the
// x-auth-subject the origin saw).

/** Bytes of randomness in the CSP nonce (128 bits, CSP3 asks for at least that). */
const NONCE_BYTES = 16
const NONCE_SLOT = '{{nonce}}'

const STYLE = `
body { font: 15px/1.45 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1d2430 }
form, .actions { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin: 1rem 0 }
label { display: grid; font-size: .85rem; gap: .2rem }
input { font: inherit; padding: .3rem .45rem; width: 10rem }
button { font: inherit; padding: .35rem .8rem; cursor: pointer }
button:disabled { cursor: default }
#status { padding: .5rem .7rem; border-left: 4px solid #8a94a6; background: #f3f5f8 }
#status[data-outcome="ok"] { border-color: #2e8b57 }
#status[data-outcome="error"] { border-color: #c0392b }
pre { background: #0f1620; color: #d7e0ea; padding: .8rem; overflow: auto; font-size: .8rem }
pre:empty { display: none }
small { color: #5b6475 }`

// The client. Reading guide: the closure's `accessToken` is its only copy; `refresh()` is
// single-flight so two clicks (or two 401s) cost one rotation; `callApi()` retries exactly once
// after a refresh when the gateway's RFC 6750 challenge says the token is invalid (expired ones
// included), and refreshes up front when the token's own lifetime says it has expired.
const SCRIPT = `
'use strict'
;(() => {
  const EXPIRY_MARGIN_MS = 30000 // refresh this long before expires_in runs out (clock skew, latency)
  const INVALID_TOKEN = /\\berror="invalid_token"/
  const $ = (id) => document.getElementById(id)
  const status = $('status')
  const output = $('output')
  // The access token exists only here: never in storage, a cookie or the DOM.
  let accessToken = null
  let expiresAtMs = 0
  let refreshing = null
  let refreshes = 0
  let seq = 0

  function show(action, httpStatus, outcome, text, details) {
    status.textContent = text
    output.textContent = details === undefined ? '' : JSON.stringify(details, null, 2)
    Object.assign(status.dataset, {
      action,
      httpStatus: String(httpStatus),
      outcome,
      session: accessToken === null ? 'none' : 'active',
      refreshes: String(refreshes),
      seq: String(++seq),
    })
  }

  async function readJson(res) {
    try { return await res.json() } catch { return null }
  }

  function keep(body) {
    accessToken = body.access_token
    expiresAtMs = Date.now() + body.expires_in * 1000
  }

  function forget() {
    accessToken = null
    expiresAtMs = 0
  }

  /** POST /auth/refresh with the HttpOnly cookie; resolves to the HTTP status (0: network). */
  function refresh() {
    refreshing ??= (async () => {
      try {
        const res = await fetch('/auth/refresh', { method: 'POST', credentials: 'same-origin' })
        if (res.ok) {
          keep(await res.json())
          refreshes++
        } else if (res.status === 400 || res.status === 401) {
          forget() // the session is over; a 403/429/5xx is not proof of that
        }
        return res.status
      } catch {
        return 0
      } finally {
        refreshing = null
      }
    })()
    return refreshing
  }

  function get(path) {
    const headers = accessToken === null ? {} : { authorization: 'Bearer ' + accessToken }
    return fetch(path, { headers, credentials: 'same-origin' })
  }

  async function callApi(action, path) {
    if (accessToken === null || Date.now() >= expiresAtMs - EXPIRY_MARGIN_MS) await refresh()
    let res = await get(path)
    const challenge = res.headers.get('www-authenticate') ?? ''
    if (res.status === 401 && INVALID_TOKEN.test(challenge) && (await refresh()) === 200) {
      res = await get(path)
    }
    const body = await readJson(res)
    if (!res.ok) return show(action, res.status, 'error', path + ' answered ' + res.status, body)
    const subject = body?.headers?.['x-auth-subject'] ?? ''
    status.dataset.subject = subject
    show(action, res.status, 'ok', path + ' answered ' + res.status + ' for ' + subject, body)
  }

  async function login(form) {
    const data = new FormData(form)
    const res = await fetch('/auth/login', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        tenant: data.get('tenant'),
        username: data.get('username'),
        password: data.get('password'),
        client: 'web',
      }),
    })
    form.elements.password.value = ''
    const body = await readJson(res)
    if (!res.ok) return show('login', res.status, 'error', 'Login failed (' + res.status + ')', body)
    keep(body)
    delete status.dataset.subject
    show('login', res.status, 'ok', 'Logged in as ' + data.get('username'), { scope: body.scope, expires_in: body.expires_in })
  }

  function postLogout(withToken) {
    const headers = withToken ? { authorization: 'Bearer ' + accessToken } : {}
    return fetch('/auth/logout', { method: 'POST', headers, credentials: 'same-origin' })
  }

  /** Ends the session by its access token or, if that is refused (revoked), by the cookie. */
  async function logout() {
    let res = await postLogout(accessToken !== null)
    if (res.status === 401 && accessToken !== null) res = await postLogout(false)
    if (res.ok) forget()
    delete status.dataset.subject
    show('logout', res.status, res.ok ? 'ok' : 'error', res.ok ? 'Logged out' : 'Logout failed (' + res.status + ')')
  }

  async function refreshClicked() {
    const code = await refresh()
    show('refresh', code, code === 200 ? 'ok' : 'error', code === 200 ? 'Refreshed' : 'Refresh failed (' + code + ')')
  }

  /** Runs one action at a time; the buttons are disabled while it runs. */
  function guarded(run) {
    return async (event) => {
      event.preventDefault()
      const controls = document.querySelectorAll('button')
      controls.forEach((b) => { b.disabled = true })
      status.dataset.busy = 'true'
      try {
        await run(event)
      } catch {
        show(status.dataset.action ?? 'unknown', 0, 'error', 'Network error')
      } finally {
        controls.forEach((b) => { b.disabled = false })
        status.dataset.busy = 'false'
      }
    }
  }

  $('login').addEventListener('submit', guarded((e) => login(e.target)))
  $('call-api').addEventListener('click', guarded(() => callApi('api', '/api/echo/hello')))
  $('call-critical').addEventListener('click', guarded(() => callApi('critical', '/api/secure/hello')))
  $('refresh').addEventListener('click', guarded(refreshClicked))
  $('logout').addEventListener('click', guarded(logout))
  status.dataset.ready = 'true'
})()
`

// form-action 'none': should the script ever fail to load, the browser refuses to submit the
// form natively, so the password can never end up in a URL.
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gatehouse demo</title>
<style nonce="${NONCE_SLOT}">${STYLE}</style>
</head>
<body>
<main>
<h1>Gatehouse demo</h1>
<form id="login" method="post">
<label>Tenant <input name="tenant" value="demo" required autocomplete="organization"></label>
<label>Username <input name="username" value="alice" required autocomplete="username"></label>
<label>Password <input name="password" type="password" required autocomplete="current-password"></label>
<button type="submit" id="login-button">Log in</button>
</form>
<small>Demo users (local profile only): alice / alice-demo-password, admin / admin-demo-password.</small>
<div class="actions">
<button type="button" id="call-api">Call API</button>
<button type="button" id="call-critical">Call critical API</button>
<button type="button" id="refresh">Refresh</button>
<button type="button" id="logout">Log out</button>
</div>
<p id="status" role="status" aria-live="polite" data-session="none" data-seq="0">Logged out.</p>
<pre id="output"></pre>
</main>
<script nonce="${NONCE_SLOT}">${SCRIPT}</script>
</body>
</html>`

const PAGE_PARTS = PAGE.split(NONCE_SLOT)

/** Nothing but this page's own nonce-bearing script and style, and fetches to its own origin. */
function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "form-action 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
  ].join('; ')
}

function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(NONCE_BYTES))
  return btoa(String.fromCharCode(...bytes))
}

/** The demo page with a fresh CSP nonce; never cached, never framed. */
export function demoPageResponse(): Response {
  const nonce = newNonce()
  return new Response(PAGE_PARTS.join(nonce), {
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': contentSecurityPolicy(nonce),
      'cross-origin-opener-policy': 'same-origin',
      'referrer-policy': 'no-referrer',
      'x-content-type-options': 'nosniff',
    },
  })
}
