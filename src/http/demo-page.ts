// GET /demo: a small browser page for the local demo profile — log in, call an API route (one
// that requires DPoP too), refresh, log out — served by the gateway itself so it is same-origin
// with /auth/*. Its script drives gatehouse/client (client/), served from here as well
// (GET /demo/client/<file>), so the page is the reference browser client: DPoP-bound tokens, the
// access token only in memory, the refresh token only in the HttpOnly cookie, the key in
// IndexedDB and not extractable, a reload that keeps the session. A per-response nonce keeps the
// CSP free of 'unsafe-inline' (the library's modules load under the page script's nonce).
// `#status` carries a read-only summary for the e2e tests, never a token: data-ready, data-busy,
// data-seq (one more per finished action), data-action, data-http-status, data-outcome
// (ok | error), data-session (active | none), data-token-type (DPoP while a session is active),
// data-refreshes (rotations this page made), data-subject (the x-auth-subject the origin saw).

import { AuthError } from '../lib/errors'
import { DEMO_CLIENT_FILES } from './demo-client-files'

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

// The page's script: a module that drives gatehouse/client (client/, served at /demo/client/).
// The library holds the access token (memory only) and the DPoP key (IndexedDB, not
// extractable); the page only renders what it reports.
const SCRIPT = `
import { GatehouseError, createGatehouseClient } from '/demo/client/index.js'

const $ = (id) => document.getElementById(id)
const status = $('status')
const output = $('output')
const client = createGatehouseClient({ baseUrl: location.origin })
let refreshes = 0
let seq = 0

function summarize() {
  const session = client.session()
  status.dataset.session = session === null ? 'none' : 'active'
  if (session === null) delete status.dataset.tokenType
  else status.dataset.tokenType = session.tokenType
  status.dataset.refreshes = String(refreshes)
}

client.onChange((_session, cause) => {
  if (cause === 'refresh') refreshes++
  summarize()
})

function show(action, httpStatus, outcome, text, details) {
  status.textContent = text
  output.textContent = details === undefined ? '' : JSON.stringify(details, null, 2)
  summarize()
  Object.assign(status.dataset, { action, httpStatus: String(httpStatus), outcome, seq: String(++seq) })
}

async function readJson(res) {
  try { return await res.json() } catch { return null }
}

async function callApi(action, path) {
  const res = await client.fetch(path)
  const body = await readJson(res)
  if (!res.ok) return show(action, res.status, 'error', path + ' answered ' + res.status, body)
  const subject = body?.headers?.['x-auth-subject'] ?? ''
  status.dataset.subject = subject
  show(action, res.status, 'ok', path + ' answered ' + res.status + ' for ' + subject, body)
}

/** Runs a login or logout; a refusal by the gateway is shown, anything else is a failure. */
async function attempt(action, run) {
  try {
    await run()
  } catch (err) {
    if (!(err instanceof GatehouseError)) throw err
    show(action, err.status, 'error', action + ' failed (' + err.status + ')', { error: err.code })
  }
}

function login(form) {
  const data = new FormData(form)
  form.elements.password.value = ''
  return attempt('login', async () => {
    const session = await client.login({
      tenant: data.get('tenant'),
      username: data.get('username'),
      password: data.get('password'),
    })
    delete status.dataset.subject
    show('login', 200, 'ok', 'Logged in as ' + data.get('username'), {
      token_type: session.tokenType,
      scope: session.scope,
      expires_at: new Date(session.expiresAt).toISOString(),
    })
  })
}

function logout() {
  return attempt('logout', async () => {
    await client.logout()
    delete status.dataset.subject
    show('logout', 204, 'ok', 'Logged out')
  })
}

async function refreshClicked() {
  const r = await client.refresh()
  const text = !r.ok ? 'Refresh failed' : r.rotated ? 'Refreshed' : 'Took the token another tab refreshed'
  show('refresh', r.status ?? '', r.ok ? 'ok' : 'error', text)
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
$('call-bound').addEventListener('click', guarded(() => callApi('bound', '/api/bound/hello')))
$('call-critical').addEventListener('click', guarded(() => callApi('critical', '/api/secure/hello')))
$('refresh').addEventListener('click', guarded(refreshClicked))
$('logout').addEventListener('click', guarded(logout))
// A reload keeps the session: the refresh cookie and the stored key get a new access token.
try {
  if (await client.restore()) show('restore', '', 'ok', 'Session restored')
} catch {
  show('restore', 0, 'error', 'Could not restore the session')
}
status.dataset.ready = 'true'
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
<small>Demo users (local profile only): alice / alice-demo-password, admin / admin-demo-password.
Tokens are DPoP-bound to a key this browser keeps in IndexedDB and cannot export.</small>
<div class="actions">
<button type="button" id="call-api">Call API</button>
<button type="button" id="call-bound">Call /api/bound</button>
<button type="button" id="call-critical">Call critical API</button>
<button type="button" id="refresh">Refresh</button>
<button type="button" id="logout">Log out</button>
</div>
<p id="status" role="status" aria-live="polite" data-session="none" data-seq="0">Logged out.</p>
<pre id="output"></pre>
</main>
<script type="module" nonce="${NONCE_SLOT}">${SCRIPT}</script>
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

/** One module of gatehouse/client for the demo page; 404 for any other name. */
export function demoClientResponse(file: string): Response {
  if (!Object.hasOwn(DEMO_CLIENT_FILES, file)) throw new AuthError('route_not_found')
  return new Response(DEMO_CLIENT_FILES[file], {
    headers: {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'no-cache',
      'cross-origin-resource-policy': 'same-origin',
      'x-content-type-options': 'nosniff',
    },
  })
}
