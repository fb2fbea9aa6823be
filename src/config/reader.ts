// Field readers for configuration validation: each reader names the exact field it rejects, so
// an operator reading the start-up error knows which line of wrangler.toml to fix. Readers know
// nothing about Gatehouse; config.ts composes them into the typed Config.

export class ConfigError extends Error {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`invalid configuration: ${field}: ${problem}`)
    this.name = 'ConfigError'
  }
}

type Json = Record<string, unknown>

/** Raw bindings the configuration reads: the GATEHOUSE var and any secret it names. */
export type ConfigSource = { readonly GATEHOUSE?: unknown } & Record<string, unknown>

/** An HMAC-SHA256 key shorter than its output weakens it (RFC 2104 §3). */
export const MIN_SECRET_LENGTH = 32

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Reads typed fields of one configuration object; `path` prefixes every error. */
export class FieldReader {
  private readonly seen = new Set<string>()

  constructor(
    private readonly value: Json,
    readonly path: string,
  ) {}

  static of(value: unknown, path: string): FieldReader {
    if (!isObject(value)) throw new ConfigError(path, 'must be a table (object)')
    return new FieldReader(value, path)
  }

  field(name: string): string {
    return `${this.path}.${name}`
  }

  private raw(name: string): unknown {
    this.seen.add(name)
    return this.value[name]
  }

  /** The table's own field names (for tables keyed by data, like sensitive_scopes). */
  keys(): string[] {
    return Object.keys(this.value)
  }

  has(name: string): boolean {
    return this.value[name] !== undefined
  }

  string(
    name: string,
    opts: { default?: string; pattern?: RegExp; maxLength?: number } = {},
  ): string {
    const v = this.raw(name)
    if (v === undefined && opts.default !== undefined) return opts.default
    if (typeof v !== 'string' || v.length === 0) {
      throw new ConfigError(this.field(name), 'must be a non-empty string')
    }
    if (opts.maxLength !== undefined && v.length > opts.maxLength) {
      throw new ConfigError(this.field(name), `must be at most ${opts.maxLength} characters`)
    }
    if (opts.pattern && !opts.pattern.test(v)) {
      throw new ConfigError(this.field(name), `must match ${opts.pattern}`)
    }
    return v
  }

  optionalString(name: string, opts: { pattern?: RegExp; maxLength?: number } = {}): string | null {
    return this.raw(name) === undefined ? null : this.string(name, opts)
  }

  integer(name: string, opts: { default?: number; min: number; max: number }): number {
    const v = this.raw(name)
    if (v === undefined && opts.default !== undefined) return opts.default
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      throw new ConfigError(this.field(name), 'must be an integer')
    }
    if (v < opts.min || v > opts.max) {
      throw new ConfigError(this.field(name), `must be between ${opts.min} and ${opts.max}`)
    }
    return v
  }

  boolean(name: string, fallback: boolean): boolean {
    const v = this.raw(name)
    if (v === undefined) return fallback
    if (typeof v !== 'boolean') throw new ConfigError(this.field(name), 'must be true or false')
    return v
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback?: T): T {
    const v = this.raw(name)
    if (v === undefined && fallback !== undefined) return fallback
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      throw new ConfigError(this.field(name), `must be one of ${allowed.join(', ')}`)
    }
    return v as T
  }

  stringList(
    name: string,
    opts: {
      default?: readonly string[]
      pattern?: RegExp
      allowed?: readonly string[]
      min?: number
    },
  ): string[] {
    const v = this.raw(name)
    if (v === undefined && opts.default !== undefined) return [...opts.default]
    if (!Array.isArray(v)) throw new ConfigError(this.field(name), 'must be a list of strings')
    if (v.length < (opts.min ?? 0)) {
      throw new ConfigError(this.field(name), `must have at least ${opts.min} entries`)
    }
    return v.map((item, i) => {
      const at = `${this.field(name)}[${i}]`
      if (typeof item !== 'string' || item.length === 0) {
        throw new ConfigError(at, 'must be a non-empty string')
      }
      if (opts.pattern && !opts.pattern.test(item))
        throw new ConfigError(at, `must match ${opts.pattern}`)
      if (opts.allowed && !opts.allowed.includes(item)) {
        throw new ConfigError(at, `must be one of ${opts.allowed.join(', ')}`)
      }
      return item
    })
  }

  table(name: string, required = false): FieldReader {
    const v = this.raw(name)
    if (v === undefined && !required) return new FieldReader({}, this.field(name))
    return FieldReader.of(v, this.field(name))
  }

  tableList(name: string, opts: { min: number }): FieldReader[] {
    const v = this.raw(name)
    if (!Array.isArray(v) || v.length < opts.min) {
      throw new ConfigError(this.field(name), `must be a list of at least ${opts.min} tables`)
    }
    return v.map((item, i) => FieldReader.of(item, `${this.field(name)}[${i}]`))
  }

  /** Rejects fields nobody read: a typo must not silently fall back to a default. */
  done(): void {
    for (const key of Object.keys(this.value)) {
      if (!this.seen.has(key)) throw new ConfigError(this.field(key), 'unknown field')
    }
  }
}

/** Parses an absolute http(s) URL with no credentials, query or fragment. */
export function readUrl(value: string, field: string, opts: { pathAllowed: boolean }): URL {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError(field, 'must be an absolute URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(field, 'must use https (or http for local development)')
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new ConfigError(field, 'must not contain credentials, a query or a fragment')
  }
  if (!opts.pathAllowed && url.pathname !== '/') {
    throw new ConfigError(field, 'must not contain a path')
  }
  return url
}

/** Reads a secret binding by name; the message names the field and the secret, never its value. */
export function readSecret(env: ConfigSource, name: string, field: string): string {
  const value = env[name]
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigError(field, `secret ${name} is not set (wrangler secret put ${name})`)
  }
  if (value.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(field, `secret ${name} must be at least ${MIN_SECRET_LENGTH} characters`)
  }
  return value
}
