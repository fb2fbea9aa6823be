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
import { FACTORS_SCRIPT } from './demo-page-factors-script'
import { NONCE_SLOT, pageMarkup } from './demo-page-markup'
import { SESSION_SCRIPT } from './demo-page-script'

/** Bytes of randomness in the CSP nonce (128 bits, CSP3 asks for at least that). */
const NONCE_BYTES = 16

const PAGE_PARTS = pageMarkup(SESSION_SCRIPT + FACTORS_SCRIPT).split(NONCE_SLOT)

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
