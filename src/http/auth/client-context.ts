// Facts about the calling client that sessions record and compare: IP (from Cloudflare's
// CF-Connecting-IP, which the edge sets and a client cannot), country, and a device fingerprint
// — the device id for mobile apps, a hash of the User-Agent for browsers. Hashes, never raw UAs.

import type { ClientType } from '../../sessions/session-store'

export interface ClientContext {
  readonly ip: string | null
  readonly country: string | null
  readonly userAgentHash: string
}

const encoder = new TextEncoder()

async function shortHash(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', encoder.encode(text))
  return [...new Uint8Array(digest).subarray(0, 12)]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('')
}

export async function clientContext(request: Request): Promise<ClientContext> {
  const cf = (request as { cf?: { country?: unknown } }).cf
  return {
    ip: request.headers.get('cf-connecting-ip'),
    country: typeof cf?.country === 'string' ? cf.country : null,
    userAgentHash: await shortHash(request.headers.get('user-agent') ?? ''),
  }
}

/** The fingerprint a rotation records and a retry must match. */
export function deviceFingerprint(
  client: ClientType,
  deviceId: string | null,
  ctx: ClientContext,
): string {
  return client === 'mobile' ? `d:${deviceId ?? ''}` : `ua:${ctx.userAgentHash}`
}

/** Device ids are opaque app-chosen identifiers; printable ASCII, bounded. */
export const DEVICE_ID = /^[\x21-\x7e]{1,128}$/
