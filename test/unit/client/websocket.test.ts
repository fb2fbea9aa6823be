// gatehouse/client's websocket(): which URL it opens and which subprotocols it offers, with a
// stub token endpoint and a WebSocket class that only records its arguments. That the gateway
// accepts what it offers, in Chromium through the real stack: test/e2e/browser-api-edge.test.ts.

import { describe, expect, it } from 'vitest'
import { createGatehouseClient, type GatehouseClientOptions } from '../../../client/index.js'

const BASE = 'https://gateway.test'
const TOKEN_TTL_SECONDS = 900

const b64 = (value: unknown) => btoa(JSON.stringify(value)).replace(/=+$/, '')
const decode = (segment: string) =>
  JSON.parse(atob(segment.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
  return btoa(String.fromCharCode(...new Uint8Array(digest)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')
}

/** Opened sockets: the arguments each `new WebSocket()` got. */
const opened: { url: string; protocols: string[] }[] = []
class RecordingSocket {
  constructor(url: string, protocols?: string | string[]) {
    opened.push({ url, protocols: protocols === undefined ? [] : [protocols].flat() })
  }
}

/**
 * A mobile client whose token endpoint mints a new token per call (`tok-<n>`, of `tokenType`);
 * `calls` lists the token-endpoint paths it was asked.
 */
async function signedIn(tokenType: 'Bearer' | 'DPoP', extra: Partial<GatehouseClientOptions> = {}) {
  const calls: string[] = []
  const fetch = async (input: RequestInfo | URL) => {
    const path = new URL(input instanceof Request ? input.url : input).pathname
    calls.push(path)
    return Response.json({
      access_token: `${b64({ typ: 'at+jwt' })}.${b64({ n: calls.length })}.sig`,
      token_type: tokenType,
      expires_in: TOKEN_TTL_SECONDS,
      refresh_token: `ghr1.${calls.length}`,
    })
  }
  const client = createGatehouseClient({
    baseUrl: BASE,
    client: 'mobile',
    deviceId: 'unit',
    fetch,
    WebSocket: RecordingSocket as unknown as GatehouseClientOptions['WebSocket'],
    ...extra,
  })
  await client.login({ tenant: 'demo', username: 'alice', password: 'pw' })
  opened.length = 0
  return { client, calls }
}

describe('gatehouse/client websocket()', () => {
  it('opens the ws form of a relative or http URL and offers the bearer token first', async () => {
    const { client } = await signedIn('Bearer')
    const token = client.accessToken()!
    await client.websocket('/api/live?room=1#here', ['chat', 'v2'])
    await client.websocket(`${BASE}/api/live`, 'chat')
    await client.websocket('wss://gateway.test/api/live')
    expect(opened).toEqual([
      {
        url: 'wss://gateway.test/api/live?room=1',
        protocols: [`gatehouse.bearer.${token}`, 'gatehouse', 'chat', 'v2'],
      },
      {
        url: 'wss://gateway.test/api/live',
        protocols: [`gatehouse.bearer.${token}`, 'gatehouse', 'chat'],
      },
      { url: 'wss://gateway.test/api/live', protocols: [`gatehouse.bearer.${token}`, 'gatehouse'] },
    ])
  })

  it('adds a proof for GET of the http form of the URL, without its query, bound to the token', async () => {
    const { client } = await signedIn('DPoP')
    const token = client.accessToken()!
    await client.websocket('wss://gateway.test/api/live?room=1', 'chat')
    await client.websocket('wss://gateway.test/api/live?room=1', 'chat')
    const [first, second] = opened
    expect(first!.protocols[0]).toBe(`gatehouse.bearer.${token}`)
    // The marker the gateway answers with when the origin picks none of the caller's own.
    expect(first!.protocols[2]).toBe('gatehouse')
    expect(first!.protocols[3]).toBe('chat')
    const proof = first!.protocols[1]!.slice('gatehouse.dpop.'.length).split('.')
    expect(decode(proof[0]!)).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256' })
    const claims = decode(proof[1]!)
    expect(claims).toMatchObject({
      htm: 'GET',
      htu: 'https://gateway.test/api/live',
      ath: await sha256(token),
    })
    // A fresh proof (its own jti) for every socket.
    expect(second!.protocols[1]).not.toBe(first!.protocols[1])
  })

  it('offers no credential to a socket of another origin', async () => {
    const { client } = await signedIn('DPoP')
    await client.websocket('wss://elsewhere.test/live', 'chat')
    await client.websocket('ws://gateway.test/live', 'chat') // another scheme, another origin
    expect(opened.map((o) => o.protocols)).toEqual([['chat'], ['chat']])
  })

  it('refreshes first when the token is about to expire', async () => {
    const { client, calls } = await signedIn('Bearer', {
      refreshMarginSeconds: TOKEN_TTL_SECONDS,
    })
    const loginToken = client.accessToken()
    await client.websocket('/api/live', 'chat')
    expect(calls).toEqual(['/auth/login', '/auth/refresh'])
    expect(client.accessToken()).not.toBe(loginToken)
    expect(opened[0]!.protocols[0]).toBe(`gatehouse.bearer.${client.accessToken()}`)
  })

  it('refuses a gatehouse.* subprotocol of the caller’s and a URL that is not ws or http', async () => {
    const { client } = await signedIn('Bearer')
    await expect(client.websocket('/api/live', ['gatehouse.bearer.x'])).rejects.toThrow(TypeError)
    await expect(client.websocket('ftp://gateway.test/live')).rejects.toThrow(TypeError)
    expect(opened).toEqual([])
  })
})
