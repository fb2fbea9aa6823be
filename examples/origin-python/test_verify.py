"""Crafted assertions, each with one property wrong, so only the check under test refuses it; time
is moved with the verifier's clock rather than waited for.   python3 -m unittest -v"""
import base64, hashlib, json, threading, unittest
from http.server import BaseHTTPRequestHandler, HTTPServer
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from verify import AssertionVerifier, Rejected

SECRET, ISSUER, AUDIENCE = "origin-secret-for-python-tests-0123456789", "https://gatehouse.test", "http://127.0.0.1:8789"
TARGET, NOW, TYP = "/api/py/orders?id=7", 1_800_000_000, "gatehouse-assertion+jwt"
BODY = b'{"qty":2}'
BOUND = {"htm": "POST", "body": "bound",
         "body_digest": "sha-256=:%s:" % base64.b64encode(hashlib.sha256(BODY).digest()).decode()}

def claims(**over):
    c = {"iss": ISSUER, "aud": AUDIENCE, "iat": NOW, "exp": NOW + 30, "jti": "req-1.0", "htm": "GET",
         "htu": AUDIENCE + TARGET, "body": "none", "sub": "usr_alice", **over}
    return {k: v for k, v in c.items() if v is not None}

def hs(payload, alg="HS256", typ=TYP, key=SECRET):
    return jwt.encode(payload, key, algorithm=alg, headers={"typ": typ} if typ else None)

def reason(token, offset=0, verifier=None, **request):
    v = verifier or AssertionVerifier(ISSUER, AUDIENCE, secret=SECRET, clock=lambda: NOW + offset)
    r = {"method": "GET", "host": "127.0.0.1:8789", "target": TARGET, "assertions": [token], "body": b"", **request}
    try:
        v.verify(**r)
        return "accepted"
    except Rejected as rejected:
        return rejected.reason

class Checks(unittest.TestCase):
    def test_each_check(self):
        for name, got, want in [
            ("a genuine assertion", reason(hs(claims())), "accepted"),
            ("a bound body", reason(hs(claims(**BOUND)), method="POST", body=BODY), "accepted"),
            ("expired within the skew", reason(hs(claims()), offset=34), "accepted"),
            ("expired", reason(hs(claims()), offset=36), "expired"),
            ("iat in the future", reason(hs(claims()), offset=-6), "not_yet_valid"),
            ("a long lifetime", reason(hs(claims(exp=NOW + 60))), "lifetime_too_long"),
            ("another secret", reason(hs(claims(), key=SECRET + "x")), "bad_signature"),
            ("HS384", reason(hs(claims(), alg="HS384")), "alg_not_allowed"),
            ("typ JWT", reason(hs(claims(), typ="JWT")), "wrong_type"),
            ("no typ", reason(hs(claims(), typ=None)), "wrong_type"),
            ("another issuer", reason(hs(claims(iss="https://evil"))), "wrong_issuer"),
            ("another audience", reason(hs(claims(aud="http://other"))), "wrong_audience"),
            ("no jti", reason(hs(claims(jti=None))), "malformed"),
            ("another method", reason(hs(claims()), method="DELETE"), "wrong_method"),
            ("another host", reason(hs(claims()), host="evil:1"), "wrong_host"),
            ("another path", reason(hs(claims()), target="/api/py/admin?id=7"), "wrong_target"),
            ("a decoded path", reason(hs(claims(htu=AUDIENCE + "/a%2Fb")), target="/a/b"), "wrong_target"),
            ("another body", reason(hs(claims(**BOUND)), method="POST", body=b'{"qty":200}'), "body_mismatch"),
            ("an unexpected body", reason(hs(claims()), body=BODY), "body_unexpected"),
            ("no assertion", reason("", assertions=[]), "missing_assertion"),
            ("two assertions", reason("", assertions=["a.b.c", "a.b.c"]), "malformed"),
        ]:
            with self.subTest(name):
                self.assertEqual(got, want)

    def test_single_use(self):
        v = AssertionVerifier(ISSUER, AUDIENCE, secret=SECRET, clock=lambda: NOW)
        token = hs(claims(jti="once.0"))
        self.assertEqual(reason(token, verifier=v, target="/elsewhere"), "wrong_target")
        self.assertEqual(reason(token, verifier=v), "accepted")  # the refusal did not use it up
        self.assertEqual(reason(token, verifier=v), "replayed")

    def test_eddsa_with_the_jwks(self):
        private = Ed25519PrivateKey.generate()
        x = base64.urlsafe_b64encode(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).rstrip(b"=")
        fetches = []
        class Jwks(BaseHTTPRequestHandler):
            def do_GET(self):
                fetches.append(1)
                data = json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": x.decode()}]}).encode()
                self.send_response(200); self.send_header("Content-Length", str(len(data))); self.end_headers()
                self.wfile.write(data)
            def log_message(self, *args): pass
        server = HTTPServer(("127.0.0.1", 0), Jwks)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        v = AssertionVerifier(ISSUER, AUDIENCE, jwks_url=f"http://127.0.0.1:{server.server_port}/", clock=lambda: NOW)
        sign = lambda kid, jti: jwt.encode(claims(jti=jti), private, algorithm="EdDSA", headers={"typ": TYP, "kid": kid})
        self.assertEqual(reason(sign("k1", "e1"), verifier=v), "accepted")
        self.assertEqual(reason(sign("k2", "e2"), verifier=v), "unknown_kid")
        confused = jwt.encode(claims(jti="e3"), x, algorithm="HS256", headers={"typ": TYP, "kid": "k1"})
        self.assertEqual(reason(confused, verifier=v), "alg_not_allowed")
        self.assertEqual(len(fetches), 1)  # the unknown kid waits for the cooldown

if __name__ == "__main__":
    unittest.main()
