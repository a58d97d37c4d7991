// jwt_test.go tests token parsing and verification: every algorithm passes with its key, and
// a table of hostile tokens fails with the expected status and reason.

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// jwtTestNow is the fixed clock of these tests.
var jwtTestNow = time.Unix(1_800_000_000, 0)

// jwtTestKeySet is one private key per family, generated once (RSA generation is slow).
type jwtTestKeySet struct {
	hs                  []byte
	rsa, rsa2           *rsa.PrivateKey
	ec256, ec384, ec521 *ecdsa.PrivateKey
	ed                  ed25519.PrivateKey
}

var (
	jwtTestOnce sync.Once
	jwtTestK    jwtTestKeySet
)

func jwtTestKeys(t testing.TB) *jwtTestKeySet {
	t.Helper()
	jwtTestOnce.Do(func() {
		k := &jwtTestK
		k.hs = []byte(strings.Repeat("s3cr3t-", 10)) // 70 bytes: enough for HS512
		k.rsa, _ = rsa.GenerateKey(rand.Reader, 2048)
		k.rsa2, _ = rsa.GenerateKey(rand.Reader, 2048)
		k.ec256, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		k.ec384, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		k.ec521, _ = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		_, k.ed, _ = ed25519.GenerateKey(rand.Reader)
	})
	if jwtTestK.rsa == nil || jwtTestK.ec256 == nil || jwtTestK.ed == nil {
		t.Fatal("key generation failed")
	}
	return &jwtTestK
}

func jwtTestB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwtTestSig signs input with key for alg; key is []byte, *rsa/ecdsa.PrivateKey or ed25519.PrivateKey.
func jwtTestSig(t testing.TB, alg string, key any, input string) []byte {
	t.Helper()
	h := jwtAlgHash[alg]
	var digest []byte
	if h != 0 {
		hh := h.New()
		hh.Write([]byte(input))
		digest = hh.Sum(nil)
	}
	switch k := key.(type) {
	case []byte:
		mac := hmac.New(h.New, k)
		mac.Write([]byte(input))
		return mac.Sum(nil)
	case *rsa.PrivateKey:
		var sig []byte
		var err error
		if strings.HasPrefix(alg, "PS") {
			sig, err = rsa.SignPSS(rand.Reader, k, h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, h, digest)
		}
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		if err != nil {
			t.Fatal(err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out
	case ed25519.PrivateKey:
		return ed25519.Sign(k, []byte(input))
	}
	t.Fatalf("no signer for %T", key)
	return nil
}

// jwtTestRaw builds a token from raw header and payload JSON texts.
func jwtTestRaw(t testing.TB, alg string, key any, header, payload string) string {
	t.Helper()
	input := jwtTestB64([]byte(header)) + "." + jwtTestB64([]byte(payload))
	return input + "." + jwtTestB64(jwtTestSig(t, alg, key, input))
}

// jwtTestClaims is a valid payload at jwtTestNow; extra entries override (nil deletes).
func jwtTestClaims(extra map[string]any) string {
	c := map[string]any{
		"iss": "https://idp.test", "aud": "api", "sub": "user-1", "scope": "read write",
		"exp": jwtTestNow.Add(time.Hour).Unix(), "iat": jwtTestNow.Add(-time.Minute).Unix(),
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// jwtTestToken signs standard claims (with extra) with a header {alg, kid, typ JWT}.
func jwtTestToken(t testing.TB, alg, kid string, key any, extra map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": alg, "typ": "JWT"}
	if kid != "" {
		h["kid"] = kid
	}
	hb, _ := json.Marshal(h)
	return jwtTestRaw(t, alg, key, string(hb), jwtTestClaims(extra))
}

// jwtTestVerifier trusts every test key (kids rsa1, ec256, ec384, ec521, ed1) and the secret.
func jwtTestVerifier(t testing.TB) *jwtVerifier {
	k := jwtTestKeys(t)
	v := &jwtVerifier{
		hsSecret: k.hs,
		keys: []*jwtKey{
			{kid: "rsa1", pub: &k.rsa.PublicKey},
			{kid: "ec256", pub: &k.ec256.PublicKey},
			{kid: "ec384", pub: &k.ec384.PublicKey},
			{kid: "ec521", pub: &k.ec521.PublicKey},
			{kid: "ed1", pub: k.ed.Public().(ed25519.PublicKey)},
		},
		issuer: "https://idp.test", audience: []string{"api", "api2"},
		leeway: 30 * time.Second, now: func() time.Time { return jwtTestNow },
		algs: map[string]bool{},
	}
	for alg := range jwtAlgHash {
		v.algs[alg] = true
	}
	return v
}

func TestJWTValidEveryAlgorithm(t *testing.T) {
	k := jwtTestKeys(t)
	tests := []struct {
		alg, kid string
		key      any
	}{
		{"HS256", "", k.hs}, {"HS384", "", k.hs}, {"HS512", "", k.hs},
		{"RS256", "rsa1", k.rsa}, {"RS384", "rsa1", k.rsa}, {"RS512", "rsa1", k.rsa},
		{"PS256", "rsa1", k.rsa}, {"PS384", "rsa1", k.rsa}, {"PS512", "rsa1", k.rsa},
		{"ES256", "ec256", k.ec256}, {"ES384", "ec384", k.ec384}, {"ES512", "ec521", k.ec521},
		{"EdDSA", "ed1", k.ed},
		{"RS256", "", k.rsa}, // no kid: every key of the family is tried
		{"ES384", "", k.ec384},
	}
	v := jwtTestVerifier(t)
	for _, tt := range tests {
		t.Run(tt.alg+"/"+tt.kid, func(t *testing.T) {
			c, err := v.verify(context.Background(), jwtTestToken(t, tt.alg, tt.kid, tt.key, nil))
			if err != nil {
				t.Fatalf("got %v; want nil", err)
			}
			if c.sub != "user-1" || strings.Join(c.scopes, " ") != "read write" {
				t.Errorf("got sub %q scopes %q; want user-1, read write", c.sub, c.scopes)
			}
		})
	}
}

func TestJWTValidClaimVariants(t *testing.T) {
	k := jwtTestKeys(t)
	tests := []struct {
		name  string
		extra map[string]any
	}{
		{"aud array with a match", map[string]any{"aud": []string{"other", "api2"}}},
		{"expired within leeway", map[string]any{"exp": jwtTestNow.Add(-20 * time.Second).Unix()}},
		{"nbf within leeway", map[string]any{"nbf": jwtTestNow.Add(20 * time.Second).Unix()}},
		{"iat within leeway", map[string]any{"iat": jwtTestNow.Add(20 * time.Second).Unix()}},
		{"fractional exp", map[string]any{"exp": float64(jwtTestNow.Unix()) + 0.5}},
		{"scp array", map[string]any{"scope": nil, "scp": []string{"read", "write"}}},
	}
	v := jwtTestVerifier(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := v.verify(context.Background(), jwtTestToken(t, "RS256", "rsa1", k.rsa, tt.extra)); err != nil {
				t.Errorf("got %v; want nil", err)
			}
		})
	}
	for _, typ := range []string{"JWT", "jwt", "at+jwt", "AT+JWT", "application/jwt", "application/at+jwt"} {
		tok := jwtTestRaw(t, "HS256", k.hs, `{"alg":"HS256","typ":"`+typ+`"}`, jwtTestClaims(nil))
		if _, err := v.verify(context.Background(), tok); err != nil {
			t.Errorf("typ %q: got %v; want nil", typ, err)
		}
	}
}

func TestJWTHostile(t *testing.T) {
	k := jwtTestKeys(t)
	attacker, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaPubDER, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	rsaPubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPubDER})
	valid := jwtTestToken(t, "RS256", "rsa1", k.rsa, nil)
	vh, vp, _ := strings.Cut(valid, ".")
	vp, vs, _ := strings.Cut(vp, ".")
	claims := jwtTestClaims(nil)
	b64 := func(s string) string { return jwtTestB64([]byte(s)) }
	es := jwtTestToken(t, "ES256", "ec256", k.ec256, nil)
	esSig, _ := jwtB64Decode(es[strings.LastIndexByte(es, '.')+1:])
	esDER := func() string { // the same signature, DER-encoded (what a naive signer emits)
		r, s := esSig[:32], esSig[32:]
		der := []byte{0x30, 0, 0x02, 33, 0}
		der = append(append(der, r...), 0x02, 33, 0)
		der = append(der, s...)
		der[1] = byte(len(der) - 2)
		return es[:strings.LastIndexByte(es, '.')+1] + jwtTestB64(der)
	}()
	attackerJWK := `{"kty":"EC","crv":"P-256","x":"` + jwtTestB64(attacker.X.FillBytes(make([]byte, 32))) +
		`","y":"` + jwtTestB64(attacker.Y.FillBytes(make([]byte, 32))) + `"}`

	tests := []struct {
		name   string
		in     string
		status int
		reason string
	}{
		{"alg none empty sig", b64(`{"alg":"none"}`) + "." + b64(claims) + ".", 401, "algorithm"},
		{"alg None", b64(`{"alg":"None"}`) + "." + b64(claims) + ".", 401, "algorithm"},
		{"alg NONE with a signature", b64(`{"alg":"NONE"}`) + "." + b64(claims) + ".c2ln", 401, "algorithm"},
		{"alg nOnE", b64(`{"alg":"nOnE","typ":"JWT"}`) + "." + b64(claims) + ".", 401, "algorithm"},
		{"HS256 keyed with the RSA public PEM", jwtTestRaw(t, "HS256", rsaPubPEM, `{"alg":"HS256","kid":"rsa1"}`, claims), 401, "signature"},
		{"HS256 keyed with the RSA public DER", jwtTestRaw(t, "HS256", rsaPubDER, `{"alg":"HS256"}`, claims), 401, "signature"},
		{"alg lowercase hs256", jwtTestRaw(t, "HS256", k.hs, `{"alg":"hs256"}`, claims), 401, "algorithm"},
		{"alg unknown", jwtTestRaw(t, "HS256", k.hs, `{"alg":"HS1"}`, claims), 401, "algorithm"},
		{"alg missing", jwtTestRaw(t, "HS256", k.hs, `{"typ":"JWT"}`, claims), 401, "malformed"},
		{"alg a number", jwtTestRaw(t, "HS256", k.hs, `{"alg":256}`, claims), 401, "malformed"},
		{"RS256 token naming an EC kid", jwtTestRaw(t, "RS256", k.rsa, `{"alg":"RS256","kid":"ec256"}`, claims), 401, "algorithm"},
		{"ES384 token naming the P-256 kid", jwtTestRaw(t, "ES384", k.ec384, `{"alg":"ES384","kid":"ec256"}`, claims), 401, "algorithm"},
		{"ES256 signed by the P-384 key", jwtTestRaw(t, "ES256", k.ec384, `{"alg":"ES256","kid":"ec256"}`, claims), 401, "signature"},
		{"PS256 label on a PKCS1 signature", b64(`{"alg":"PS256","kid":"rsa1"}`) + "." + vp + "." + vs, 401, "signature"},
		{"signed by another RSA key", jwtTestToken(t, "RS256", "rsa1", k.rsa2, nil), 401, "signature"},
		{"payload tampered", vh + "." + b64(jwtTestClaims(map[string]any{"sub": "admin"})) + "." + vs, 401, "signature"},
		{"empty signature", vh + "." + vp + ".", 401, "signature"},
		{"expired and badly signed says signature", jwtTestToken(t, "RS256", "rsa1", k.rsa2, map[string]any{"exp": 1}), 401, "signature"},
		{"expired", jwtTestToken(t, "RS256", "rsa1", k.rsa, map[string]any{"exp": jwtTestNow.Add(-31 * time.Second).Unix()}), 401, "expired"},
		{"exp missing", jwtTestToken(t, "RS256", "rsa1", k.rsa, map[string]any{"exp": nil}), 401, "malformed"},
		{"exp a string", jwtTestToken(t, "RS256", "rsa1", k.rsa, map[string]any{"exp": "9999999999"}), 401, "malformed"},
		{"exp null", jwtTestRaw(t, "HS256", k.hs, `{"alg":"HS256"}`, `{"exp":null,"iss":"https://idp.test","aud":"api"}`), 401, "malformed"},
		{"nbf a string", jwtTestToken(t, "RS256", "rsa1", k.rsa, map[string]any{"nbf": "0"}), 401, "malformed"},
		{"iat a bool", jwtTestToken(t, "RS256", "rsa1", k.rsa, map[string]any{"iat": true}), 401, "malformed"},
		{"not yet valid", jwtTestToken(t, "RS256", "rsa1", k.rsa, map[string]any{"nbf": jwtTestNow.Add(time.Minute).Unix()}), 401, "not_yet_valid"},
		{"issued in the future", jwtTestToken(t, "RS256", "rsa1", k.rsa, map[string]any{"iat": jwtTestNow.Add(time.Minute).Unix()}), 401, "not_yet_valid"},
		{"wrong iss", jwtTestToken(t, "RS256", "rsa1", k.rsa, map[string]any{"iss": "https://evil.test"}), 401, "issuer"},
		{"iss missing", jwtTestToken(t, "RS256", "rsa1", k.rsa, map[string]any{"iss": nil}), 401, "issuer"},
		{"iss with trailing slash", jwtTestToken(t, "RS256", "rsa1", k.rsa, map[string]any{"iss": "https://idp.test/"}), 401, "issuer"},
		{"aud missing", jwtTestToken(t, "RS256", "rsa1", k.rsa, map[string]any{"aud": nil}), 401, "audience"},
		{"aud wrong", jwtTestToken(t, "RS256", "rsa1", k.rsa, map[string]any{"aud": "other"}), 401, "audience"},
		{"aud array without a match", jwtTestToken(t, "RS256", "rsa1", k.rsa, map[string]any{"aud": []string{"a", "b"}}), 401, "audience"},
		{"aud a number", jwtTestToken(t, "RS256", "rsa1", k.rsa, map[string]any{"aud": 1}), 401, "malformed"},
		{"kid path traversal", jwtTestToken(t, "RS256", "../../etc/passwd", k.rsa, nil), 401, "unknown_kid"},
		{"kid a number", jwtTestRaw(t, "RS256", k.rsa, `{"alg":"RS256","kid":7}`, claims), 401, "malformed"},
		{"jku to elsewhere, attacker key, attacker kid", jwtTestRaw(t, "ES256", attacker, `{"alg":"ES256","kid":"evil","jku":"https://evil.test/jwks"}`, claims), 401, "unknown_kid"},
		{"jku to elsewhere, attacker key, real kid", jwtTestRaw(t, "ES256", attacker, `{"alg":"ES256","kid":"ec256","jku":"https://evil.test/jwks"}`, claims), 401, "signature"},
		{"embedded jwk of the attacker", jwtTestRaw(t, "ES256", attacker, `{"alg":"ES256","jwk":`+attackerJWK+`}`, claims), 401, "signature"},
		{"x5u and x5c ignored", jwtTestRaw(t, "ES256", attacker, `{"alg":"ES256","kid":"ec256","x5u":"https://evil.test/c","x5c":["AAAA"]}`, claims), 401, "signature"},
		{"jku with a valid signature still verifies locally", jwtTestRaw(t, "RS256", k.rsa, `{"alg":"RS256","kid":"rsa1","jku":"https://evil.test/jwks"}`, jwtTestClaims(map[string]any{"exp": 1})), 401, "expired"},
		{"crit unknown", jwtTestRaw(t, "RS256", k.rsa, `{"alg":"RS256","crit":["exp"],"exp":1}`, claims), 401, "malformed"},
		{"crit empty", jwtTestRaw(t, "RS256", k.rsa, `{"alg":"RS256","crit":[]}`, claims), 401, "malformed"},
		{"b64 false unencoded payload", jwtTestRaw(t, "RS256", k.rsa, `{"alg":"RS256","b64":false,"crit":["b64"]}`, claims), 401, "malformed"},
		{"typ JWE", jwtTestRaw(t, "RS256", k.rsa, `{"alg":"RS256","typ":"JWE"}`, claims), 401, "malformed"},
		{"typ a number", jwtTestRaw(t, "RS256", k.rsa, `{"alg":"RS256","typ":1}`, claims), 401, "malformed"},
		{"empty", "", 401, "malformed"},
		{"one segment", vh, 401, "malformed"},
		{"truncated to two segments", vh + "." + vp, 401, "malformed"},
		{"truncated signature", valid[:len(valid)-10], 401, "signature"},
		{"four segments", valid + ".e30", 401, "malformed"},
		{"five segments (JWE shape)", valid + ".e30.e30", 401, "malformed"},
		{"empty header", "." + vp + "." + vs, 401, "malformed"},
		{"bad base64 char", vh + "." + vp + "!." + vs, 401, "malformed"},
		{"standard base64 alphabet", strings.ReplaceAll(strings.ReplaceAll(valid, "-", "+"), "_", "/") + "+", 401, "malformed"},
		{"newline inside a segment", vh[:4] + "\n" + vh[4:] + "." + vp + "." + vs, 401, "malformed"},
		{"padding", base64.URLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"rsa1"}`)) + "." + vp + "." + vs, 401, "malformed"},
		{"padding on the signature", valid + "==", 401, "malformed"},
		{"non-zero trailing bits", vh + "." + vp + "." + vs[:len(vs)-1] + "B", 401, "malformed"},
		{"100 KB token", vh + "." + strings.Repeat("A", 100<<10) + "." + vs, 401, "malformed"},
		{"many dots", strings.Repeat(".", 5000), 401, "malformed"},
		{"ES256 DER signature", esDER, 401, "signature"},
		{"ES256 signature one byte short", es[:strings.LastIndexByte(es, '.')+1] + jwtTestB64(esSig[:63]), 401, "signature"},
		{"ES256 zero r and s", es[:strings.LastIndexByte(es, '.')+1] + jwtTestB64(make([]byte, 64)), 401, "signature"},
		{"JSON-serialised JWS", `{"payload":"` + vp + `","protected":"` + vh + `","signature":"` + vs + `"}`, 401, "malformed"},
		{"header an array", b64(`["alg","RS256"]`) + "." + vp + "." + vs, 401, "malformed"},
		{"header null", b64(`null`) + "." + vp + "." + vs, 401, "malformed"},
		{"header a string", b64(`"RS256"`) + "." + vp + "." + vs, 401, "malformed"},
		{"header with trailing data", b64(`{"alg":"RS256"}x`) + "." + vp + "." + vs, 401, "malformed"},
		{"header not JSON", b64(`alg=RS256`) + "." + vp + "." + vs, 401, "malformed"},
		{"payload an array", jwtTestRaw(t, "RS256", k.rsa, `{"alg":"RS256","kid":"rsa1"}`, `[1,2]`), 401, "malformed"},
		{"payload null", jwtTestRaw(t, "RS256", k.rsa, `{"alg":"RS256","kid":"rsa1"}`, `null`), 401, "malformed"},
		{"sub a number", jwtTestToken(t, "RS256", "rsa1", k.rsa, map[string]any{"sub": 42}), 401, "malformed"},
		{"scope an array", jwtTestToken(t, "RS256", "rsa1", k.rsa, map[string]any{"scope": []string{"a"}}), 401, "malformed"},
		{"huge exp is still a number", jwtTestToken(t, "RS256", "rsa1", k.rsa, map[string]any{"nbf": 1e300}), 401, "not_yet_valid"},
	}
	v := jwtTestVerifier(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.verify(context.Background(), tt.in)
			if err == nil {
				t.Fatalf("got claims %s; want %d %s", c.payload, tt.status, tt.reason)
			}
			if err.Status() != tt.status || err.Reason() != tt.reason {
				t.Errorf("got %d %s; want %d %s", err.Status(), err.Reason(), tt.status, tt.reason)
			}
		})
	}
}

func TestJWTAllowList(t *testing.T) {
	k := jwtTestKeys(t)
	v := jwtTestVerifier(t)
	v.algs = map[string]bool{"RS256": true}
	tests := []struct {
		name, in, want string
	}{
		{"allowed", jwtTestToken(t, "RS256", "rsa1", k.rsa, nil), ""},
		{"valid RS512 signature, not allowed", jwtTestToken(t, "RS512", "rsa1", k.rsa, nil), "algorithm"},
		{"valid HS256, not allowed", jwtTestToken(t, "HS256", "", k.hs, nil), "algorithm"},
		{"valid EdDSA, not allowed", jwtTestToken(t, "EdDSA", "ed1", k.ed, nil), "algorithm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.verify(context.Background(), tt.in)
			got := ""
			if err != nil {
				got = err.Reason()
			}
			if got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
	// Without a secret, HS tokens fail even when listed: a public key is never an HMAC key.
	v.hsSecret, v.algs = nil, map[string]bool{"HS256": true, "RS256": true}
	rsaPubDER, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	rsaPubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPubDER})
	tok := jwtTestRaw(t, "HS256", rsaPubPEM, `{"alg":"HS256","kid":"rsa1"}`, jwtTestClaims(nil))
	if _, err := v.verify(context.Background(), tok); err == nil || err.Reason() != "algorithm" {
		t.Errorf("got %v; want algorithm", err)
	}
}

func TestJWTErrorChallenge(t *testing.T) {
	tests := []struct {
		reason, want string
		status       int
	}{
		{"missing", `Bearer`, 401},
		{"malformed", `Bearer error="invalid_token", error_description="malformed token"`, 401},
		{"signature", `Bearer error="invalid_token", error_description="invalid token"`, 401},
		{"algorithm", `Bearer error="invalid_token", error_description="invalid token"`, 401},
		{"unknown_kid", `Bearer error="invalid_token", error_description="invalid token"`, 401},
		{"expired", `Bearer error="invalid_token", error_description="token expired"`, 401},
		{"not_yet_valid", `Bearer error="invalid_token", error_description="token not yet valid"`, 401},
		{"issuer", `Bearer error="invalid_token", error_description="token not accepted here"`, 401},
		{"audience", `Bearer error="invalid_token", error_description="token not accepted here"`, 401},
		{"scope", `Bearer error="insufficient_scope", scope=""`, 403},
		{"no_keys", ``, 503},
	}
	for _, tt := range tests {
		e := jwtFail(tt.reason)
		if e.Status() != tt.status || e.WWWAuthenticate() != tt.want {
			t.Errorf("%s: got %d %q; want %d %q", tt.reason, e.Status(), e.WWWAuthenticate(), tt.status, tt.want)
		}
	}
	if http.StatusText(jwtFail("no_keys").Status()) != "Service Unavailable" {
		t.Error("no_keys is not 503")
	}
}

// FuzzJWTParse: no input panics; parse and full verification are both exercised.
func FuzzJWTParse(f *testing.F) {
	k := jwtTestKeys(f)
	f.Add(jwtTestToken(f, "RS256", "rsa1", k.rsa, nil))
	f.Add(jwtTestToken(f, "ES512", "ec521", k.ec521, nil))
	f.Add(jwtTestToken(f, "HS256", "", k.hs, nil))
	f.Add(jwtTestToken(f, "EdDSA", "ed1", k.ed, nil))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c.d")
	f.Add("...")
	f.Add(`{"payload":"e30","signature":"AA"}`)
	v := jwtTestVerifier(f)
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := jwtParse(s); err != nil && err.Status() != 401 {
			t.Fatalf("parse status %d", err.Status())
		}
		if c, err := v.verify(context.Background(), s); err == nil && c == nil {
			t.Fatal("nil claims without error")
		}
	})
}
