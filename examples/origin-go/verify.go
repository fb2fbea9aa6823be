// Verifies a Gatehouse-Assertion (docs/ASSERTION.md) with the standard library only: the pinned
// algorithm (HS256 for a secret, EdDSA for the gateway's JWKS), typ, iss, aud, time, the request
// it names (method, Host, target, body digest) and single use of its jti. Reasons are the codes
// of gatehouse/origin. A JWS is small enough to check by hand here; prefer a maintained JOSE
// library where you can have a dependency.
package main

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

const (
	assertionType        = "gatehouse-assertion+jwt"
	lifetimeSeconds      = 30
	jwksCooldown         = time.Minute
	defaultCacheSize     = 100_000
	defaultMaxSkewSecond = 5
)

var (
	b64url = base64.RawURLEncoding.Strict()
	digest = regexp.MustCompile(`^sha-256=:[A-Za-z0-9+/]{43}=:$`)
	htuRe  = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#@]+)(/[^#]*)$`)
)

// Rejected is the reason an assertion was refused.
type Rejected string

func (r Rejected) Error() string { return string(r) }

// Request is what the origin received: Host header, raw request target, every assertion header.
type Request struct {
	Method, Host, Target string
	Assertions           []string
	Body                 []byte
}

// Claims is the verified claim set (docs/ASSERTION.md § Claims).
type Claims = map[string]any

// Verifier checks assertions for one audience. Give Secret (HS256) or JWKSURL (EdDSA).
type Verifier struct {
	Issuer, Audience, Secret, JWKSURL string
	MaxSkewSeconds                    float64
	CacheSize                         int
	AcceptUnbound                     bool
	Now                               func() time.Time

	mu      sync.Mutex         // guards seen and order
	seen    map[string]float64 // jti → unix seconds until which it counts as seen
	order   []string
	keysMu  sync.Mutex // guards keys and fetched; held while the JWKS is fetched
	keys    map[string]ed25519.PublicKey
	fetched time.Time
}

func (v *Verifier) Verify(r Request) (Claims, error) {
	if len(r.Assertions) == 0 {
		return nil, Rejected("missing_assertion")
	}
	parts := strings.Split(r.Assertions[0], ".")
	if len(r.Assertions) > 1 || len(parts) != 3 {
		return nil, Rejected("malformed")
	}
	var header struct {
		Alg, Typ, Kid string
		Crit          any
	}
	if !decodeJSON(parts[0], &header) || header.Crit != nil {
		return nil, Rejected("malformed")
	}
	signature, err := b64url.DecodeString(parts[2])
	if err != nil {
		return nil, Rejected("malformed")
	}
	if err := v.checkSignature(header.Alg, header.Kid, parts[0]+"."+parts[1], signature); err != nil {
		return nil, err
	}
	if !strings.EqualFold(header.Typ, assertionType) {
		return nil, Rejected("wrong_type")
	}
	var c Claims
	if !decodeJSON(parts[1], &c) {
		return nil, Rejected("malformed")
	}
	iat, okIat := c["iat"].(float64)
	exp, okExp := c["exp"].(float64)
	htu := htuRe.FindStringSubmatch(str(c, "htu"))
	if !okIat || !okExp || htu == nil || str(c, "iss") == "" || c["aud"] == nil ||
		str(c, "jti") == "" || str(c, "htm") == "" || str(c, "body") == "" {
		return nil, Rejected("malformed")
	}
	if str(c, "iss") != v.Issuer {
		return nil, Rejected("wrong_issuer")
	}
	if !hasAudience(c["aud"], v.Audience) {
		return nil, Rejected("wrong_audience")
	}
	now := float64(v.now().UnixMilli()) / 1000
	skew := v.MaxSkewSeconds
	switch {
	case exp+skew <= now:
		return nil, Rejected("expired")
	case iat > now+skew:
		return nil, Rejected("not_yet_valid")
	case exp-iat > lifetimeSeconds:
		return nil, Rejected("lifetime_too_long")
	case str(c, "htm") != strings.ToUpper(r.Method):
		return nil, Rejected("wrong_method")
	case r.Host == "" || authority(r.Host, htu[1]) != authority(htu[2], htu[1]):
		return nil, Rejected("wrong_host")
	case htu[3] != r.Target: // byte for byte: no decoding, no normalising
		return nil, Rejected("wrong_target")
	}
	if err := v.checkBody(c, r.Body); err != nil {
		return nil, err
	}
	return c, v.useOnce(str(c, "jti"), exp+skew, now)
}

func (v *Verifier) checkSignature(alg, kid, input string, signature []byte) error {
	if v.JWKSURL == "" {
		if alg != "HS256" { // pinned: never taken from the token
			return Rejected("alg_not_allowed")
		}
		mac := hmac.New(sha256.New, []byte(v.Secret))
		mac.Write([]byte(input))
		if !hmac.Equal(mac.Sum(nil), signature) {
			return Rejected("bad_signature")
		}
		return nil
	}
	if alg != "EdDSA" {
		return Rejected("alg_not_allowed")
	}
	key, err := v.key(kid)
	if err != nil {
		return err
	}
	if !ed25519.Verify(key, []byte(input), signature) {
		return Rejected("bad_signature")
	}
	return nil
}

func (v *Verifier) checkBody(c Claims, body []byte) error {
	switch str(c, "body") {
	case "none":
		if len(body) > 0 {
			return Rejected("body_unexpected")
		}
	case "unbound":
		if !v.AcceptUnbound {
			return Rejected("body_unbound")
		}
	case "bound":
		if !digest.MatchString(str(c, "body_digest")) {
			return Rejected("malformed")
		}
		sum := sha256.Sum256(body)
		if str(c, "body_digest") != "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":" {
			return Rejected("body_mismatch")
		}
	default:
		return Rejected("malformed")
	}
	return nil
}

// useOnce records jti until keepUntil; last, so only an assertion that passed every check uses
// up its jti. When full, the oldest entries go first.
func (v *Verifier) useOnce(jti string, keepUntil, now float64) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen == nil {
		v.seen = map[string]float64{}
	}
	if until, ok := v.seen[jti]; ok && until >= now {
		return Rejected("replayed")
	}
	size := v.CacheSize
	if size <= 0 {
		size = defaultCacheSize
	}
	for len(v.seen) >= size && len(v.order) > 0 {
		delete(v.seen, v.order[0])
		v.order = v.order[1:]
	}
	v.seen[jti] = keepUntil
	v.order = append(v.order, jti)
	return nil
}

// key returns the EdDSA key for kid, refetching the JWKS on an unknown kid at most once a minute.
func (v *Verifier) key(kid string) (ed25519.PublicKey, error) {
	v.keysMu.Lock()
	defer v.keysMu.Unlock()
	if _, ok := v.keys[kid]; !ok && v.now().Sub(v.fetched) >= jwksCooldown {
		v.fetched = v.now()
		keys, err := fetchJWKS(v.JWKSURL)
		if err != nil {
			return nil, Rejected("jwks_unavailable")
		}
		v.keys = keys
	}
	if key, ok := v.keys[kid]; ok {
		return key, nil
	}
	return nil, Rejected("unknown_kid")
}

func fetchJWKS(url string) (map[string]ed25519.PublicKey, error) {
	res, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var set struct {
		Keys []struct{ Kty, Crv, X, Kid string }
	}
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil || res.StatusCode != 200 {
		return nil, Rejected("jwks_unavailable")
	}
	keys := map[string]ed25519.PublicKey{}
	for _, k := range set.Keys {
		if x, err := b64url.DecodeString(k.X); err == nil && k.Crv == "Ed25519" && len(x) == ed25519.PublicKeySize {
			keys[k.Kid] = ed25519.PublicKey(x)
		}
	}
	return keys, nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func decodeJSON(segment string, into any) bool {
	raw, err := b64url.DecodeString(segment)
	return err == nil && json.Unmarshal(raw, into) == nil
}

func str(c Claims, name string) string {
	s, _ := c[name].(string)
	return s
}

func hasAudience(aud any, want string) bool {
	if s, ok := aud.(string); ok {
		return s == want
	}
	list, _ := aud.([]any)
	for _, a := range list {
		if a == want {
			return true
		}
	}
	return false
}

// authority compares hosts case-insensitively with the scheme's default port implied.
func authority(value, scheme string) string {
	value = strings.ToLower(value)
	port := map[string]string{"http": ":80", "https": ":443"}[strings.ToLower(scheme)]
	if port != "" {
		value = strings.TrimSuffix(value, port)
	}
	return value
}
