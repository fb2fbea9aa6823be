package main

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Crafted assertions, each with one property wrong, so only the check under test can refuse it;
// time is moved with the verifier's clock rather than waited for.

const (
	secret   = "origin-secret-for-go-example-tests-0123456789"
	issuer   = "https://gatehouse.test"
	audience = "http://127.0.0.1:8790"
	target   = "/api/go/orders?id=7"
)

var now = time.Unix(1_800_000_000, 0)

func claims(over map[string]any) map[string]any {
	c := map[string]any{
		"iss": issuer, "aud": audience, "iat": now.Unix(), "exp": now.Unix() + 30,
		"jti": "req-1.0", "htm": "GET", "htu": audience + target, "body": "none", "sub": "usr_alice",
	}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func segment(v any) string {
	raw, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(raw)
}

func signHS(header, payload map[string]any, key string) string {
	input := segment(header) + "." + segment(payload)
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

var hsHeader = map[string]any{"alg": "HS256", "typ": assertionType}

func verifier(offset time.Duration) *Verifier {
	return &Verifier{Issuer: issuer, Audience: audience, Secret: secret, MaxSkewSeconds: 5,
		Now: func() time.Time { return now.Add(offset) }}
}

func request(token string) Request {
	return Request{Method: "GET", Host: "127.0.0.1:8790", Target: target, Assertions: []string{token}}
}

func reason(_ Claims, err error) string {
	if err == nil {
		return "accepted"
	}
	return err.Error()
}

func TestChecks(t *testing.T) {
	body := []byte(`{"qty":2}`)
	sum := sha256.Sum256(body)
	bound := map[string]any{"htm": "POST", "body": "bound",
		"body_digest": "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"}
	post := func(b []byte) func(*Request) {
		return func(r *Request) { r.Method, r.Body = "POST", b }
	}
	cases := []struct {
		name   string
		token  string
		offset time.Duration
		change func(*Request)
		want   string
	}{
		{"a genuine assertion", signHS(hsHeader, claims(nil), secret), 0, nil, "accepted"},
		{"a bound body", signHS(hsHeader, claims(bound), secret), 0, post(body), "accepted"},
		{"expired within the skew", signHS(hsHeader, claims(nil), secret), 34 * time.Second, nil, "accepted"},
		{"expired", signHS(hsHeader, claims(nil), secret), 36 * time.Second, nil, "expired"},
		{"iat in the future", signHS(hsHeader, claims(nil), secret), -6 * time.Second, nil, "not_yet_valid"},
		{"a long lifetime", signHS(hsHeader, claims(map[string]any{"exp": now.Unix() + 60}), secret), 0, nil, "lifetime_too_long"},
		{"another secret", signHS(hsHeader, claims(nil), secret+"x"), 0, nil, "bad_signature"},
		{"HS384", signHS(map[string]any{"alg": "HS384", "typ": assertionType}, claims(nil), secret), 0, nil, "alg_not_allowed"},
		{"typ JWT", signHS(map[string]any{"alg": "HS256", "typ": "JWT"}, claims(nil), secret), 0, nil, "wrong_type"},
		{"another issuer", signHS(hsHeader, claims(map[string]any{"iss": "https://evil"}), secret), 0, nil, "wrong_issuer"},
		{"another audience", signHS(hsHeader, claims(map[string]any{"aud": "http://other"}), secret), 0, nil, "wrong_audience"},
		{"no jti", signHS(hsHeader, claims(map[string]any{"jti": nil}), secret), 0, nil, "malformed"},
		{"another method", signHS(hsHeader, claims(nil), secret), 0, func(r *Request) { r.Method = "DELETE" }, "wrong_method"},
		{"another host", signHS(hsHeader, claims(nil), secret), 0, func(r *Request) { r.Host = "evil:1" }, "wrong_host"},
		{"another path", signHS(hsHeader, claims(nil), secret), 0, func(r *Request) { r.Target = "/api/go/admin?id=7" }, "wrong_target"},
		{"a decoded path", signHS(hsHeader, claims(map[string]any{"htu": audience + "/a%2Fb"}), secret), 0, func(r *Request) { r.Target = "/a/b" }, "wrong_target"},
		{"another body", signHS(hsHeader, claims(bound), secret), 0, post([]byte(`{"qty":200}`)), "body_mismatch"},
		{"an unexpected body", signHS(hsHeader, claims(nil), secret), 0, func(r *Request) { r.Body = body }, "body_unexpected"},
		{"no assertion", "", 0, func(r *Request) { r.Assertions = nil }, "missing_assertion"},
		{"two assertions", "a.b.c", 0, func(r *Request) { r.Assertions = []string{"a.b.c", "a.b.c"} }, "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := request(tc.token)
			if tc.change != nil {
				tc.change(&r)
			}
			if got := reason(verifier(tc.offset).Verify(r)); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestSingleUse(t *testing.T) {
	v := verifier(0)
	token := signHS(hsHeader, claims(map[string]any{"jti": "once.0"}), secret)
	if got := reason(v.Verify(Request{Method: "GET", Host: "127.0.0.1:8790", Target: "/elsewhere", Assertions: []string{token}})); got != "wrong_target" {
		t.Fatalf("misdirected: %s", got)
	}
	if got := reason(v.Verify(request(token))); got != "accepted" {
		t.Fatalf("first: %s (a refused attempt must not use up the jti)", got)
	}
	if got := reason(v.Verify(request(token))); got != "replayed" {
		t.Fatalf("second: %s", got)
	}
}

func TestEdDSA(t *testing.T) {
	public, private, _ := ed25519.GenerateKey(nil)
	fetches := 0
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches++
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]any{
			"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": base64.RawURLEncoding.EncodeToString(public)}}})
	}))
	defer jwks.Close()
	v := &Verifier{Issuer: issuer, Audience: audience, JWKSURL: jwks.URL, Now: func() time.Time { return now }}
	sign := func(kid, jti string) string {
		input := segment(map[string]any{"alg": "EdDSA", "typ": assertionType, "kid": kid}) + "." +
			segment(claims(map[string]any{"jti": jti}))
		return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(private, []byte(input)))
	}
	for _, tc := range []struct{ name, token, want string }{
		{"a published key", sign("k1", "e1"), "accepted"},
		{"an unknown kid", sign("k2", "e2"), "unknown_kid"},
		{"HS256 under the public key (key confusion)", signHS(map[string]any{"alg": "HS256", "typ": assertionType, "kid": "k1"}, claims(nil), string(public)), "alg_not_allowed"},
	} {
		if got := reason(v.Verify(request(tc.token))); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
	if fetches != 1 {
		t.Errorf("JWKS fetched %d times within the cooldown, want 1", fetches)
	}
}
