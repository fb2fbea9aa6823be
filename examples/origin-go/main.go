// A runnable origin behind Gatehouse: every request must carry a valid Gatehouse-Assertion.
// Answers 200 with JSON {"ok": true, "claims", "method", "target", "body_bytes"}, or 401 with
// {"ok": false, "reason"} (a demo: a production origin would log the reason and answer less).
//
//	ORIGIN_SECRET="$ORIGIN_SECRET_DEMO" go run . -port 8790 -issuer http://127.0.0.1:8787
//	go run . -port 8790 -issuer http://127.0.0.1:8787 \
//	    -jwks-url http://127.0.0.1:8787/.well-known/origin-assertion-jwks.json
//
// -audience defaults to http://127.0.0.1:<port> (the route's origin); -clock-offset shifts this
// origin's clock, in seconds (tests use it to see an assertion arrive after it expired).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"
)

const maxBodyBytes = 16 << 20

func main() {
	port := flag.Int("port", 8790, "port to listen on (127.0.0.1)")
	issuer := flag.String("issuer", envOr("GATEHOUSE_PUBLIC_URL", "http://127.0.0.1:8787"), "the gateway's public_url")
	audience := flag.String("audience", "", "this origin's audience (default http://127.0.0.1:<port>)")
	jwksURL := flag.String("jwks-url", "", "EdDSA: <public_url>/.well-known/origin-assertion-jwks.json")
	offset := flag.Float64("clock-offset", 0, "seconds added to this origin's clock (tests)")
	flag.Parse()
	if *audience == "" {
		*audience = fmt.Sprintf("http://127.0.0.1:%d", *port)
	}
	secret := ""
	if *jwksURL == "" {
		// HS256: from the environment, never a flag (the process list shows flags to every local user).
		secret = os.Getenv("ORIGIN_SECRET")
		if secret == "" {
			log.Fatal("set ORIGIN_SECRET (HS256) or give -jwks-url (EdDSA)")
		}
	}
	v := &Verifier{
		Issuer: *issuer, Audience: *audience, Secret: secret, JWKSURL: *jwksURL,
		MaxSkewSeconds: defaultMaxSkewSecond,
		Now:            func() time.Time { return time.Now().Add(time.Duration(*offset * float64(time.Second))) },
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		if err != nil {
			answer(w, http.StatusRequestEntityTooLarge, map[string]any{"ok": false, "reason": "body_too_large"})
			return
		}
		claims, err := v.Verify(Request{
			Method: r.Method, Host: r.Host, Target: r.RequestURI,
			Assertions: r.Header.Values("Gatehouse-Assertion"), Body: body,
		})
		var rejected Rejected
		if errors.As(err, &rejected) {
			answer(w, http.StatusUnauthorized, map[string]any{"ok": false, "reason": rejected})
			return
		}
		answer(w, http.StatusOK, map[string]any{
			"ok": true, "claims": claims, "method": r.Method, "target": r.RequestURI, "body_bytes": len(body),
		})
	})
	fmt.Printf("go origin listening on http://127.0.0.1:%d\n", *port)
	log.Fatal(http.ListenAndServe(fmt.Sprintf("127.0.0.1:%d", *port), nil))
}

func answer(w http.ResponseWriter, status int, payload map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(payload)
}

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}
