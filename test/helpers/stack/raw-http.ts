// Raw HTTP for the security suite: node:http sends a request path exactly as written (fetch
// would normalise dot segments first), and a bare socket sends header lines and request targets
// that no client library will produce (spaces before the colon, duplicate Authorization lines,
// CONNECT, obs-fold), reading back exactly one response.

import http from 'node:http'
import net from 'node:net'
import { GATEWAY } from './stack'

const gatewayUrl = new URL(GATEWAY)
const RAW_TIMEOUT_MS = 10_000

export interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly body: string
}

/** node:http sends the path exactly as given (fetch would normalise dot segments first). */
export function rawPath(
  path: string,
  o: { method?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: gatewayUrl.hostname,
        port: gatewayUrl.port,
        path,
        method: o.method ?? 'GET',
        headers: o.headers ?? {},
      },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => {
          const headers = new Headers()
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) headers.set(name, Array.isArray(value) ? value[0]! : value)
          }
          resolve({ status: res.statusCode ?? 0, headers, body })
        })
      },
    )
    req.setTimeout(RAW_TIMEOUT_MS, () => req.destroy(new Error('raw request timed out')))
    req.on('error', reject)
    req.end()
  })
}

/**
 * Writes one HTTP/1.1 request byte for byte on a fresh socket (for header lines and request
 * targets no client library will produce) and reads exactly one response.
 */
export function rawSocket(
  requestLine: string,
  headerLines: string[] = [],
  body = '',
): Promise<Answer> {
  const text = [
    requestLine,
    `Host: ${gatewayUrl.host}`,
    ...headerLines,
    ...(body === '' ? [] : [`Content-Length: ${Buffer.byteLength(body)}`]),
    '',
    body,
  ].join('\r\n')
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(gatewayUrl.port), gatewayUrl.hostname, () =>
      socket.write(text),
    )
    let buffer = Buffer.alloc(0)
    const finish = (answer: Answer) => {
      socket.destroy()
      resolve(answer)
    }
    socket.setTimeout(RAW_TIMEOUT_MS, () => {
      socket.destroy()
      reject(new Error('raw socket timed out'))
    })
    socket.on('error', reject)
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      const parsed = parseResponse(buffer)
      if (parsed !== null) finish(parsed)
    })
    socket.on('end', () =>
      finish(parseResponse(buffer, true) ?? { status: 0, headers: new Headers(), body: '' }),
    )
  })
}

function parseResponse(buffer: Buffer, atEnd = false): Answer | null {
  const end = buffer.indexOf('\r\n\r\n')
  if (end < 0) return null
  const [statusLine, ...lines] = buffer.subarray(0, end).toString('latin1').split('\r\n')
  const headers = new Headers()
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim())
  }
  const status = Number(statusLine?.split(' ')[1] ?? 0)
  let rest = buffer.subarray(end + 4)
  if (headers.get('transfer-encoding')?.includes('chunked')) {
    let body = Buffer.alloc(0)
    for (;;) {
      const lineEnd = rest.indexOf('\r\n')
      if (lineEnd < 0) return atEnd ? { status, headers, body: body.toString() } : null
      const size = parseInt(rest.subarray(0, lineEnd).toString(), 16)
      if (size === 0) return { status, headers, body: body.toString() }
      if (rest.length < lineEnd + 2 + size + 2) return atEnd ? { status, headers, body: '' } : null
      body = Buffer.concat([body, rest.subarray(lineEnd + 2, lineEnd + 2 + size)])
      rest = rest.subarray(lineEnd + 2 + size + 2)
    }
  }
  const length = Number(headers.get('content-length') ?? (atEnd ? rest.length : -1))
  if (length < 0 || rest.length < length)
    return atEnd ? { status, headers, body: rest.toString() } : null
  return { status, headers, body: rest.subarray(0, length).toString() }
}
