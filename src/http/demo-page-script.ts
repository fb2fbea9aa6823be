// The demo page's script, first half: the client, the status summary, actions and their
// errors, login (password, second factor, passkey) and the factor prompt. The second half
// (demo-page-factors-script.ts) manages factors and wires the buttons; demo-page.ts serves both
// as one module under the page's nonce.

// The page's script: a module that drives gatehouse/client (client/, served at /demo/client/).
// The library holds the access token (memory only), the DPoP key (IndexedDB, not extractable)
// and a pending login's mfa_token; the page only renders what it reports. (A TypeScript
// template literal: the script uses no template literals of its own.)
export const SESSION_SCRIPT = `
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

`
