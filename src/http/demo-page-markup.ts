// The demo page's markup and style (demo-page.ts serves them with a fresh nonce per response).
// The markup names every element the script drives; `{{nonce}}` marks where the nonce goes.

/** Where each response's CSP nonce is written into the page. */
export const NONCE_SLOT = '{{nonce}}'

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

// form-action 'none': should the script ever fail to load, the browser refuses to submit a
// form natively, so a password or code can never end up in a URL.
export function pageMarkup(script: string): string {
  return `<!doctype html>
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
<script type="module" nonce="${NONCE_SLOT}">${script}</script>
</body>
</html>`
}
