// GET /demo: a small browser page for the local demo profile — log in, call an API route,
// refresh, log out — served by the gateway itself so it is same-origin with /auth/*.

const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Gatehouse demo</title></head>
<body>
<h1>Gatehouse demo</h1>
<p>The demo page is being built.</p>
</body>
</html>`

export function demoPageResponse(): Response {
  return new Response(PAGE, {
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy':
        "default-src 'self'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
    },
  })
}
