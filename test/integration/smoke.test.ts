import { afterEach, describe, expect, it, vi } from 'vitest'
import { installNetwork, send, setupIssuer } from '../helpers/gateway'
import { makeKey } from '../helpers/keys'
import { mint } from '../helpers/tokens'

afterEach(() => vi.restoreAllMocks())

describe('smoke', () => {
  it('proxies a valid token', async () => {
    const net = installNetwork()
    const key = await makeKey('EdDSA')
    const { issuer, env } = await setupIssuer(net, [key])
    const token = await mint(key, { issuer })
    const res = await send(env, '/api/echo/hello', { token })
    expect(res.status).toBe(200)
    expect(net.originCalls).toHaveLength(1)
  })
})
