// auth_test.go tests the edge check: configuration errors name their setting, path
// protection, bearer parsing, scopes, challenges, and the identity headers.

package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func authTestFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func authTestLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestNewEdgeAuthConfig(t *testing.T) {
	k := jwtTestKeys(t)
	der, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	pubPEM := authTestFile(t, "pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	sder, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	smallPEM := authTestFile(t, "small.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: sder}))
	jwks := authTestFile(t, "jwks.json", jwtTestJWKS(jwtTestJWK("e", &k.ec256.PublicKey)))
	badJWKS := authTestFile(t, "bad.json", []byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`))
	secretFile := authTestFile(t, "secret", append([]byte(strings.Repeat("x", 32)), '\n'))
	shortFile := authTestFile(t, "short", []byte("password\n"))
	secret := []byte(strings.Repeat("k", 32))
	tests := []struct {
		name string
		in   authConfig
		want string // "" = ok, "nil" = auth off, else the error's start
	}{
		{"no key source", authConfig{Issuer: "x"}, "nil"},
		{"secret", authConfig{HSSecret: secret}, ""},
		{"secret file with newline", authConfig{HSSecretFile: secretFile}, ""},
		{"short secret", authConfig{HSSecret: []byte("password")}, "jwt_hs256_secret: secret is 8 bytes"},
		{"short secret file", authConfig{HSSecretFile: shortFile}, "jwt_hs256_secret_file: secret is 8 bytes"},
		{"both secrets", authConfig{HSSecret: secret, HSSecretFile: secretFile}, "jwt_hs256_secret_file: set only one"},
		{"missing secret file", authConfig{HSSecretFile: "/nonexistent/s"}, "jwt_hs256_secret_file:"},
		{"public key", authConfig{PublicKeyFile: pubPEM}, ""},
		{"short RSA public key", authConfig{PublicKeyFile: smallPEM}, "jwt_public_key_file: " + smallPEM + ": PEM block 1"},
		{"public key file is JWKS", authConfig{PublicKeyFile: jwks}, "jwt_public_key_file:"},
		{"jwks file", authConfig{JWKSFile: jwks}, ""},
		{"jwks file off-curve", authConfig{JWKSFile: badJWKS}, "jwt_jwks_file:"},
		{"jwks url not http", authConfig{JWKSURL: "file:///etc/jwks"}, "jwt_jwks_url:"},
		{"alg none refused as config", authConfig{HSSecret: secret, Algorithms: []string{"none"}}, "jwt_algorithms: \"none\""},
		{"HS256 without a secret", authConfig{PublicKeyFile: pubPEM, Algorithms: []string{"HS256"}}, "jwt_algorithms: no configured key can verify HS256"},
		{"ES256 with an RSA key", authConfig{PublicKeyFile: pubPEM, Algorithms: []string{"ES256"}}, "jwt_algorithms: no configured key"},
		{"HS512 with a 32-byte secret", authConfig{HSSecret: secret, Algorithms: []string{"HS512"}}, "jwt_algorithms: no configured key"},
		{"negative leeway", authConfig{HSSecret: secret, Leeway: -1}, "jwt_leeway_seconds:"},
		{"relative pattern", authConfig{HSSecret: secret, Protect: []string{"users"}}, "jwt_protect: pattern"},
		{"star inside", authConfig{HSSecret: secret, PublicPaths: []string{"/a*/b"}}, "jwt_public_paths: pattern"},
		{"star without slash", authConfig{HSSecret: secret, PublicPaths: []string{"/a*"}}, "jwt_public_paths: pattern"},
		{"bad scope", authConfig{HSSecret: secret, RequiredScopes: []string{"a b"}}, "jwt_required_scopes:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := newEdgeAuth(tt.in, authTestLog())
			got := ""
			switch {
			case err != nil:
				got = err.Error()
			case a == nil:
				got = "nil"
			}
			if !strings.HasPrefix(got, tt.want) || (tt.want == "") != (got == "") {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

func TestEdgeAuthDefaultAlgorithms(t *testing.T) {
	k := jwtTestKeys(t)
	der, _ := x509.MarshalPKIXPublicKey(&k.ec384.PublicKey)
	pub := authTestFile(t, "ec.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	tests := []struct {
		name string
		in   authConfig
		want string
	}{
		{"32-byte secret", authConfig{HSSecret: []byte(strings.Repeat("k", 32))}, "HS256"},
		{"64-byte secret", authConfig{HSSecret: []byte(strings.Repeat("k", 64))}, "HS256 HS384 HS512"},
		{"P-384 key", authConfig{PublicKeyFile: pub}, "ES384"},
		{"jwks url", authConfig{JWKSURL: "http://127.0.0.1:1/jwks"}, "ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512"},
	}
	for _, tt := range tests {
		a, err := newEdgeAuth(tt.in, authTestLog())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, alg := range strings.Split(authAlgNames(), ", ") {
			if a.verifier.algs[alg] {
				got = append(got, alg)
			}
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestEdgeAuthProtected(t *testing.T) {
	tests := []struct {
		name    string
		protect []string
		public  []string
		in      string
		want    bool
	}{
		{"default: api root", nil, nil, "/", true},
		{"default: empty path", nil, nil, "", true},
		{"default: users", nil, nil, "/users", true},
		{"default: healthz", nil, nil, "/healthz", false},
		{"default: readyz", nil, nil, "/readyz", false},
		{"default: docs", nil, nil, "/docs", false},
		{"default: oauth2 redirect", nil, nil, "/docs/oauth2-redirect", false},
		{"default: redoc", nil, nil, "/redoc", false},
		{"default: openapi", nil, nil, "/openapi.json", false},
		{"default: healthz/x is not healthz", nil, nil, "/healthz/x", true},
		{"default: docs with dot-dot", nil, nil, "/docs/../users", true},
		{"default: double slash", nil, nil, "//users", true},
		{"default: case differs", nil, nil, "/HEALTHZ", true},
		{"prefix", []string{"/admin/*"}, nil, "/admin/x/y", true},
		{"prefix excludes its base", []string{"/admin/*"}, nil, "/admin", false},
		{"exact", []string{"/admin"}, nil, "/admin", true},
		{"outside protect", []string{"/admin/*"}, nil, "/users", false},
		{"dot-dot into protect", []string{"/admin/*"}, nil, "/x/../admin/y", true},
		{"public inside protect", []string{"/*"}, []string{"/public/*"}, "/public/a", false},
		{"public list replaces defaults", []string{"/*"}, []string{"/public/*"}, "/docs", true},
	}
	secret := []byte(strings.Repeat("k", 32))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := newEdgeAuth(authConfig{HSSecret: secret, Protect: tt.protect, PublicPaths: tt.public}, authTestLog())
			if err != nil {
				t.Fatal(err)
			}
			if got := a.protected(tt.in); got != tt.want {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}

func TestEdgeAuthAuthorize(t *testing.T) {
	k := jwtTestKeys(t)
	a, err := newEdgeAuth(authConfig{HSSecret: k.hs, Issuer: "https://idp.test", Audience: []string{"api"},
		RequiredScopes: []string{"read"}}, authTestLog())
	if err != nil {
		t.Fatal(err)
	}
	a.verifier.now = func() time.Time { return jwtTestNow }
	good := jwtTestToken(t, "HS256", "", k.hs, nil)
	tests := []struct {
		name      string
		path      string
		auth      []string
		status    int
		reason    string
		challenge string
	}{
		{"public path, no token", "/healthz", nil, 0, "", ""},
		{"public path, bad token ignored", "/docs", []string{"Bearer x"}, 0, "", ""},
		{"valid", "/users", []string{"Bearer " + good}, 0, "", ""},
		{"scheme case-insensitive", "/users", []string{"bearer  " + good}, 0, "", ""},
		{"no header", "/users", nil, 401, "missing", "Bearer"},
		{"basic auth", "/users", []string{"Basic dXNlcjpwYXNz"}, 401, "missing", "Bearer"},
		{"empty bearer", "/users", []string{"Bearer "}, 401, "missing", "Bearer"},
		{"two headers", "/users", []string{"Bearer " + good, "Bearer " + good}, 401, "malformed",
			`Bearer error="invalid_token", error_description="malformed token"`},
		{"garbage", "/users", []string{"Bearer abc"}, 401, "malformed",
			`Bearer error="invalid_token", error_description="malformed token"`},
		{"expired", "/users", []string{"Bearer " + jwtTestToken(t, "HS256", "", k.hs, map[string]any{"exp": 1})}, 401, "expired",
			`Bearer error="invalid_token", error_description="token expired"`},
		{"bad signature", "/users", []string{"Bearer " + good[:len(good)-2] + "AA"}, 401, "signature",
			`Bearer error="invalid_token", error_description="invalid token"`},
		{"no read scope", "/users", []string{"Bearer " + jwtTestToken(t, "HS256", "", k.hs, map[string]any{"scope": "write"})}, 403, "scope",
			`Bearer error="insufficient_scope", scope="read"`},
		{"scope prefix is not the scope", "/users", []string{"Bearer " + jwtTestToken(t, "HS256", "", k.hs, map[string]any{"scope": "reader"})}, 403, "scope",
			`Bearer error="insufficient_scope", scope="read"`},
		{"scope from scp string", "/users", []string{"Bearer " + jwtTestToken(t, "HS256", "", k.hs, map[string]any{"scope": nil, "scp": "read"})}, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api"+tt.path, nil)
			for _, v := range tt.auth {
				r.Header.Add("Authorization", v)
			}
			h, jerr := a.authorize(r, tt.path)
			if tt.status == 0 {
				if jerr != nil {
					t.Fatalf("got %v; want success", jerr)
				}
				return
			}
			if jerr == nil {
				t.Fatalf("got headers %v; want %d %s", h, tt.status, tt.reason)
			}
			if jerr.Status() != tt.status || jerr.Reason() != tt.reason || jerr.WWWAuthenticate() != tt.challenge {
				t.Errorf("got %d %s %q; want %d %s %q", jerr.Status(), jerr.Reason(), jerr.WWWAuthenticate(), tt.status, tt.reason, tt.challenge)
			}
		})
	}
}

func TestEdgeAuthIdentityHeaders(t *testing.T) {
	k := jwtTestKeys(t)
	a, err := newEdgeAuth(authConfig{HSSecret: k.hs}, authTestLog())
	if err != nil {
		t.Fatal(err)
	}
	a.verifier.now = func() time.Time { return jwtTestNow }
	tok := jwtTestToken(t, "HS256", "", k.hs, map[string]any{"scp": []string{"admin"}})
	r := httptest.NewRequest("GET", "/api/users", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	h, jerr := a.authorize(r, "/users")
	if jerr != nil {
		t.Fatalf("got %v; want nil", jerr)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	tests := []struct{ name, got, want string }{
		{"sub", h.Get("X-Fluxlit-Sub"), "user-1"},
		{"scopes", h.Get("X-Fluxlit-Scopes"), "read write admin"},
		{"claims", h.Get("X-Fluxlit-Claims"), base64.RawURLEncoding.EncodeToString(payload)},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q; want %q", tt.name, tt.got, tt.want)
		}
	}
	// A sub with a line break is not put in a header; the claims header still carries it.
	tok = jwtTestToken(t, "HS256", "", k.hs, map[string]any{"sub": "a\r\nX-Evil: 1", "scope": "ok bad\x01"})
	r.Header.Set("Authorization", "Bearer "+tok)
	if h, jerr = a.authorize(r, "/users"); jerr != nil {
		t.Fatalf("got %v; want nil", jerr)
	}
	if _, ok := h["X-Fluxlit-Sub"]; ok || h.Get("X-Fluxlit-Scopes") != "ok" {
		t.Errorf("got sub %q scopes %q; want no sub, scopes ok", h.Get("X-Fluxlit-Sub"), h.Get("X-Fluxlit-Scopes"))
	}
}

func TestStripFluxlitHeaders(t *testing.T) {
	h := http.Header{}
	h.Set("X-Fluxlit-Sub", "admin")
	h["x-fluxlit-scopes"] = []string{"admin"} // non-canonical, as a raw map write would leave it
	h["X-FLUXLIT-CLAIMS"] = []string{"e30"}
	h.Set("X-Fluxlit", "kept: no dash-suffix")
	h.Set("X-Request-Id", "r1")
	stripFluxlitHeaders(h)
	var got []string
	for k := range h {
		got = append(got, k)
	}
	sort.Strings(got)
	if want := "X-Fluxlit X-Request-Id"; strings.Join(got, " ") != want {
		t.Errorf("got %v; want %s", got, want)
	}
}
