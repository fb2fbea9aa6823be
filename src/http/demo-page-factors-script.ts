// The demo page's script, second half: recovery codes, the factor list, TOTP and passkey
// enrolment, logout and refresh, the button wiring and the silent refresh on load. It continues
// the module demo-page-script.ts begins (same scope: it calls that half's functions).

export const FACTORS_SCRIPT = `
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
