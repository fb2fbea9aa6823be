"""Verifies a Gatehouse-Assertion (docs/ASSERTION.md) with PyJWT: the pinned algorithm (HS256 for
a secret, EdDSA for the gateway's JWKS), typ, iss, aud, time, the request it names (method, Host,
target, body digest) and single use of its jti. Raises Rejected(reason), with the reason codes of
gatehouse/origin. Time is checked here rather than by PyJWT so that the clock can be injected."""
import base64, hashlib, json, re, threading, time, urllib.request
from collections import OrderedDict
import jwt, jwt.api_jwt

TYP, LIFETIME_SECONDS, JWKS_COOLDOWN_SECONDS = "gatehouse-assertion+jwt", 30, 60
REQUIRED = ["iss", "aud", "iat", "exp", "jti", "htm", "htu", "body"]
DIGEST = re.compile(r"sha-256=:[A-Za-z0-9+/]{43}=:")
HTU = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#@]+)(/[^#]*)")
JWT_ERRORS = [(jwt.InvalidAlgorithmError, "alg_not_allowed"), (jwt.InvalidSignatureError, "bad_signature"),
              (jwt.InvalidIssuerError, "wrong_issuer"), (jwt.InvalidAudienceError, "wrong_audience")]

class Rejected(Exception):
    def __init__(self, reason): super().__init__(reason); self.reason = reason

def authority(value, scheme):  # host case-insensitive, the scheme's default port implied
    value, default = value.lower(), {"http": ":80", "https": ":443"}.get(scheme.lower())
    return value[: -len(default)] if default and value.endswith(default) else value

class JwksKeys:
    """EdDSA keys by kid, refetched on an unknown kid at most once a minute."""
    def __init__(self, url, clock): self.url, self.clock, self.keys, self.fetched = url, clock, {}, None
    def __call__(self, kid):
        if kid not in self.keys and (self.fetched is None or self.clock() - self.fetched >= JWKS_COOLDOWN_SECONDS):
            self.fetched = self.clock()
            try:
                with urllib.request.urlopen(self.url, timeout=5) as res: keys = json.load(res)["keys"]
                self.keys = {k["kid"]: jwt.PyJWK(k).key for k in keys if k.get("crv") == "Ed25519"}
            except Exception: raise Rejected("jwks_unavailable")
        if kid not in self.keys: raise Rejected("unknown_kid")
        return self.keys[kid]

class AssertionVerifier:
    def __init__(self, issuer, audience, secret=None, jwks_url=None, max_skew=5,
                 cache_size=100_000, accept_unbound=False, clock=time.time):
        assert (secret is None) != (jwks_url is None), "give exactly one of secret or jwks_url"
        self.issuer, self.audience, self.skew, self.clock = issuer, audience, max_skew, clock
        self.alg = "HS256" if secret else "EdDSA"  # pinned: never read from the token
        self.key = (lambda kid: secret) if secret else JwksKeys(jwks_url, clock)
        self.accept_unbound, self.cache_size = accept_unbound, cache_size
        self.seen, self.lock = OrderedDict(), threading.Lock()

    def verify(self, method, host, target, assertions, body):
        """assertions: every Gatehouse-Assertion header value received; body: bytes. -> claims"""
        if not assertions: raise Rejected("missing_assertion")
        if len(assertions) > 1: raise Rejected("malformed")
        try:
            alg_ok = jwt.get_unverified_header(assertions[0]).get("alg") == self.alg
            key = self.key(jwt.get_unverified_header(assertions[0]).get("kid")) if alg_ok else b""
            token = jwt.api_jwt.decode_complete(assertions[0], key, algorithms=[self.alg], issuer=self.issuer,
                audience=self.audience, options={"require": REQUIRED, "verify_exp": False, "verify_iat": False})
        except Rejected: raise
        except Exception as err: raise Rejected(next((r for t, r in JWT_ERRORS if isinstance(err, t)), "malformed"))
        c, now = token["payload"], self.clock()
        if str(token["header"].get("typ")).lower() != TYP: raise Rejected("wrong_type")
        htu = HTU.fullmatch(c["htu"]) if isinstance(c["htu"], str) else None
        if htu is None or not all(isinstance(c[k], (int, float)) for k in ("iat", "exp")) or not all(
                isinstance(c[k], str) and c[k] for k in ("jti", "htm", "body")): raise Rejected("malformed")
        if c["exp"] + self.skew <= now: raise Rejected("expired")
        if c["iat"] > now + self.skew: raise Rejected("not_yet_valid")
        if c["exp"] - c["iat"] > LIFETIME_SECONDS: raise Rejected("lifetime_too_long")
        if c["htm"] != method.upper(): raise Rejected("wrong_method")
        if not host or authority(host, htu[1]) != authority(htu[2], htu[1]): raise Rejected("wrong_host")
        if htu[3] != target: raise Rejected("wrong_target")  # byte for byte: no decoding
        if c["body"] == "none" and body: raise Rejected("body_unexpected")
        elif c["body"] == "unbound" and not self.accept_unbound: raise Rejected("body_unbound")
        elif c["body"] == "bound":
            if not DIGEST.fullmatch(str(c.get("body_digest"))): raise Rejected("malformed")
            if c["body_digest"] != "sha-256=:%s:" % base64.b64encode(hashlib.sha256(body).digest()).decode():
                raise Rejected("body_mismatch")
        elif c["body"] not in ("none", "unbound"): raise Rejected("malformed")
        with self.lock:  # last: only an assertion that passed every check uses up its jti
            if self.seen.get(c["jti"], -1) >= now: raise Rejected("replayed")
            self.seen.pop(c["jti"], None)
            while len(self.seen) >= self.cache_size: self.seen.popitem(last=False)  # oldest first
            self.seen[c["jti"]] = c["exp"] + self.skew
        return c
