// Where an issuer's JWKS comes from when neither the isolate nor KV has it: a third-party
// issuer's jwks_uri, or — for Gatehouse's own issuer — the KeyManager Durable Object.

import type { Config, IssuerConfig } from '../config/config'
import type { Env } from '../config/env'
import { fetchJwksDocument } from '../keys/jwks-fetch'
import { getKeyManager, keyManagerSettings } from '../keys/key-manager'
import type { KeySource } from '../keys/key-store'

const sources = new WeakMap<Env, KeySource>()

/** The KeySource for this env (one per isolate: the env and its Config are stable). */
export function keySourceFor(env: Env, config: Config): KeySource {
  let source = sources.get(env)
  if (source === undefined) {
    source = sourceFor(env, config)
    sources.set(env, source)
  }
  return source
}

function sourceFor(env: Env, config: Config): KeySource {
  return async (issuer: IssuerConfig) => {
    if (issuer.self)
      return (await getKeyManager(env).publishedKeys(keyManagerSettings(config))).keys
    return fetchJwksDocument(issuer.jwksUri as string, {
      fetch: (input, init) => fetch(input, init),
      timeoutMs: config.jwks.fetchTimeoutMs,
    })
  }
}
