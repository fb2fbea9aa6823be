// Reading a small JSON request body safely: JSON content type, a byte cap enforced while
// streaming (not trusting Content-Length), and a plain object at the top. Parse errors never
// echo the input (it may hold a password).

import { readCappedBytes } from './capped-body'
import { AuthError } from './errors'

/** Login and refresh bodies are tiny; 8 KiB leaves room for long passwords and nothing else. */
export const MAX_AUTH_BODY_BYTES = 8 * 1024

/** Reads a JSON object body; throws AuthError bad_request | payload_too_large. */
export async function readJsonObject(
  request: Request,
  maxBytes = MAX_AUTH_BODY_BYTES,
): Promise<Record<string, unknown>> {
  const type = request.headers.get('content-type') ?? ''
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new AuthError('bad_request', { detail: 'content-type must be application/json' })
  }
  if (Number(request.headers.get('content-length') ?? '0') > maxBytes)
    throw new AuthError('payload_too_large')
  const text = await readCapped(request, maxBytes)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new AuthError('bad_request', { detail: 'body is not JSON' })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AuthError('bad_request', { detail: 'body is not a JSON object' })
  }
  return value as Record<string, unknown>
}

async function readCapped(request: Request, maxBytes: number): Promise<string> {
  const bytes = await readCappedBytes(request.body, maxBytes)
  if (bytes === null) throw new AuthError('payload_too_large')
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes)
  } catch {
    throw new AuthError('bad_request', { detail: 'body is not UTF-8' })
  }
}

/** A required string field of at most `maxLength` characters; throws AuthError bad_request. */
export function stringField(
  body: Record<string, unknown>,
  name: string,
  maxLength: number,
): string {
  const value = body[name]
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw new AuthError('bad_request', { detail: `field ${name}` })
  }
  return value
}

/** An optional string field; throws AuthError bad_request when present but invalid. */
export function optionalStringField(
  body: Record<string, unknown>,
  name: string,
  maxLength: number,
): string | null {
  return body[name] === undefined || body[name] === null ? null : stringField(body, name, maxLength)
}
