// Bench-only Worker (never deployed): the floor of the end-to-end benchmark. It forwards every
// request unchanged to ORIGIN (same method, path, query, headers and streamed body) and returns
// the origin's answer as is: what any Worker in front of an origin costs, before any auth.

interface Env {
  /** scheme://host:port of the demo origin. */
  readonly ORIGIN: string
}

export default {
  fetch(request, env) {
    const url = new URL(request.url)
    return fetch(env.ORIGIN + url.pathname + url.search, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
    })
  },
} satisfies ExportedHandler<Env>
