// security_integration_test.go owns the end-to-end security checks of issue #5 that unit tests
// cannot make: the real fluxlit binary on loopback verifying tokens minted by a real JWT library
// (Debian's python3-jwt), a JWKS URL rotating and going away, proxy trust over IPv4 and IPv6 with
// HSTS, rate limiting, CORS preflights, max_connections, and a registry of every secret the tests
// send so that no fluxlit log (or the debug page) is ever found holding one.

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// secintPython is Debian's interpreter with python3-jwt and python3-cryptography: the "real
// library" the tokens come from. It is not the Streamlit launcher, which lacks PyJWT.
const secintPython = "/usr/bin/python3"

const (
	// secintSignTimeout bounds one run of the Python signer; it signs a few dozen tokens in
	// well under a second, a loaded -race run may be much slower.
	secintSignTimeout = 60 * time.Second
	// secintStartWait bounds how long a fluxlit start may take to answer healthz.
	secintStartWait = 15 * time.Second
	// secintJWKSWait bounds the JWKS test's wait for one refresh: fluxlit fetches a JWKS URL at
	// most every jwksMinInterval (30 s) and that floor is a constant of the binary, so the test
	// waits it out (in parallel with the other tests) plus a margin for a loaded machine.
	secintJWKSWait = jwksMinInterval + 20*time.Second
	// secintHSTS is the default Strict-Transport-Security value: hsts_max_age_s (two years) and
	// includeSubDomains, see newSecurityHeaders.
	secintHSTS = "max-age=63072000; includeSubDomains"
)

// sentSecrets holds every secret, token and sensitive query value the tests sent, so any log or
// page can be checked for all of them (assertNoSecretsIn).
var sentSecrets struct {
	mu   sync.Mutex
	list []string
}

// noteSecret registers s as sent. Use long random values (secintSecret makes them): a short or
// common string would be found in logs by accident.
func noteSecret(s string) {
	if s == "" {
		return
	}
	sentSecrets.mu.Lock()
	sentSecrets.list = append(sentSecrets.list, s)
	sentSecrets.mu.Unlock()
}

// assertNoSecretsIn fails t for every registered secret that occurs in text. The secret itself
// is not printed in full, only enough to find where the test sent it.
func assertNoSecretsIn(t *testing.T, text string) {
	t.Helper()
	sentSecrets.mu.Lock()
	list := append([]string(nil), sentSecrets.list...)
	sentSecrets.mu.Unlock()
	for _, s := range list {
		if i := strings.Index(text, s); i >= 0 {
			t.Errorf("a secret the tests sent (%.6s..., %d bytes) appears in logged text at byte %d: ...%s...",
				s, len(s), i, secintMask(text, i, len(s)))
		}
	}
}

// secintMask shows up to 80 bytes around text[i:i+n] with the secret itself masked.
func secintMask(text string, i, n int) string {
	lo, hi := max(0, i-80), min(len(text), i+n+80)
	return text[lo:i] + "<SECRET>" + text[i+n:hi]
}

// secintSecret returns a fresh random value with a readable prefix, registered as sent.
func secintSecret(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	s := prefix + hex.EncodeToString(b)
	noteSecret(s)
	return s
}

// secintSecretQuery is a query string with fresh secrets in the keys fluxlit must redact
// (token, code, state, access_token) and one harmless key that may be logged.
func secintSecretQuery(t *testing.T) string {
	return "token=" + secintSecret(t, "qtok") + "&code=" + secintSecret(t, "qcode") +
		"&state=" + secintSecret(t, "qstate") + "&access_token=" + secintSecret(t, "qat") + "&page=2"
}

// secintNoteToken registers a JWT and, separately, its signature, which would identify the token
// even if a log printed only a part of it.
func secintNoteToken(tok string) {
	noteSecret(tok)
	if i := strings.LastIndexByte(tok, '.'); i >= 0 && len(tok)-i > 16 {
		noteSecret(tok[i+1:])
	}
}

// secintNoKeepAlive is the client for readiness polls: an idle keep-alive connection would hold
// one of max_connections' slots.
var secintNoKeepAlive = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// secintLaunch starts `fluxlit run --no-pidfile args...` with env on host ("" for 127.0.0.1, or
// "::1"), waits for healthz and, at cleanup after the process has stopped, greps its whole log
// for every registered secret.
func secintLaunch(t *testing.T, env []string, host string, args ...string) *fluxlitProc {
	t.Helper()
	var p *fluxlitProc
	// Registered before launchFluxlit's own cleanup, so it runs after fluxlit has stopped and
	// its shutdown lines are in the log too.
	t.Cleanup(func() {
		if p != nil {
			assertNoSecretsIn(t, p.log.String())
		}
	})
	full := append([]string{"run", "--no-pidfile"}, args...)
	if host != "" {
		full = append(full, "--host", host)
	}
	p = launchFluxlit(t, t.TempDir(), env, full...)
	if host != "" {
		p.base = "http://" + net.JoinHostPort(host, strconv.Itoa(p.port))
	}
	deadline := time.Now().Add(secintStartWait)
	for {
		select {
		case <-p.done:
			t.Fatalf("fluxlit exited before healthz answered: %v\n%s", p.err, p.log.String())
		default:
		}
		if res, err := secintNoKeepAlive.Get(p.base + "/api/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/api/healthz did not answer 200 within %v\n%s", p.base, secintStartWait, p.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// secintDo sends one request with hdr (canonical or not, as given) and returns the response and
// body. Redirects are not followed.
func secintDo(t *testing.T, method, url string, hdr http.Header) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(res.Body)
	return res, buf.Bytes()
}

// secintHdr builds a header from name, value pairs.
func secintHdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// secintEcho is what testdata/apps/api's /echo reports.
type secintEcho struct {
	Headers     map[string]string `json:"headers"`
	RawHeaders  [][2]string       `json:"raw_headers"`
	QueryParams map[string]string `json:"query_params"`
}

func secintParseEcho(t *testing.T, body []byte) secintEcho {
	t.Helper()
	var e secintEcho
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("echo body %.300q: %v", body, err)
	}
	return e
}

// count returns how many times header name (lower case) reached the API.
func (e secintEcho) count(name string) int {
	n := 0
	for _, kv := range e.RawHeaders {
		if kv[0] == name {
			n++
		}
	}
	return n
}

// --- keys and tokens -----------------------------------------------------------------------

// secintKeys are the test's signing keys, generated in Go; the private halves are written as
// PKCS#8 PEM for the Python signer, the public halves go to fluxlit as PEM or JWKS.
type secintKeys struct {
	rsa                     *rsa.PrivateKey
	ec                      *ecdsa.PrivateKey
	ed                      ed25519.PrivateKey
	rsaFile, ecFile, edFile string
	hs                      string // HS256 secret, 64 hex characters (RFC 7518 wants >= 32 bytes)
}

func secintNewKeys(t *testing.T, dir string) *secintKeys {
	t.Helper()
	k := &secintKeys{}
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	k.rsaFile = secintWritePrivate(t, filepath.Join(dir, "rsa.key"), k.rsa)
	k.ecFile = secintWritePrivate(t, filepath.Join(dir, "ec.key"), k.ec)
	k.edFile = secintWritePrivate(t, filepath.Join(dir, "ed.key"), k.ed)
	k.hs = secintSecret(t, "hs256-secret-")
	return k
}

func secintWritePrivate(t *testing.T, path string, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func secintPublicPEM(t *testing.T, pubs ...any) []byte {
	t.Helper()
	var out []byte
	for _, pub := range pubs {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})...)
	}
	return out
}

// secintJWK renders a public key as a JWK (RFC 7517/7518/8037) with kid and alg.
func secintJWK(t *testing.T, kid, alg string, pub any) map[string]any {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	j := map[string]any{"kid": kid, "alg": alg, "use": "sig"}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		j["kty"], j["n"], j["e"] = "RSA", b64(k.N.Bytes()), b64(secintExponentBytes(k.E))
	case *ecdsa.PublicKey:
		pt, err := k.Bytes() // 0x04 || X || Y
		if err != nil {
			t.Fatal(err)
		}
		size := (len(pt) - 1) / 2
		j["kty"], j["crv"], j["x"], j["y"] = "EC", "P-256", b64(pt[1:1+size]), b64(pt[1+size:])
	case ed25519.PublicKey:
		j["kty"], j["crv"], j["x"] = "OKP", "Ed25519", b64(k)
	default:
		t.Fatalf("secintJWK: %T", pub)
	}
	return j
}

// secintExponentBytes is an RSA exponent as big-endian bytes without leading zeros.
func secintExponentBytes(e int) []byte {
	var b []byte
	for ; e > 0; e >>= 8 {
		b = append([]byte{byte(e)}, b...)
	}
	return b
}

func secintJWKS(t *testing.T, keys ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// secintSignerPy signs each request of a JSON list with PyJWT and prints the tokens as a JSON
// list. key is a PEM private key file; secret an HMAC secret.
const secintSignerPy = `import json, sys
import jwt
out = []
for req in json.load(sys.stdin):
    key = req["secret"] if req.get("secret") else open(req["key"]).read()
    out.append(jwt.encode(req["claims"], key, algorithm=req["alg"], headers=req.get("headers") or None))
json.dump(out, sys.stdout)
`

// secintTokenReq is one token for the Python signer.
type secintTokenReq struct {
	Alg     string         `json:"alg"`
	Key     string         `json:"key,omitempty"`
	Secret  string         `json:"secret,omitempty"`
	Claims  map[string]any `json:"claims"`
	Headers map[string]any `json:"headers,omitempty"`
}

var secintPyJWT struct {
	once sync.Once
	algs map[string]bool
	err  error
}

// secintRequirePyJWT skips (or fails under FLUXLIT_REQUIRE_INTEGRATION=1) without python3-jwt
// and python3-cryptography, and returns the algorithms PyJWT can sign.
func secintRequirePyJWT(t *testing.T) map[string]bool {
	t.Helper()
	skipInShortMode(t, "integration test (python3-jwt)")
	secintPyJWT.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), secintSignTimeout)
		defer cancel()
		out, err := exec.CommandContext(ctx, secintPython, "-c",
			"import json, cryptography, jwt.algorithms as a; print(json.dumps(sorted(a.get_default_algorithms())))").CombinedOutput()
		if err != nil {
			secintPyJWT.err = fmt.Errorf("%s cannot import jwt and cryptography (apt install python3-jwt python3-cryptography): %v: %s", secintPython, err, bytes.TrimSpace(out))
			return
		}
		var names []string
		if err := json.Unmarshal(out, &names); err != nil {
			secintPyJWT.err = fmt.Errorf("PyJWT algorithm list %q: %v", out, err)
			return
		}
		secintPyJWT.algs = map[string]bool{}
		for _, n := range names {
			secintPyJWT.algs[n] = true
		}
	})
	if secintPyJWT.err != nil {
		harnessUnavailable(t, "%v", secintPyJWT.err)
	}
	return secintPyJWT.algs
}

// secintSign has PyJWT sign reqs and registers every token as a secret.
func secintSign(t *testing.T, reqs []secintTokenReq) []string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "sign.py")
	if err := os.WriteFile(script, []byte(secintSignerPy), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := json.Marshal(reqs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), secintSignTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, secintPython, script)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("PyJWT signer: %v: %s", err, stderr.Bytes())
	}
	var toks []string
	if err := json.Unmarshal(out, &toks); err != nil || len(toks) != len(reqs) {
		t.Fatalf("PyJWT signer output %q: %v; want %d tokens", out, err, len(reqs))
	}
	for _, tok := range toks {
		secintNoteToken(tok)
	}
	return toks
}

// secintTamper changes the payload of a signed token and keeps its signature.
func secintTamper(t *testing.T, tok string, change func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d segments", tok, len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	b, _ := json.Marshal(m)
	out := parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	secintNoteToken(out)
	return out
}

// secintJSONEqual compares two JSON documents by value.
func secintJSONEqual(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// --- 1. tokens from a real library ----------------------------------------------------------

const (
	secintIssuer   = "https://idp.secint.test"
	secintAudience = "fluxlit-api"
	secintScope    = "echo:read"
)

func TestSecIntRealLibraryTokens(t *testing.T) {
	requireIntegration(t, "fastapi")
	pyAlgs := secintRequirePyJWT(t)
	api := startUvicorn(t, apiAppDir(t), "app:app", "--root-path", "/api")
	uiSeen := make(chan http.Header, 8)
	ui := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/page" {
			return // readyz probes
		}
		select {
		case uiSeen <- r.Header.Clone():
		default:
		}
	})

	dir := t.TempDir()
	keys := secintNewKeys(t, dir)
	pemFile := filepath.Join(dir, "public.pem")
	jwksFile := filepath.Join(dir, "jwks.json")
	writeFile(t, pemFile, string(secintPublicPEM(t, &keys.rsa.PublicKey)))
	writeFile(t, jwksFile, string(secintJWKS(t,
		secintJWK(t, "ec-1", "ES256", &keys.ec.PublicKey),
		secintJWK(t, "ed-1", "EdDSA", keys.ed.Public()))))
	env := []string{
		"FLUXLIT_JWT_PUBLIC_KEY_FILE=" + pemFile, // RS256 and PS256
		"FLUXLIT_JWT_JWKS_FILE=" + jwksFile,      // ES256 and EdDSA, by kid
		"FLUXLIT_JWT_HS256_SECRET=" + keys.hs,
		"FLUXLIT_JWT_ISSUER=" + secintIssuer,
		"FLUXLIT_JWT_AUDIENCE=" + secintAudience,
		"FLUXLIT_JWT_REQUIRED_SCOPES=" + secintScope,
		"FLUXLIT_JWT_PROTECT=/*", // edge JWT is on where jwt_protect says
	}
	p := secintLaunch(t, env, "", "--api-upstream", api, "--streamlit-upstream", ui)

	type alg struct{ name, key, secret, kid string }
	algs := []alg{{"RS256", keys.rsaFile, "", ""}, {"PS256", keys.rsaFile, "", ""},
		{"ES256", keys.ecFile, "", "ec-1"}, {"HS256", "", keys.hs, ""}, {"EdDSA", keys.edFile, "", "ed-1"}}
	for _, a := range algs {
		if !pyAlgs[a.name] {
			t.Fatalf("PyJWT (%s) cannot sign %s; the README promises it (python3-jwt with python3-cryptography can)", secintPython, a.name)
		}
	}
	now := time.Now().Unix()
	claimsFor := func(a alg, scope string, exp int64) map[string]any {
		return map[string]any{"iss": secintIssuer, "aud": secintAudience, "sub": "user-" + a.name,
			"scope": scope, "iat": now - 5, "exp": exp, "name": "Ada " + a.name, "groups": []string{"a", "b"}}
	}
	var reqs []secintTokenReq
	for _, a := range algs {
		var hdr map[string]any
		if a.kid != "" {
			hdr = map[string]any{"kid": a.kid}
		}
		for _, c := range []map[string]any{
			claimsFor(a, secintScope+" profile", now+600), // good
			claimsFor(a, secintScope, now-60),             // expired a minute ago
			claimsFor(a, "profile", now+600),              // valid, without the required scope
		} {
			reqs = append(reqs, secintTokenReq{Alg: a.name, Key: a.key, Secret: a.secret, Claims: c, Headers: hdr})
		}
	}
	toks := secintSign(t, reqs)

	const invalid = `Bearer error="invalid_token", error_description="invalid token"`
	const expired = `Bearer error="invalid_token", error_description="token expired"`
	const scope = `Bearer error="insufficient_scope", scope="` + secintScope + `"`
	for i, a := range algs {
		good, old, noScope := toks[3*i], toks[3*i+1], toks[3*i+2]
		t.Run(a.name, func(t *testing.T) {
			// A client-sent identity must never reach the API: the token's replaces it.
			hdr := secintHdr("Authorization", "Bearer "+good, "X-Fluxlit-Sub", "forged-admin",
				"X-Fluxlit-Scopes", "admin", "X-Fluxlit-Claims", "e30", "X-Fluxlit-Role", "admin")
			res, body := secintDo(t, "GET", p.base+"/api/echo?"+secintSecretQuery(t), hdr)
			if res.StatusCode != 200 {
				t.Fatalf("good %s token: %d %s; want 200", a.name, res.StatusCode, body)
			}
			e := secintParseEcho(t, body)
			if got := e.Headers["x-fluxlit-sub"]; got != "user-"+a.name || e.count("x-fluxlit-sub") != 1 {
				t.Errorf("API X-Fluxlit-Sub %q (%d times); want %q once", got, e.count("x-fluxlit-sub"), "user-"+a.name)
			}
			if got, ok := e.Headers["x-fluxlit-role"]; ok {
				t.Errorf("API received the client's X-Fluxlit-Role %q; want it removed", got)
			}
			if got := e.Headers["x-fluxlit-scopes"]; got != secintScope+" profile" {
				t.Errorf("API X-Fluxlit-Scopes %q; want %q", got, secintScope+" profile")
			}
			claims, err := base64.RawURLEncoding.DecodeString(e.Headers["x-fluxlit-claims"])
			want, _ := json.Marshal(reqs[3*i].Claims)
			if err != nil || !secintJSONEqual(claims, want) || e.count("x-fluxlit-claims") != 1 {
				t.Errorf("API X-Fluxlit-Claims decodes to %s (%v, %d headers); want the token's claims %s",
					claims, err, e.count("x-fluxlit-claims"), want)
			}

			tampered := secintTamper(t, good, func(m map[string]any) { m["sub"] = "admin" })
			for _, c := range []struct {
				name, token string
				status      int
				challenge   string
			}{
				{"tampered", tampered, 401, invalid},
				{"expired", old, 401, expired},
				{"missing scope", noScope, 403, scope},
				{"no token", "", 401, "Bearer"},
			} {
				h := http.Header{}
				if c.token != "" {
					h.Set("Authorization", "Bearer "+c.token)
				}
				res, body := secintDo(t, "GET", p.base+"/api/echo?"+secintSecretQuery(t), h)
				if res.StatusCode != c.status || res.Header.Get("WWW-Authenticate") != c.challenge {
					t.Errorf("%s: got %d WWW-Authenticate %q; want %d %q (%s)", c.name,
						res.StatusCode, res.Header.Get("WWW-Authenticate"), c.status, c.challenge, body)
				}
				if bytes.Contains(body, []byte("user-")) {
					t.Errorf("%s: the rejection reached the API: %s", c.name, body)
				}
			}
		})
	}

	t.Run("public paths", func(t *testing.T) {
		for _, path := range []string{"/api/healthz", "/api/readyz", "/api/docs", "/api/openapi.json", "/docs"} {
			res, body := secintDo(t, "GET", p.base+path, nil)
			want := 200
			if path == "/docs" {
				want = 307 // fluxlit's redirect to /api/docs, itself public
			}
			if res.StatusCode != want || res.Header.Get("WWW-Authenticate") != "" {
				t.Errorf("%s without a token: %d (WWW-Authenticate %q); want %d, no challenge: %.200s",
					path, res.StatusCode, res.Header.Get("WWW-Authenticate"), want, body)
			}
		}
	})

	t.Run("streamlit hop", func(t *testing.T) {
		hdr := secintHdr("Authorization", "Bearer "+toks[0], "X-Fluxlit-Sub", "forged-admin", "x-fluxlit-claims", "e30")
		res, _ := secintDo(t, "GET", p.base+"/page", hdr)
		if res.StatusCode != 200 {
			t.Fatalf("/page: %d", res.StatusCode)
		}
		select {
		case h := <-uiSeen:
			for k := range h {
				if strings.HasPrefix(strings.ToLower(k), "x-fluxlit-") || k == "Authorization" {
					t.Errorf("the Streamlit stand-in received %s: %q", k, h[k])
				}
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the Streamlit stand-in saw no request")
		}
	})
}

// --- 2. JWKS over HTTP ----------------------------------------------------------------------

// secintJWKSServer serves a replaceable JWKS document with Cache-Control: max-age=0 (fluxlit
// floors that at jwksMinInterval) and counts fetches.
type secintJWKSServer struct {
	mu      sync.Mutex
	doc     []byte
	fetches atomic.Int32
}

func (s *secintJWKSServer) set(doc []byte) {
	s.mu.Lock()
	s.doc = doc
	s.mu.Unlock()
}

func (s *secintJWKSServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.fetches.Add(1)
	s.mu.Lock()
	doc := s.doc
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "max-age=0")
	w.Write(doc)
}

// TestSecIntJWKSRotationAndOutage is the end-to-end counterpart of TestJWKSRemoteRotation and
// TestJWKSRemoteOutageKeepsLastGood: instance A sees its IdP add a key (new kid verifies after
// exactly one more fetch), instance B sees its IdP stop (the last good keys keep verifying after
// a failed refresh). Both wait out jwksMinInterval, so the test runs in parallel.
func TestSecIntJWKSRotationAndOutage(t *testing.T) {
	t.Parallel()
	requireIntegration(t, "fastapi")
	secintRequirePyJWT(t)
	api := startUvicorn(t, apiAppDir(t), "app:app", "--root-path", "/api")
	ui := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {})

	dir := t.TempDir()
	var ecKeys [3]*ecdsa.PrivateKey
	var ecFiles [3]string
	for i := range ecKeys {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		ecKeys[i], ecFiles[i] = k, secintWritePrivate(t, filepath.Join(dir, fmt.Sprintf("ec%d.key", i)), k)
	}
	jwk := func(i int) map[string]any {
		return secintJWK(t, fmt.Sprintf("kid-%d", i), "ES256", &ecKeys[i].PublicKey)
	}
	now := time.Now().Unix()
	claims := map[string]any{"sub": "rotating-user", "exp": now + 900, "iat": now - 5}
	var reqs []secintTokenReq
	for i := range ecKeys {
		reqs = append(reqs, secintTokenReq{Alg: "ES256", Key: ecFiles[i], Claims: claims,
			Headers: map[string]any{"kid": fmt.Sprintf("kid-%d", i)}})
	}
	toks := secintSign(t, reqs)
	bearer := func(i int) http.Header { return secintHdr("Authorization", "Bearer "+toks[i]) }

	idpA := &secintJWKSServer{doc: secintJWKS(t, jwk(0))}
	srvA := httptest.NewServer(idpA)
	t.Cleanup(srvA.Close)
	idpB := &secintJWKSServer{doc: secintJWKS(t, jwk(2))}
	srvB := httptest.NewServer(idpB) // closed mid-test: the IdP going away
	t.Cleanup(srvB.Close)
	a := secintLaunch(t, []string{"FLUXLIT_JWT_JWKS_URL=" + srvA.URL + "/jwks", "FLUXLIT_JWT_PROTECT=/*"}, "", "--api-upstream", api, "--streamlit-upstream", ui)
	b := secintLaunch(t, []string{"FLUXLIT_JWT_JWKS_URL=" + srvB.URL + "/jwks", "FLUXLIT_JWT_PROTECT=/*"}, "", "--api-upstream", api, "--streamlit-upstream", ui)

	if res, body := secintDo(t, "GET", a.base+"/api/echo", bearer(0)); res.StatusCode != 200 {
		t.Fatalf("A, kid-0 before rotation: %d %s", res.StatusCode, body)
	}
	if res, body := secintDo(t, "GET", b.base+"/api/echo", bearer(2)); res.StatusCode != 200 {
		t.Fatalf("B, kid-2 before the outage: %d %s", res.StatusCode, body)
	}
	idpA.set(secintJWKS(t, jwk(0), jwk(1))) // the IdP publishes its next key
	srvB.Close()

	// Within jwksMinInterval the unknown kid must not make fluxlit fetch again.
	if res, _ := secintDo(t, "GET", a.base+"/api/echo", bearer(1)); res.StatusCode != 401 || idpA.fetches.Load() != 1 {
		t.Errorf("A, kid-1 right after rotation: %d after %d fetches; want 401 and no new fetch (rate-bounded refresh)",
			res.StatusCode, idpA.fetches.Load())
	}
	rotated, outageSeen := false, false
	deadline := time.Now().Add(secintJWKSWait)
	for (!rotated || !outageSeen) && time.Now().Before(deadline) {
		time.Sleep(time.Second)
		if !rotated {
			res, _ := secintDo(t, "GET", a.base+"/api/echo", bearer(1))
			rotated = res.StatusCode == 200
		}
		if !outageSeen {
			// Every request must verify, before and after the failed refresh.
			if res, body := secintDo(t, "GET", b.base+"/api/echo", bearer(2)); res.StatusCode != 200 {
				t.Fatalf("B with its IdP down: %d %s; want 200 from the last good key set", res.StatusCode, body)
			}
			outageSeen = strings.Contains(b.log.String(), "jwks fetch failed")
		}
	}
	if !rotated {
		t.Fatalf("A: kid-1 still refused %v after rotation", secintJWKSWait)
	}
	if n := idpA.fetches.Load(); n != 2 {
		t.Errorf("A fetched the JWKS %d times; want 2 (start, then one refresh for kid-1)", n)
	}
	if res, _ := secintDo(t, "GET", a.base+"/api/echo", bearer(0)); res.StatusCode != 200 {
		t.Errorf("A, kid-0 after rotation: %d; want 200 (still published)", res.StatusCode)
	}
	if !outageSeen {
		t.Fatalf("B never logged a failed JWKS refresh within %v", secintJWKSWait)
	}
	if res, body := secintDo(t, "GET", b.base+"/api/echo", bearer(2)); res.StatusCode != 200 {
		t.Errorf("B after a failed refresh: %d %s; want 200", res.StatusCode, body)
	}
	if res, _ := secintDo(t, "GET", b.base+"/api/echo", bearer(0)); res.StatusCode != 401 {
		t.Errorf("B, a kid its IdP never published: %d; want 401", res.StatusCode)
	}
}

// --- 3. proxy trust and HSTS ----------------------------------------------------------------

func TestSecIntProxyTrustAndHSTS(t *testing.T) {
	requireIntegration(t, "fastapi")
	api := startUvicorn(t, apiAppDir(t), "app:app", "--root-path", "/api")
	// The Streamlit stand-in sets its own HSTS on /sts: fluxlit must keep it and add none.
	ui := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sts" {
			w.Header().Set("Strict-Transport-Security", "max-age=300")
		}
	})
	env := []string{"FLUXLIT_ENABLE_SECURITY_HEADERS=true"}
	upstreams := []string{"--api-upstream", api, "--streamlit-upstream", ui, "--proxy-headers"}
	cases := []struct {
		name, host, allow string
		trusted           bool
		peer              string // how fluxlit renders the loopback peer in X-Forwarded-For
	}{
		{"IPv4 trusted 127.0.0.0/8", "", "127.0.0.0/8", true, "127.0.0.1"},
		{"IPv4 untrusted", "", "10.0.0.0/8", false, "127.0.0.1"},
		{"IPv6 trusted ::1/128", "::1", "::1/128", true, "::1"},
		{"IPv6 peer, only 127.0.0.1 trusted", "::1", "127.0.0.1", false, "::1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := secintLaunch(t, env, c.host, append(upstreams, "--forwarded-allow-ips", c.allow)...)
			fwd := secintHdr("X-Forwarded-For", "203.0.113.7", "X-Forwarded-Proto", "https",
				"X-Forwarded-Host", "public.example")
			res, body := secintDo(t, "GET", p.base+"/api/echo", fwd)
			if res.StatusCode != 200 {
				t.Fatalf("/api/echo: %d %s", res.StatusCode, body)
			}
			e := secintParseEcho(t, body)
			wantXFF, wantProto, wantHost := c.peer, "http", net.JoinHostPort(c.host, strconv.Itoa(p.port))
			if c.host == "" {
				wantHost = "127.0.0.1:" + strconv.Itoa(p.port)
			}
			wantHSTS := []string(nil)
			if c.trusted {
				wantXFF, wantProto, wantHost = "203.0.113.7, "+c.peer, "https", "public.example"
				wantHSTS = []string{secintHSTS}
			}
			got := [3]string{e.Headers["x-forwarded-for"], e.Headers["x-forwarded-proto"], e.Headers["x-forwarded-host"]}
			if want := [3]string{wantXFF, wantProto, wantHost}; got != want {
				t.Errorf("API saw X-Forwarded-For/-Proto/-Host %q; want %q", got, want)
			}
			if h := res.Header.Values("Strict-Transport-Security"); !reflect.DeepEqual(h, wantHSTS) {
				t.Errorf("HSTS with X-Forwarded-Proto: https: %q; want %q", h, wantHSTS)
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("X-Content-Type-Options %q; want nosniff", res.Header.Get("X-Content-Type-Options"))
			}
			res, _ = secintDo(t, "GET", p.base+"/api/echo", nil)
			if h := res.Header.Values("Strict-Transport-Security"); h != nil {
				t.Errorf("HSTS over plain http without forwarding headers: %q; want none", h)
			}
			res, _ = secintDo(t, "GET", p.base+"/sts", fwd)
			if h := res.Header.Values("Strict-Transport-Security"); !reflect.DeepEqual(h, []string{"max-age=300"}) {
				t.Errorf("upstream's own HSTS through fluxlit: %q; want exactly [max-age=300]", h)
			}
		})
	}
}

// --- 4. rate limiting -----------------------------------------------------------------------

// TestSecIntRateLimit runs rate_limit_rps=2, rate_limit_burst=3 against the binary: a bucket per
// client address (from a trusted X-Forwarded-For) and per verified JWT subject. That memory
// stays bounded under a million distinct addresses is TestRateLimiterMillionKeysBounded in
// ratelimit_test.go.
func TestSecIntRateLimit(t *testing.T) {
	requireIntegration(t, "go") // only the binary: the upstreams are Go stand-ins
	secintRequirePyJWT(t)
	type seen struct {
		path string
		sub  []string
	}
	var mu sync.Mutex
	var reached []seen
	api := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached = append(reached, seen{r.URL.Path, r.Header.Values("X-Fluxlit-Sub")})
		mu.Unlock()
	})
	ui := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {})
	hs := secintSecret(t, "rl-hs256-secret-")
	now := time.Now().Unix()
	toks := secintSign(t, []secintTokenReq{
		{Alg: "HS256", Secret: hs, Claims: map[string]any{"sub": "alice", "exp": now + 900}},
		{Alg: "HS256", Secret: hs, Claims: map[string]any{"sub": "bob", "exp": now + 900}},
	})
	p := secintLaunch(t, []string{"FLUXLIT_RATE_LIMIT_RPS=2", "FLUXLIT_RATE_LIMIT_BURST=3",
		"FLUXLIT_JWT_HS256_SECRET=" + hs, "FLUXLIT_JWT_PROTECT=/private/*"},
		"", "--api-upstream", api, "--streamlit-upstream", ui, "--proxy-headers")

	// burst sends four requests as fast as they go: three pass, the fourth is refused with
	// Retry-After 1 (at 2 rps the next token is at most 0.5 s away, rounded up to whole seconds).
	burst := func(name, path string, hdr http.Header) {
		t.Helper()
		start := time.Now()
		var codes []int
		var last *http.Response
		var lastBody []byte
		for i := 0; i < 4; i++ {
			res, body := secintDo(t, "GET", p.base+path, hdr)
			codes = append(codes, res.StatusCode)
			last, lastBody = res, body
		}
		if want := []int{200, 200, 200, 429}; !reflect.DeepEqual(codes, want) {
			t.Errorf("%s: statuses %v in %v; want %v", name, codes, time.Since(start), want)
			return
		}
		if ra := last.Header.Get("Retry-After"); ra != "1" {
			t.Errorf("%s: Retry-After %q; want \"1\"", name, ra)
		}
		if !bytes.Contains(lastBody, []byte(`"error":"rate limit exceeded"`)) || last.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: 429 body %q (%s); want the JSON error", name, lastBody, last.Header.Get("Content-Type"))
		}
	}
	xff := func(ip string, kv ...string) http.Header {
		return secintHdr(append([]string{"X-Forwarded-For", ip}, kv...)...)
	}

	// A forged identity on an unprotected API path is dropped, not passed on.
	secintDo(t, "GET", p.base+"/api/public/whoami", xff("198.51.100.50", "X-Fluxlit-Sub", "forged-admin"))
	burst("client 198.51.100.1", "/api/public/a", xff("198.51.100.1"))
	burst("client 198.51.100.2 (own bucket)", "/api/public/b", xff("198.51.100.2"))
	// Subjects are keyed by sub, not address: alice comes from the exhausted 198.51.100.1.
	burst("subject alice", "/api/private/c", xff("198.51.100.1", "Authorization", "Bearer "+toks[0]))
	burst("subject bob (own bucket)", "/api/private/d", xff("198.51.100.1", "Authorization", "Bearer "+toks[1]))

	time.Sleep(time.Second) // Retry-After
	if res, _ := secintDo(t, "GET", p.base+"/api/public/e", xff("198.51.100.1")); res.StatusCode != 200 {
		t.Errorf("client 198.51.100.1 after waiting Retry-After: %d; want 200", res.StatusCode)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(reached) != 1+4*3+1 {
		t.Errorf("%d requests reached the API; want 14 (no 429 is proxied)", len(reached))
	}
	want := map[string]string{"/public/whoami": "", "/private/c": "alice", "/private/d": "bob"}
	for _, s := range reached {
		if w, ok := want[s.path]; ok && strings.Join(s.sub, ",") != w {
			t.Errorf("API %s got X-Fluxlit-Sub %q; want %q", s.path, s.sub, w)
		}
	}
}

// --- 5. CORS --------------------------------------------------------------------------------

func TestSecIntCORS(t *testing.T) {
	requireIntegration(t, "go") // only the binary: the upstreams are Go stand-ins
	var reached atomic.Int32
	api := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.Header().Set("Access-Control-Allow-Origin", "*") // a careless app: fluxlit owns CORS
	})
	ui := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {})
	const origin = "https://app.example.com"
	p := secintLaunch(t, []string{"FLUXLIT_CORS_ALLOW_ORIGINS=" + origin, "FLUXLIT_CORS_ALLOW_CREDENTIALS=true"},
		"", "--api-upstream", api, "--streamlit-upstream", ui)

	preflight := func(from string) *http.Response {
		res, _ := secintDo(t, "OPTIONS", p.base+"/api/items", secintHdr("Origin", from,
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type, authorization"))
		return res
	}
	res := preflight(origin)
	want := map[string]string{
		"Access-Control-Allow-Origin":      origin,
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Methods":     "GET, POST, PUT, PATCH, DELETE, OPTIONS",
		"Access-Control-Allow-Headers":     "Authorization, Content-Type, X-Request-ID, Accept, Accept-Language, Content-Language",
		"Access-Control-Max-Age":           "600",
	}
	if res.StatusCode != 204 {
		t.Errorf("allowed preflight: %d; want 204", res.StatusCode)
	}
	for k, v := range want {
		if got := res.Header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("allowed preflight %s: %q; want [%q]", k, got, v)
		}
	}
	if !secintVaryHasOrigin(res.Header) {
		t.Errorf("allowed preflight Vary %q; want Origin listed", res.Header.Values("Vary"))
	}
	res = preflight("https://evil.example")
	if res.StatusCode != 403 || res.Header.Get("Access-Control-Allow-Origin") != "" || !secintVaryHasOrigin(res.Header) {
		t.Errorf("refused preflight: %d ACAO %q Vary %q; want 403, no ACAO, Vary: Origin",
			res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"), res.Header.Values("Vary"))
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("%d preflights reached the API; want 0 (answered by fluxlit)", n)
	}

	res, _ = secintDo(t, "GET", p.base+"/api/items", secintHdr("Origin", origin, "Cookie", "sid="+secintSecret(t, "cookie")))
	if got := res.Header.Values("Access-Control-Allow-Origin"); !reflect.DeepEqual(got, []string{origin}) ||
		res.Header.Get("Access-Control-Allow-Credentials") != "true" || !secintVaryHasOrigin(res.Header) {
		t.Errorf("credentialed GET: ACAO %q ACAC %q Vary %q; want [%s] (never *), true, Origin",
			got, res.Header.Get("Access-Control-Allow-Credentials"), res.Header.Values("Vary"), origin)
	}
	res, _ = secintDo(t, "GET", p.base+"/api/items", secintHdr("Origin", "https://evil.example"))
	if got := res.Header.Values("Access-Control-Allow-Origin"); got != nil || !secintVaryHasOrigin(res.Header) {
		t.Errorf("GET from a refused origin: ACAO %q Vary %q; want no ACAO (the upstream's * removed), Vary: Origin",
			got, res.Header.Values("Vary"))
	}
	if n := reached.Load(); n != 2 {
		t.Errorf("%d requests reached the API; want 2 (the GETs)", n)
	}

	t.Run("star with credentials", func(t *testing.T) {
		bad := launchFluxlit(t, t.TempDir(), []string{"FLUXLIT_CORS_ALLOW_ORIGINS=*", "FLUXLIT_CORS_ALLOW_CREDENTIALS=true"},
			"run", "--no-pidfile", "--api-upstream", api, "--streamlit-upstream", ui)
		if code := bad.exitCode(t, 10*time.Second); code != 2 {
			t.Errorf("exit code %d; want 2", code)
		}
		wantLine := "fluxlit: env FLUXLIT_CORS_ALLOW_ORIGINS: cors_allow_origins: \"*\" cannot be combined with cors_allow_credentials\n"
		if got := bad.log.String(); got != wantLine {
			t.Errorf("output %q; want %q", got, wantLine)
		}
	})
}

func secintVaryHasOrigin(h http.Header) bool {
	for _, v := range h.Values("Vary") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "Origin") {
				return true
			}
		}
	}
	return false
}

// --- 6. max_connections ---------------------------------------------------------------------

func TestSecIntMaxConnections(t *testing.T) {
	requireIntegration(t, "go") // only the binary: the upstreams are Go stand-ins
	api := goUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	// The slots are watched on metrics_listen, a listener of its own outside the cap: the
	// test waits for the gateway to have released or idled each connection before the next
	// step, instead of racing the goroutines that do it.
	metrics := "http://127.0.0.1:" + strconv.Itoa(freePort(t)) + "/__fluxlit/metrics"
	p := secintLaunch(t, []string{"FLUXLIT_MAX_CONNECTIONS=2", "FLUXLIT_ENABLE_GATEWAY_PROMETHEUS_METRICS=1",
		"FLUXLIT_METRICS_LISTEN=" + strings.TrimSuffix(strings.TrimPrefix(metrics, "http://"), "/__fluxlit/metrics")},
		"", "--api-upstream", api, "--streamlit-upstream", api)
	addr := "127.0.0.1:" + strconv.Itoa(p.port)
	slots := func(idle, busy int) {
		t.Helper()
		want := fmt.Sprintf("fluxlit_connections_open{state=\"idle\"} %d\nfluxlit_connections_open{state=\"busy\"} %d\n", idle, busy)
		deadline := time.Now().Add(10 * time.Second)
		for {
			res, err := secintNoKeepAlive.Get(metrics)
			if err == nil {
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if strings.Contains(string(body), want) {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("connection slots never became %d idle, %d busy (metrics: %v)", idle, busy, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	slots(0, 0) // the health probes' connections are gone

	// Two keep-alive connections, each served once and held open: both slots are taken.
	var held []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if status, err := secintRawGet(c, 10*time.Second); err != nil || status != 200 {
			t.Fatalf("connection %d: %d %v; want 200", i+1, status, err)
		}
		held = append(held, c)
		slots(i+1, 0)
	}
	// The third takes the slot of the connection idle the longest (the first), which is
	// closed; the second, idle for less time, keeps serving (#16: never silence at the cap).
	third, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if status, err := secintRawGet(third, 2*time.Second); err != nil || status != 200 {
		t.Fatalf("third connection with two idle ones held: %d %v; want 200 at once", status, err)
	}
	held[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := held[0].Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the connection idle the longest: read %v; want EOF (closed to make room)", err)
	}
	if status, err := secintRawGet(held[1], 5*time.Second); err != nil || status != 200 {
		t.Fatalf("second held connection after the third came: %d %v; want 200", status, err)
	}
}

// secintRawGet sends GET /api/x on c and reads the whole answer, leaving c open (keep-alive).
func secintRawGet(c net.Conn, within time.Duration) (int, error) {
	c.SetDeadline(time.Now().Add(within))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte("GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		return 0, err
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(res.Body)
	return res.StatusCode, err
}

// --- 7. no secrets in logs ------------------------------------------------------------------

// TestNoSecretsInLogs sends secrets every way a client can (redacted query keys, Authorization,
// Cookie, good and bad tokens, to both hops, to a dead upstream) with debug mode and debug-level
// logs on, then checks the log, the debug page, and every fluxlit log the suite has produced so
// far. Every secintLaunch also greps its own log at cleanup.
func TestNoSecretsInLogs(t *testing.T) {
	requireIntegration(t, "go") // only the binary: the upstreams are Go stand-ins
	secintRequirePyJWT(t)
	api := goUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) })
	ui := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {})
	dead := refusedPort(t)
	hs := secintSecret(t, "debug-hs256-secret-")
	now := time.Now().Unix()
	toks := secintSign(t, []secintTokenReq{{Alg: "HS256", Secret: hs, Claims: map[string]any{"sub": "carol", "exp": now + 900}}})
	env := []string{"FLUXLIT_DEBUG=true", "FLUXLIT_LOG_LEVEL=debug", "FLUXLIT_JWT_HS256_SECRET=" + hs,
		"FLUXLIT_JWT_PROTECT=/private/*"}
	p := secintLaunch(t, env, "", "--api-upstream", api, "--streamlit-upstream", ui)
	down := secintLaunch(t, env, "", "--api-upstream", dead, "--streamlit-upstream", dead)

	creds := func() http.Header {
		return secintHdr("Authorization", "Bearer "+secintSecret(t, "opaque-bearer-"),
			"Cookie", "sid="+secintSecret(t, "cookie-sid-"), "Proxy-Authorization", "Basic "+secintSecret(t, "proxy-"))
	}
	forged := secintTamper(t, toks[0], func(m map[string]any) { m["sub"] = "mallory" })
	for _, c := range []struct {
		base, path string
		hdr        http.Header
		status     int
	}{
		{p.base, "/api/public/x", creds(), 200},
		{p.base, "/api/private/x", secintHdr("Authorization", "Bearer "+toks[0], "Cookie", "sid="+secintSecret(t, "cookie-sid-")), 200},
		{p.base, "/api/private/x", secintHdr("Authorization", "Bearer "+forged), 401},
		{p.base, "/api/private/x", creds(), 401},
		{p.base, "/page", creds(), 200},
		{p.base, "/docs", creds(), 307},
		{down.base, "/api/public/x", creds(), 502},
		{down.base, "/page", creds(), 502},
	} {
		res, body := secintDo(t, "GET", c.base+c.path+"?"+secintSecretQuery(t), c.hdr)
		if res.StatusCode != c.status {
			t.Errorf("%s: %d; want %d (%s)", c.path, res.StatusCode, c.status, body)
		}
	}

	res, body := secintDo(t, "GET", p.base+"/__fluxlit/debug", nil)
	if res.StatusCode != 200 {
		t.Fatalf("/__fluxlit/debug: %d %s", res.StatusCode, body)
	}
	var dbg struct {
		Settings   map[string]any `json:"settings"`
		Dispatches []struct {
			Path string `json:"path"`
		} `json:"recent_dispatches"`
	}
	if err := json.Unmarshal(body, &dbg); err != nil {
		t.Fatalf("debug page: %v", err)
	}
	if got := dbg.Settings["jwt_hs256_secret"]; got != "[REDACTED]" {
		t.Errorf("debug page jwt_hs256_secret = %v; want [REDACTED]", got)
	}
	if len(dbg.Dispatches) < 6 {
		t.Errorf("debug page lists %d dispatches; want the requests just sent", len(dbg.Dispatches))
	}
	assertNoSecretsIn(t, string(body))

	// The grep must not be vacuous: the access log did record the redacted queries. fluxlit
	// flushes its log every 100 ms (logwriter.go), so give the lines a moment to arrive.
	deadline := time.Now().Add(2 * time.Second)
	for strings.Count(p.log.String(), "token=[REDACTED]") < 6 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := strings.Count(p.log.String(), "token=[REDACTED]"); n < 6 {
		t.Errorf("the access log shows %d redacted token= queries; want one per request sent (6)", n)
	}
	allFluxlitLogs.mu.Lock()
	logs := append([]*syncBuffer(nil), allFluxlitLogs.logs...)
	allFluxlitLogs.mu.Unlock()
	for _, l := range logs {
		assertNoSecretsIn(t, l.String())
	}
}
