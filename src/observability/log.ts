// Structured JSON logs: one line per request (written by the app's exit) and one per notable
// event (key refresh, config error). Callers pass identifiers (jti, sid, kid, hashed subject),
// never token bytes, cookies, passwords or secrets; the field names below are the log schema.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

export interface LogFields {
  readonly [field: string]: string | number | boolean | null | undefined
}

/** Writes one JSON line; never throws (a log failure must not fail a request). */
export function logLine(level: LogLevel, event: string, fields: LogFields = {}): void {
  try {
    const line = JSON.stringify({ ts: new Date().toISOString(), level, event, ...fields })
    if (level === 'error') console.error(line)
    else if (level === 'warn') console.warn(line)
    else console.log(line)
  } catch {
    // A log line is never worth a failed request.
  }
}
