// Fetches a third-party issuer's JWKS document: one GET with a timeout, no redirects, a size cap
// and a shape check. It returns raw JWKs; importing (and refusing unusable keys) is
// jwk-import.ts's job. Failures throw JwksFetchError with a short cause for logs and metrics.

import { readCappedBytes } from '../lib/capped-body'

/** Real JWKS documents are a few KiB; a megabyte-sized answer is an attack or a mistake. */
export const MAX_JWKS_BYTES = 256 * 1024
/** Bounds the keys imported per issuer, so one issuer cannot make the isolate import thousands. */
export const MAX_KEYS_PER_ISSUER = 100

export type JwksFetchFailure = 'timeout' | 'network' | 'status' | 'too_large' | 'invalid'

export class JwksFetchError extends Error {
  constructor(readonly cause: JwksFetchFailure) {
    super(`jwks fetch failed: ${cause}`)
    this.name = 'JwksFetchError'
  }
}

/** Fetches and shape-checks `{ keys: [...] }`; throws JwksFetchError. */
export async function fetchJwksDocument(
  uri: string,
  deps: { fetch: typeof fetch; timeoutMs: number },
): Promise<unknown[]> {
  let response: Response
  try {
    response = await deps.fetch(uri, {
      headers: { accept: 'application/jwk-set+json, application/json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(deps.timeoutMs),
    })
  } catch (err) {
    const timedOut = err instanceof DOMException && err.name === 'TimeoutError'
    throw new JwksFetchError(timedOut ? 'timeout' : 'network')
  }
  if (response.status !== 200) {
    await response.body?.cancel()
    throw new JwksFetchError('status')
  }
  const declared = Number(response.headers.get('content-length') ?? '0')
  if (declared > MAX_JWKS_BYTES) {
    await response.body?.cancel()
    throw new JwksFetchError('too_large')
  }
  const bytes = await readCappedBytes(response.body, MAX_JWKS_BYTES)
  if (bytes === null) throw new JwksFetchError('too_large')
  return parseJwks(new TextDecoder().decode(bytes))
}

/** Parses a JWKS JSON text; throws JwksFetchError('invalid'). */
export function parseJwks(text: string): unknown[] {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    throw new JwksFetchError('invalid')
  }
  if (typeof doc !== 'object' || doc === null) throw new JwksFetchError('invalid')
  const keys = (doc as { keys?: unknown }).keys
  if (!Array.isArray(keys)) throw new JwksFetchError('invalid')
  return keys.slice(0, MAX_KEYS_PER_ISSUER)
}
