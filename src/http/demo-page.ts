// GET /demo: a small browser page for the local demo profile — log in (password, second factor,
// or a passkey alone), call an API route (one that requires DPoP, one that requires a fresh MFA),
// refresh, manage second factors, log out — served by the gateway itself so it is same-origin
// with /auth/*. Its script drives gatehouse/client (client/), served from here as well
// (GET /demo/client/<file>), so the page is the reference browser client: DPoP-bound tokens, the
// access token only in memory, the refresh token only in the HttpOnly cookie, the key in
// IndexedDB and not extractable, a reload that keeps the session (a silent refresh on load). A
// per-response nonce keeps the CSP free of 'unsafe-inline' (the library's modules load under the
// page script's nonce). The page's one script lives here rather than in a module of its own:
// it is the demo, not part of the library the package exports.
// `#status` carries a read-only summary for the e2e tests, never a token, code or secret:
// data-ready, data-busy, data-seq (one more per finished action), data-action, data-http-status,
// data-outcome (ok | error | pending: waiting for a second factor), data-session (active |
// none), data-token-type (DPoP while a session is active), data-acr and data-amr (what the
// access token says), data-refreshes (rotations this page made), data-subject (the
// x-auth-subject the origin saw), data-mfa (required while a password login waits for its
// second factor, else none) with data-mfa-factors, data-step-up (required while a step-up prompt
// is open, passed after one succeeded, else none), data-passkeys (available | unavailable: an IP
// origin or no WebAuthn), data-factors (how many the last listing showed), data-totp (pending |
// active) and data-recovery-codes (how many are on screen). The TOTP secret and URI (during
// enrolment) and recovery codes (once) are shown to the user in their own elements, never here.

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
section { border-top: 1px solid #d5dae2; margin-top: 1.2rem }
h2 { font-size: 1.05rem; margin: .8rem 0 .2rem }
code { word-break: break-all; background: #f3f5f8; padding: 0 .2rem }
#status { padding: .5rem .7rem; border-left: 4px solid #8a94a6; background: #f3f5f8 }
#status[data-outcome="ok"] { border-color: #2e8b57 }
#status[data-outcome="error"] { border-color: #c0392b }
#status[data-outcome="pending"] { border-color: #d4a017 }
#origin-note { padding: .5rem .7rem; background: #fff6dc }
#factor-prompt { background: #fff6dc; padding: 0 .7rem .2rem }
#factor-list li { margin: .2rem 0 }
pre { background: #0f1620; color: #d7e0ea; padding: .8rem; overflow: auto; font-size: .8rem }
pre:empty { display: none }
small { color: #5b6475 }`

// The page's script: a module that drives gatehouse/client (client/, served at /demo/client/).
// The library holds the access token (memory only), the DPoP key (IndexedDB, not extractable)
// and a pending login's mfa_token; the page only renders what it reports. (A TypeScript
// template literal: the script uses no template literals of its own.)
const SCRIPT = `
import {
  GatehouseError,
  MfaRequiredError,
  StepUpRequiredError,
  createGatehouseClient,
} from '/demo/client/index.js'

const $ = (id) => document.getElementById(id)
const status = $('status')
const output = $('output')
const client = createGatehouseClient({ baseUrl: location.origin })
let refreshes = 0
let seq = 0
/** The open second-factor prompt: purpose mfa (a pending login) or step-up (then retry). */
let prompt = null
/** The TOTP factor being enrolled (its id only; the secret is on screen until confirmed). */
let pendingTotp = null

function summarize() {
  const session = client.session()
  status.dataset.session = session === null ? 'none' : 'active'
  if (session === null) {
    for (const key of ['tokenType', 'acr', 'amr']) delete status.dataset[key]
  } else {
    status.dataset.tokenType = session.tokenType
    status.dataset.acr = session.acr ?? ''
    status.dataset.amr = session.amr.join(' ')
  }
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

function describe(session) {
  return {
    token_type: session.tokenType,
    scope: session.scope,
    acr: session.acr,
    amr: session.amr,
    expires_at: new Date(session.expiresAt).toISOString(),
  }
}

async function readJson(res) {
  try { return await res.json() } catch { return null }
}

function openPrompt(purpose, text, options) {
  prompt = { purpose, retry: options.retry }
  $('prompt-title').textContent = purpose === 'mfa' ? 'Second factor' : 'Confirm it is you'
  $('prompt-text').textContent = text
  $('prompt-passkey').hidden = options.passkey === false
  $('factor-prompt').hidden = false
  $('prompt-form').elements.code.value = ''
  $('prompt-form').elements.code.focus()
}

function closePrompt() {
  prompt = null
  $('factor-prompt').hidden = true
  $('prompt-form').elements.code.value = ''
}

/**
 * Runs one action; a refusal by the gateway is shown (a login that needs a second factor and a
 * route that wants a step-up open the prompt), a declined passkey too; anything else is a failure.
 */
async function attempt(action, run) {
  try {
    await run()
  } catch (err) {
    if (err instanceof MfaRequiredError) {
      status.dataset.mfa = 'required'
      status.dataset.mfaFactors = err.factors.join(' ')
      openPrompt('mfa', 'Enter the code from your authenticator app, a recovery code, or use a passkey.', {
        passkey: err.factors.includes('passkey'),
      })
      return show(action, 403, 'pending', 'A second factor is required', { factors: err.factors })
    }
    if (err instanceof StepUpRequiredError) {
      status.dataset.stepUp = 'required'
      openPrompt('step-up', 'This needs a recent second factor: enter a code or use a passkey.', {
        retry: () => attempt(action, run),
      })
      return show(action, 401, 'pending', 'Step-up required', {
        acr_values: err.acrValues,
        max_age: err.maxAge,
      })
    }
    if (err instanceof GatehouseError) {
      return show(action, err.status, 'error', action + ' failed (' + err.status + ')', { error: err.code })
    }
    if (err instanceof DOMException) {
      const text = location.hostname === 'localhost' || status.dataset.passkeys === 'available'
        ? 'The passkey was not used (' + err.name + ')'
        : 'Passkeys need this page at localhost (' + err.name + ')'
      return show(action, 0, 'error', text, { error: err.name })
    }
    if (err instanceof TypeError && String(err.message).startsWith('gatehouse:')) {
      return show(action, 0, 'error', err.message)
    }
    throw err
  }
}

function callApi(action, path) {
  return attempt(action, async () => {
    const res = await client.request(path)
    const body = await readJson(res)
    if (!res.ok) return show(action, res.status, 'error', path + ' answered ' + res.status, body)
    const subject = body?.headers?.['x-auth-subject'] ?? ''
    status.dataset.subject = subject
    show(action, res.status, 'ok', path + ' answered ' + res.status + ' for ' + subject, body)
  })
}

function startSession(action, session, text) {
  delete status.dataset.subject
  status.dataset.mfa = 'none'
  delete status.dataset.mfaFactors
  closePrompt()
  show(action, 200, 'ok', text, describe(session))
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
    startSession('login', session, 'Logged in as ' + data.get('username'))
  })
}

function loginWithPasskey() {
  const tenant = $('login').elements.tenant.value
  return attempt('passkey-login', async () => {
    const session = await client.loginWithPasskey({ tenant })
    startSession('passkey-login', session, 'Logged in with a passkey')
  })
}

/** Answers the open prompt: finishes the pending login, or steps up and retries the action. */
function answerPrompt(answer) {
  const current = prompt
  if (current === null) return show('prompt', 0, 'error', 'Nothing is waiting for a second factor')
  $('prompt-form').elements.code.value = ''
  if (current.purpose === 'mfa') {
    return attempt('mfa', async () => {
      startSession('mfa', await client.completeMfa(answer), 'Logged in with a second factor')
    })
  }
  return attempt('step-up', async () => {
    await client.stepUp(answer)
    status.dataset.stepUp = 'passed'
    closePrompt()
    await current.retry()
  })
}

function promptCode(kind) {
  const code = $('prompt-form').elements.code.value.trim()
  return answerPrompt(kind === 'otp' ? { otp: code } : { recoveryCode: code })
}

function cancelPrompt() {
  const purpose = prompt?.purpose
  closePrompt()
  if (purpose === 'mfa') status.dataset.mfa = 'none'
  if (purpose === 'step-up') status.dataset.stepUp = 'none'
  show('prompt', '', 'ok', 'Cancelled')
}

function showRecoveryCodes(codes) {
  const list = $('recovery-codes')
  list.replaceChildren(...codes.map((code) => {
    const item = document.createElement('li')
    const text = document.createElement('code')
    text.textContent = code
    item.append(text)
    return item
  }))
  $('recovery').hidden = codes.length === 0
  status.dataset.recoveryCodes = String(codes.length)
}

function hideRecoveryCodes() {
  $('recovery-codes').replaceChildren()
  $('recovery').hidden = true
  status.dataset.recoveryCodes = '0'
}

function hideTotpSetup() {
  pendingTotp = null
  $('totp-secret').textContent = ''
  $('totp-uri').textContent = ''
  $('totp-setup').hidden = true
}

function renderFactors(list) {
  $('factor-list').replaceChildren(...list.factors.map((factor) => {
    const item = document.createElement('li')
    item.dataset.factorType = factor.type
    const name = factor.label ? factor.label + ' (' + factor.type + ')' : factor.type
    item.append(name + ' ')
    const remove = document.createElement('button')
    remove.type = 'button'
    remove.className = 'remove-factor'
    remove.dataset.factorId = factor.id
    remove.textContent = 'Remove'
    item.append(remove)
    return item
  }))
  status.dataset.factors = String(list.factors.length)
  const text = list.factors.length + ' factor(s), ' + list.recoveryCodesRemaining + ' recovery code(s) left'
  $('factor-summary').textContent = text
  return text
}

/** Lists the factors after a change, and says what changed. */
async function relist(action, text, codes) {
  const list = await client.listFactors()
  renderFactors(list)
  if (codes) showRecoveryCodes(codes)
  show(action, 200, 'ok', text, { factors: list.factors.length, recovery_codes_remaining: list.recoveryCodesRemaining })
}

function listFactors() {
  return attempt('factors', async () => {
    const list = await client.listFactors()
    show('factors', 200, 'ok', renderFactors(list), list)
  })
}

function enrollTotp() {
  return attempt('totp-enroll', async () => {
    const enrollment = await client.enrollTotp({ label: 'Authenticator app' })
    pendingTotp = enrollment.factorId
    $('totp-secret').textContent = enrollment.secret
    $('totp-uri').textContent = enrollment.otpauthUri
    $('totp-setup').hidden = false
    $('totp-form').elements.code.value = ''
    status.dataset.totp = 'pending'
    show('totp-enroll', 200, 'ok', 'Add the secret to your authenticator app, then enter its code')
  })
}

function confirmTotp(form) {
  const code = form.elements.code.value.trim()
  form.elements.code.value = ''
  return attempt('totp-confirm', async () => {
    if (pendingTotp === null) return show('totp-confirm', 0, 'error', 'No authenticator app is being set up')
    const done = await client.confirmTotp(pendingTotp, code)
    hideTotpSetup()
    status.dataset.totp = 'active'
    await relist('totp-confirm', 'Authenticator app added', done.recoveryCodes)
  })
}

function addPasskey() {
  return attempt('passkey-add', async () => {
    const done = await client.registerPasskey({ label: 'Passkey' })
    await relist('passkey-add', 'Passkey added', done.recoveryCodes)
  })
}

function removeFactor(id) {
  return attempt('factor-remove', async () => {
    await client.removeFactor(id)
    await relist('factor-remove', 'Factor removed')
  })
}

function newRecoveryCodes() {
  return attempt('recovery-new', async () => {
    const codes = await client.newRecoveryCodes()
    await relist('recovery-new', 'New recovery codes (the old ones no longer work)', codes)
  })
}

function logout() {
  return attempt('logout', async () => {
    await client.logout()
    delete status.dataset.subject
    closePrompt()
    hideTotpSetup()
    hideRecoveryCodes()
    $('factor-list').replaceChildren()
    $('factor-summary').textContent = ''
    Object.assign(status.dataset, { mfa: 'none', stepUp: 'none' })
    for (const key of ['mfaFactors', 'factors', 'totp']) delete status.dataset[key]
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
      document.querySelectorAll('button').forEach((b) => { b.disabled = false })
      status.dataset.busy = 'false'
    }
  }
}

/** WebAuthn refuses IP-address origins: say where passkeys work (a separate origin: own session). */
function checkPasskeys() {
  const ipHost = /^[0-9.]+$/.test(location.hostname) || location.hostname.startsWith('[')
  status.dataset.passkeys = ipHost || !window.PublicKeyCredential ? 'unavailable' : 'available'
  if (!ipHost) return
  const link = $('localhost-link')
  link.href = location.protocol + '//localhost' + (location.port ? ':' + location.port : '') + '/demo'
  link.textContent = link.href
  $('origin-note').hidden = false
}

$('login').addEventListener('submit', guarded((e) => login(e.target)))
$('passkey-login').addEventListener('click', guarded(loginWithPasskey))
$('prompt-form').addEventListener('submit', guarded(() => promptCode('otp')))
$('prompt-recovery').addEventListener('click', guarded(() => promptCode('recovery')))
$('prompt-passkey').addEventListener('click', guarded(() => answerPrompt({ passkey: true })))
$('prompt-cancel').addEventListener('click', guarded(cancelPrompt))
$('call-api').addEventListener('click', guarded(() => callApi('api', '/api/echo/hello')))
$('call-bound').addEventListener('click', guarded(() => callApi('bound', '/api/bound/hello')))
$('call-critical').addEventListener('click', guarded(() => callApi('critical', '/api/secure/hello')))
$('call-stepup').addEventListener('click', guarded(() => callApi('stepup', '/api/stepup/hello')))
$('refresh').addEventListener('click', guarded(refreshClicked))
$('logout').addEventListener('click', guarded(logout))
$('factors-list').addEventListener('click', guarded(listFactors))
$('totp-enroll').addEventListener('click', guarded(enrollTotp))
$('totp-form').addEventListener('submit', guarded((e) => confirmTotp(e.target)))
$('passkey-add').addEventListener('click', guarded(addPasskey))
$('recovery-new').addEventListener('click', guarded(newRecoveryCodes))
$('recovery-done').addEventListener('click', guarded(async () => {
  hideRecoveryCodes()
  show('recovery-done', '', 'ok', 'Recovery codes hidden')
}))
$('factor-list').addEventListener('click', (event) => {
  const id = event.target.closest?.('button.remove-factor')?.dataset.factorId
  if (id) guarded(() => removeFactor(id))(event)
})
checkPasskeys()
Object.assign(status.dataset, { mfa: 'none', stepUp: 'none', recoveryCodes: '0' })
// A reload keeps the session: the refresh cookie and the stored key get a new access token.
try {
  if (await client.restore()) show('restore', '', 'ok', 'Session restored', describe(client.session()))
  else summarize()
} catch {
  show('restore', 0, 'error', 'Could not restore the session')
}
status.dataset.ready = 'true'
`

// form-action 'none': should the script ever fail to load, the browser refuses to submit a
// form natively, so a password or code can never end up in a URL.
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
<p id="origin-note" hidden>Passkeys need a host name: WebAuthn refuses IP-address origins such as
this one. Open <a id="localhost-link" href="/demo">the page at localhost</a> to use them (another
origin: log in again there).</p>
<form id="login" method="post">
<label>Tenant <input name="tenant" value="demo" required autocomplete="organization"></label>
<label>Username <input name="username" value="alice" required autocomplete="username"></label>
<label>Password <input name="password" type="password" required autocomplete="current-password"></label>
<button type="submit" id="login-button">Log in</button>
<button type="button" id="passkey-login">Log in with a passkey</button>
</form>
<small>Demo users (local profile only): alice / alice-demo-password, admin / admin-demo-password.
Tokens are DPoP-bound to a key this browser keeps in IndexedDB and cannot export.</small>
<section id="factor-prompt" hidden>
<h2 id="prompt-title">Second factor</h2>
<p id="prompt-text"></p>
<form id="prompt-form" method="post">
<label>Code <input name="code" autocomplete="one-time-code" spellcheck="false"></label>
<button type="submit" id="prompt-code">Verify code</button>
<button type="button" id="prompt-recovery">Use recovery code</button>
<button type="button" id="prompt-passkey">Use passkey</button>
<button type="button" id="prompt-cancel">Cancel</button>
</form>
</section>
<div class="actions">
<button type="button" id="call-api">Call API</button>
<button type="button" id="call-bound">Call /api/bound</button>
<button type="button" id="call-critical">Call critical API</button>
<button type="button" id="call-stepup">Call /api/stepup</button>
<button type="button" id="refresh">Refresh</button>
<button type="button" id="logout">Log out</button>
</div>
<p id="status" role="status" aria-live="polite" data-session="none" data-seq="0">Logged out.</p>
<pre id="output"></pre>
<section id="factors">
<h2>Second factors</h2>
<div class="actions">
<button type="button" id="factors-list">List factors</button>
<button type="button" id="totp-enroll">Set up authenticator app</button>
<button type="button" id="passkey-add">Add a passkey</button>
<button type="button" id="recovery-new">New recovery codes</button>
</div>
<p id="factor-summary"></p>
<ul id="factor-list"></ul>
<div id="totp-setup" hidden>
<p>Add this account to your authenticator app (type the secret, or paste the URI), then enter the
code it shows.</p>
<p>Secret: <code id="totp-secret"></code></p>
<p>URI: <code id="totp-uri"></code></p>
<form id="totp-form" method="post">
<label>Code <input name="code" autocomplete="one-time-code" inputmode="numeric" spellcheck="false"></label>
<button type="submit" id="totp-confirm">Confirm</button>
</form>
</div>
<div id="recovery" hidden>
<p>Recovery codes: each works once, instead of a second factor. Save them now: they are not
shown again.</p>
<ol id="recovery-codes"></ol>
<button type="button" id="recovery-done">I saved them</button>
</div>
</section>
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
