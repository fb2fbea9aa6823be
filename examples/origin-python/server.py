"""A runnable origin behind Gatehouse: every request must carry a valid Gatehouse-Assertion.
Answers 200 with JSON {"ok": true, "claims", "method", "target", "body_bytes"}, or 401 with
{"ok": false, "reason"} (a demo: a production origin would log the reason and answer less).

  ORIGIN_SECRET="$ORIGIN_SECRET_DEMO" python3 server.py --port 8789 --issuer http://127.0.0.1:8787
  python3 server.py --port 8789 --issuer http://127.0.0.1:8787 \\
      --jwks-url http://127.0.0.1:8787/.well-known/origin-assertion-jwks.json

The HS256 secret comes from the environment (ORIGIN_SECRET), not the command line, where any
local user could read it in the process list and a value starting with "-" reads as an option.
--audience defaults to http://127.0.0.1:<port> (the route's origin); --clock-offset shifts this
origin's clock, in seconds (tests use it to see an assertion arrive after it expired)."""
import argparse, json, os, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from verify import AssertionVerifier, Rejected

MAX_BODY_BYTES = 16 * 1024 * 1024

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    verifier: AssertionVerifier

    def handle_any(self):
        body = self.read_body()
        if body is None: return self.answer(413, {"ok": False, "reason": "body_too_large"})
        try:
            claims = self.verifier.verify(self.command, self.headers.get("Host"), self.path,
                                          self.headers.get_all("Gatehouse-Assertion") or [], body)
        except Rejected as rejected:
            return self.answer(401, {"ok": False, "reason": rejected.reason})
        self.answer(200, {"ok": True, "claims": claims, "method": self.command,
                          "target": self.path, "body_bytes": len(body)})

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = handle_any

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while (size := int(self.rfile.readline().split(b";")[0], 16)) > 0:
                body += self.rfile.read(size); self.rfile.readline()
                if len(body) > MAX_BODY_BYTES: return None
            while self.rfile.readline() not in (b"\r\n", b"\n", b""): pass  # trailers
            return body
        length = int(self.headers.get("Content-Length") or 0)
        return None if length > MAX_BODY_BYTES else self.rfile.read(length)

    def answer(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 413: self.send_header("Connection", "close"); self.close_connection = True
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(data)

    def log_message(self, *args): pass

def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=8789)
    p.add_argument("--issuer", default=os.environ.get("GATEHOUSE_PUBLIC_URL", "http://127.0.0.1:8787"))
    p.add_argument("--audience")
    p.add_argument("--jwks-url")
    p.add_argument("--clock-offset", type=float, default=0.0)
    a = p.parse_args()
    secret = None if a.jwks_url else os.environ.get("ORIGIN_SECRET")
    if not a.jwks_url and not secret:
        p.error("set ORIGIN_SECRET (HS256) or give --jwks-url (EdDSA)")
    Handler.verifier = AssertionVerifier(
        a.issuer, a.audience or f"http://127.0.0.1:{a.port}",
        secret=secret, jwks_url=a.jwks_url,
        clock=lambda: time.time() + a.clock_offset)
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    print(f"python origin listening on http://127.0.0.1:{a.port}", flush=True)
    server.serve_forever()

if __name__ == "__main__":
    main()
