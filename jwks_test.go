// jwks_test.go tests key loading: JWKS parsing and its rejections, PEM files, Cache-Control,
// and a JWKS URL served by a loopback httptest server that rotates keys and goes down.

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// jwtTestJWK renders a public key as a JWK with kid.
func jwtTestJWK(kid string, pub any) map[string]any {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "kid": kid, "use": "sig",
			"n": jwtTestB64(k.N.Bytes()), "e": jwtTestB64(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		return map[string]any{"kty": "EC", "kid": kid, "crv": k.Curve.Params().Name,
			"x": jwtTestB64(k.X.FillBytes(make([]byte, size))), "y": jwtTestB64(k.Y.FillBytes(make([]byte, size)))}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": jwtTestB64(k)}
	}
	return nil
}

func jwtTestJWKS(keys ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

func TestJWKSParse(t *testing.T) {
	k := jwtTestKeys(t)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	good := jwtTestJWK("ec", &k.ec256.PublicKey)
	offCurve := jwtTestJWK("bad", &k.ec256.PublicKey)
	offCurve["y"] = jwtTestB64(new(big.Int).Add(k.ec256.Y, big.NewInt(1)).FillBytes(make([]byte, 32)))
	with := func(m map[string]any, key string, val any) map[string]any {
		c := map[string]any{}
		for k, v := range m {
			c[k] = v
		}
		c[key] = val
		return c
	}
	tests := []struct {
		name string
		in   []byte
		want string // number of keys "n=…", or a substring of the error
	}{
		{"every family", jwtTestJWKS(jwtTestJWK("r", &k.rsa.PublicKey), good, jwtTestJWK("e3", &k.ec384.PublicKey),
			jwtTestJWK("e5", &k.ec521.PublicKey), jwtTestJWK("ed", k.ed.Public())), "n=5"},
		{"oct key skipped", jwtTestJWKS(good, map[string]any{"kty": "oct", "k": "c2VjcmV0"}), "n=1"},
		{"enc key skipped", jwtTestJWKS(good, with(jwtTestJWK("r", &k.rsa.PublicKey), "use", "enc")), "n=1"},
		{"key_ops without verify skipped", jwtTestJWKS(good, with(good, "key_ops", []string{"encrypt"})), "n=1"},
		{"unknown curve skipped", jwtTestJWKS(good, with(good, "crv", "secp256k1")), "n=1"},
		{"only oct", jwtTestJWKS(map[string]any{"kty": "oct", "k": "c2VjcmV0"}), "no usable"},
		{"invalid curve point", jwtTestJWKS(good, offCurve), "not on the curve"},
		{"point at infinity", jwtTestJWKS(with(with(good, "x", jwtTestB64(make([]byte, 32))), "y", jwtTestB64(make([]byte, 32)))), "not on the curve"},
		{"short coordinate", jwtTestJWKS(with(good, "x", jwtTestB64(k.ec256.X.Bytes()[1:]))), "32 bytes"},
		{"padded coordinate", jwtTestJWKS(with(good, "x", good["x"].(string)+"=")), "32 bytes"},
		{"RSA 1024", jwtTestJWKS(jwtTestJWK("s", &small.PublicKey)), "1024 bits"},
		{"RSA exponent 1", jwtTestJWKS(with(jwtTestJWK("r", &k.rsa.PublicKey), "e", "AQ")), "exponent"},
		{"RSA exponent huge", jwtTestJWKS(with(jwtTestJWK("r", &k.rsa.PublicKey), "e", "AQAAAAAB")), "RSA n or e"},
		{"Ed25519 short", jwtTestJWKS(with(jwtTestJWK("ed", k.ed.Public()), "x", "AAAA")), "wrong length"},
		{"alg does not fit the key", jwtTestJWKS(with(good, "alg", "RS256")), "does not fit"},
		{"alg HS256 on an EC key", jwtTestJWKS(with(good, "alg", "HS256")), "does not fit"},
		{"kid a number", []byte(`{"keys":[{"kty":"EC","kid":1}]}`), "key 0"},
		{"not JSON", []byte(`<html>`), "not a JWKS"},
		{"keys not an array", []byte(`{"keys":{}}`), "not a JWKS"},
		{"empty", []byte(`{}`), "no usable"},
		{"too many keys", jwtTestJWKS(func() []map[string]any {
			var ks []map[string]any
			for i := 0; i <= jwksMaxKeys; i++ {
				ks = append(ks, good)
			}
			return ks
		}()...), "at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := jwksParse(tt.in)
			got := fmt.Sprintf("n=%d", len(keys))
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("got %s; want %s", got, tt.want)
			}
		})
	}
}

func TestJWTParsePEM(t *testing.T) {
	k := jwtTestKeys(t)
	pkixPEM := func(pub any) []byte {
		der, _ := x509.MarshalPKIXPublicKey(pub)
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"},
		NotBefore: jwtTestNow, NotAfter: jwtTestNow.Add(time.Hour)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.ec384.PublicKey, k.ec384)
	if err != nil {
		t.Fatal(err)
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	privDER, _ := x509.MarshalPKCS8PrivateKey(k.ec256)
	tests := []struct {
		name string
		in   []byte
		want string // algs of the first key, or an error substring
	}{
		{"PKIX RSA", pkixPEM(&k.rsa.PublicKey), "RS256 RS384 RS512 PS256 PS384 PS512"},
		{"PKCS1 RSA", pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)}), "RS256 RS384 RS512 PS256 PS384 PS512"},
		{"PKIX P-256", pkixPEM(&k.ec256.PublicKey), "ES256"},
		{"PKIX P-521", pkixPEM(&k.ec521.PublicKey), "ES512"},
		{"PKIX Ed25519", pkixPEM(k.ed.Public()), "EdDSA"},
		{"certificate P-384", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}), "ES384"},
		{"RSA 1024", pkixPEM(&small.PublicKey), "1024 bits"},
		{"private key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), "private key"},
		{"garbage in block", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("nope")}), "PEM block 1"},
		{"not PEM", []byte("ssh-rsa AAAA"), "no PUBLIC KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := jwtParsePEM(tt.in)
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				got = strings.Join(keys[0].algs(), " ")
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("got %s; want %s", got, tt.want)
			}
		})
	}
}

// TestJWKSTTL: a key set is cached for its Cache-Control max-age, else 5 minutes (README,
// Security), never less than the 30 s refresh floor nor more than a day.
func TestJWKSTTL(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 5 * time.Minute},
		{"public, max-age=600", 10 * time.Minute},
		{"max-age=5", 30 * time.Second},
		{"MAX-AGE=120, must-revalidate", 2 * time.Minute},
		{"max-age=99999999999", 24 * time.Hour},
		{"max-age=-1", 5 * time.Minute},
		{"max-age=abc", 5 * time.Minute},
		{"no-store", 30 * time.Second},
		{"private", 5 * time.Minute},
	}
	for _, tt := range tests {
		if got := jwksTTL(tt.in); got != tt.want {
			t.Errorf("jwksTTL(%q): got %v; want %v", tt.in, got, tt.want)
		}
	}
}

// jwksTestClock is a settable clock shared by the verifier and the remote set.
type jwksTestClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *jwksTestClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *jwksTestClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// jwksTestServer serves a swappable JWKS on loopback and counts fetches.
type jwksTestServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	status  int
	cc      string
	delay   time.Duration
	gate    chan struct{} // when set, each answer waits until it is closed
	fetches atomic.Int32
}

func newJWKSTestServer(t *testing.T, body []byte) *jwksTestServer {
	s := &jwksTestServer{body: body, status: 200}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		body, status, cc, delay, gate := s.body, s.status, s.cc, s.delay, s.gate
		s.mu.Unlock()
		time.Sleep(delay)
		if gate != nil {
			<-gate
		}
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksTestServer) set(body []byte, status int, cc string) {
	s.mu.Lock()
	s.body, s.status, s.cc = body, status, cc
	s.mu.Unlock()
}

// jwksTestVerifier verifies RS256 against url only, on clock.
func jwksTestVerifier(t *testing.T, url string, clock *jwksTestClock) *jwtVerifier {
	a, err := newEdgeAuth(authConfig{JWKSURL: url, HTTPClient: &http.Client{Timeout: 5 * time.Second}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a.verifier.now = clock.now
	a.verifier.remote.now = clock.now
	return a.verifier
}

func jwksTestReason(err *jwtError) string {
	if err == nil {
		return "ok"
	}
	return err.Reason()
}

func TestJWKSRemoteRotation(t *testing.T) {
	k := jwtTestKeys(t)
	srv := newJWKSTestServer(t, jwtTestJWKS(jwtTestJWK("old", &k.rsa.PublicKey)))
	clock := &jwksTestClock{t: jwtTestNow}
	v := jwksTestVerifier(t, srv.URL, clock)
	ctx := context.Background()
	oldTok := jwtTestToken(t, "RS256", "old", k.rsa, nil)
	newTok := jwtTestToken(t, "RS256", "new", k.rsa2, nil)

	// An unknown kid refreshes the set at most every 30 s (README, Security); the clock
	// starts at the first fetch.
	steps := []struct {
		name    string
		advance time.Duration
		rotate  bool
		in      string
		want    string
		fetches int32
	}{
		{"first use loads", 0, false, oldTok, "ok", 1},
		{"cached", time.Second, false, oldTok, "ok", 1},
		{"rotated, but refreshed too recently", 0, true, newTok, "unknown_kid", 1},
		{"29 s after the fetch: still too recent", 28 * time.Second, false, newTok, "unknown_kid", 1},
		{"30 s after the fetch: the unknown kid refreshes", time.Second, false, newTok, "ok", 2},
		{"old kid gone from the set", time.Second, false, oldTok, "unknown_kid", 2},
		{"kid that never exists cannot force a fetch", time.Second, false, jwtTestToken(t, "RS256", "x", k.rsa, nil), "unknown_kid", 2},
	}
	for _, st := range steps {
		clock.add(st.advance)
		if st.rotate {
			srv.set(jwtTestJWKS(jwtTestJWK("new", &k.rsa2.PublicKey)), 200, "")
		}
		_, err := v.verify(ctx, st.in)
		if got := jwksTestReason(err); got != st.want || srv.fetches.Load() != st.fetches {
			t.Fatalf("%s: got %s after %d fetches; want %s after %d", st.name, got, srv.fetches.Load(), st.want, st.fetches)
		}
	}
}

// TestJWKSRemoteDefaultTTL: without Cache-Control a key set is used for 5 minutes, then
// fetched again; with max-age=600, for 10 minutes.
func TestJWKSRemoteDefaultTTL(t *testing.T) {
	k := jwtTestKeys(t)
	for _, tt := range []struct {
		cacheControl string
		ttl          time.Duration
	}{{"", 5 * time.Minute}, {"max-age=600", 10 * time.Minute}} {
		srv := newJWKSTestServer(t, jwtTestJWKS(jwtTestJWK("k", &k.rsa.PublicKey)))
		srv.set(jwtTestJWKS(jwtTestJWK("k", &k.rsa.PublicKey)), 200, tt.cacheControl)
		clock := &jwksTestClock{t: jwtTestNow}
		v := jwksTestVerifier(t, srv.URL, clock)
		tok := jwtTestToken(t, "RS256", "k", k.rsa, nil)
		for _, st := range []struct {
			advance time.Duration
			fetches int32
		}{{0, 1}, {tt.ttl - time.Second, 1}, {time.Second, 2}} {
			clock.add(st.advance)
			if _, err := v.verify(context.Background(), tok); err != nil || srv.fetches.Load() != st.fetches {
				t.Errorf("Cache-Control %q, %v after the fetch: %v after %d fetches; want ok after %d",
					tt.cacheControl, clock.now().Sub(jwtTestNow), err, srv.fetches.Load(), st.fetches)
			}
		}
	}
}

func TestJWKSRemoteConcurrentUnknownKid(t *testing.T) {
	k := jwtTestKeys(t)
	srv := newJWKSTestServer(t, jwtTestJWKS(jwtTestJWK("old", &k.rsa.PublicKey)))
	clock := &jwksTestClock{t: jwtTestNow}
	v := jwksTestVerifier(t, srv.URL, clock)
	if _, err := v.verify(context.Background(), jwtTestToken(t, "RS256", "old", k.rsa, nil)); err != nil {
		t.Fatalf("got %v; want nil", err)
	}
	clock.add(30 * time.Second)
	srv.set(jwtTestJWKS(jwtTestJWK("old", &k.rsa.PublicKey), jwtTestJWK("new", &k.rsa2.PublicKey)), 200, "")
	srv.mu.Lock()
	srv.delay = 100 * time.Millisecond // keep the flight open while the others arrive
	srv.mu.Unlock()
	tok := jwtTestToken(t, "RS256", "new", k.rsa2, nil)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := v.verify(context.Background(), tok); err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if got := srv.fetches.Load(); got != 2 {
		t.Errorf("got %d fetches; want 2 (the first load and one refresh)", got)
	}
	if failed.Load() != 0 {
		t.Errorf("got %d failures; want 0", failed.Load())
	}
}

func TestJWKSRemoteOutageKeepsLastGood(t *testing.T) {
	k := jwtTestKeys(t)
	srv := newJWKSTestServer(t, jwtTestJWKS(jwtTestJWK("old", &k.rsa.PublicKey)))
	clock := &jwksTestClock{t: jwtTestNow}
	v := jwksTestVerifier(t, srv.URL, clock)
	tok := jwtTestToken(t, "RS256", "old", k.rsa, nil)
	ctx := context.Background()
	if _, err := v.verify(ctx, tok); err != nil {
		t.Fatalf("got %v; want nil", err)
	}
	for _, st := range []struct {
		name   string
		body   []byte
		status int
	}{
		{"500", []byte("oops"), 500},
		{"garbage", []byte("<html>not json</html>"), 200},
		{"invalid key", jwtTestJWKS(map[string]any{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}), 200},
		{"too large", append(append([]byte(`{"keys":[],"pad":"`), strings.Repeat("a", jwksMaxBody)...), `"}`...), 200},
	} {
		srv.set(st.body, st.status, "")
		clock.add(5*time.Minute + time.Second) // stale: each verify triggers a fetch
		before := srv.fetches.Load()
		if _, err := v.verify(ctx, tok); err != nil {
			t.Errorf("%s: got %v; want the old key to verify", st.name, err)
		}
		if srv.fetches.Load() != before+1 {
			t.Errorf("%s: got %d fetches; want %d", st.name, srv.fetches.Load(), before+1)
		}
	}
	srv.Close() // connection refused from now on
	clock.add(5 * time.Minute)
	if _, err := v.verify(ctx, tok); err != nil {
		t.Errorf("server down: got %v; want nil", err)
	}
	if _, err := v.verify(ctx, jwtTestToken(t, "RS256", "other", k.rsa, nil)); jwksTestReason(err) != "unknown_kid" {
		t.Errorf("server down, unknown kid: got %v; want unknown_kid", err)
	}
}

func TestJWKSRemoteNeverLoaded(t *testing.T) {
	k := jwtTestKeys(t)
	srv := newJWKSTestServer(t, []byte("down"))
	srv.set([]byte("down"), 503, "")
	clock := &jwksTestClock{t: jwtTestNow}
	v := jwksTestVerifier(t, srv.URL, clock)
	_, err := v.verify(context.Background(), jwtTestToken(t, "RS256", "old", k.rsa, nil))
	if err == nil || err.Status() != 503 || err.Reason() != "no_keys" {
		t.Fatalf("got %v; want 503 no_keys", err)
	}
	// Recovery once the interval has passed.
	srv.set(jwtTestJWKS(jwtTestJWK("old", &k.rsa.PublicKey)), 200, "")
	clock.add(jwksMinInterval)
	if _, err := v.verify(context.Background(), jwtTestToken(t, "RS256", "old", k.rsa, nil)); err != nil {
		t.Errorf("after recovery: got %v; want nil", err)
	}
}

func TestJWKSRemoteCacheControl(t *testing.T) {
	k := jwtTestKeys(t)
	tests := []struct {
		cc   string
		want time.Duration // age at which the next fetch happens
	}{
		{"max-age=120", 2 * time.Minute},
		{"", jwksDefaultTTL},
		{"max-age=1", jwksMinInterval},
	}
	for _, tt := range tests {
		t.Run(tt.cc, func(t *testing.T) {
			srv := newJWKSTestServer(t, jwtTestJWKS(jwtTestJWK("k", &k.rsa.PublicKey)))
			srv.set(jwtTestJWKS(jwtTestJWK("k", &k.rsa.PublicKey)), 200, tt.cc)
			clock := &jwksTestClock{t: jwtTestNow}
			v := jwksTestVerifier(t, srv.URL, clock)
			tok := jwtTestToken(t, "RS256", "k", k.rsa, nil)
			check := func(wantFetches int32) {
				t.Helper()
				if _, err := v.verify(context.Background(), tok); err != nil {
					t.Fatalf("got %v; want nil", err)
				}
				if got := srv.fetches.Load(); got != wantFetches {
					t.Fatalf("got %d fetches; want %d", got, wantFetches)
				}
			}
			check(1)
			clock.add(tt.want - time.Second)
			check(1)
			clock.add(time.Second)
			check(2)
		})
	}
}

func TestJWKSRemoteCanceledRequest(t *testing.T) {
	k := jwtTestKeys(t)
	srv := newJWKSTestServer(t, jwtTestJWKS(jwtTestJWK("k", &k.rsa.PublicKey)))
	gate := make(chan struct{})
	srv.mu.Lock()
	srv.gate = gate // the IdP answers only once the canceled request has returned
	srv.mu.Unlock()
	clock := &jwksTestClock{t: jwtTestNow}
	v := jwksTestVerifier(t, srv.URL, clock)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	verified := make(chan *jwtError, 1)
	go func() {
		_, err := v.verify(ctx, jwtTestToken(t, "RS256", "k", k.rsa, nil))
		verified <- err
	}()
	select {
	case err := <-verified:
		if jwksTestReason(err) != "no_keys" {
			t.Errorf("got %v; want no_keys when the request's context ends during the fetch", err)
		}
	case <-time.After(10 * time.Second):
		close(gate)
		t.Fatal("verify did not return when its context ended; it waited for the fetch")
	}
	close(gate) // the shared fetch carries on and lands; the next request waits for it
	if _, err := v.verify(context.Background(), jwtTestToken(t, "RS256", "k", k.rsa, nil)); err != nil {
		t.Errorf("after the fetch: got %v; want nil", err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("got %d fetches; want 1 (the canceled request's fetch is kept)", n)
	}
}

// FuzzJWKS: no document panics the parser, and every key it returns passes jwtCheckKey.
func FuzzJWKS(f *testing.F) {
	k := jwtTestKeys(f)
	f.Add(jwtTestJWKS(jwtTestJWK("r", &k.rsa.PublicKey), jwtTestJWK("e", &k.ec256.PublicKey), jwtTestJWK("d", k.ed.Public())))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-521","x":"AA","y":"AA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"AA"},{"kty":"OKP","crv":"Ed25519","x":"` + strings.Repeat("A", 43) + `"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","alg":"PS256"}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := jwksParse(data)
		if err == nil && len(keys) == 0 {
			t.Fatal("no error and no keys")
		}
		for _, key := range keys {
			if err := jwtCheckKey(key.pub); err != nil {
				t.Fatalf("returned an unusable key: %v", err)
			}
			if len(key.algs()) == 0 {
				t.Fatal("returned a key that verifies nothing")
			}
		}
	})
}
