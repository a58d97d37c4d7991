// auth.go is the edge check fluxlit runs on requests under the API mount: which paths are
// protected, reading the bearer token, required scopes, and the X-Fluxlit-* identity headers
// handed to the API. Token rules live in jwt.go, key loading in jwks.go.
//
// Path patterns (jwt_protect, jwt_public_paths) are relative to the API mount and are either
// an exact path ("/users") or a prefix ending in "/*" ("/admin/*" matches "/admin/x" and
// "/admin/x/y", not "/admin"; "/*" matches everything). A path is protected when it matches
// a protect pattern and no public pattern.

package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// authConfig is the auth part of the configuration, as values.
type authConfig struct {
	HSSecret       []byte
	HSSecretFile   string
	PublicKeyFile  string
	JWKSFile       string
	JWKSURL        string
	Issuer         string
	Audience       []string
	Algorithms     []string
	Leeway         time.Duration
	RequiredScopes []string
	Protect        []string     // path patterns under the mount; empty = everything ("/*")
	PublicPaths    []string     // patterns exempt from protection; empty = authDefaultPublic
	HTTPClient     *http.Client // for JWKS URL; nil = a client with jwksFetchTimeout
}

// authDefaultPublic are the API paths that work without a token: health probes (load
// balancers carry no token) and the FastAPI docs, including /docs/oauth2-redirect, which
// swagger's OAuth2 login lands on before it has a token. Setting jwt_public_paths replaces
// this list.
var authDefaultPublic = []string{"/healthz", "/readyz", "/docs", "/docs/*", "/redoc", "/openapi.json"}

// edgeAuth is the configured check; safe for concurrent use.
type edgeAuth struct {
	verifier *jwtVerifier
	protect  []string
	public   []string
	scopes   []string
}

// newEdgeAuth builds the check from cfg. It returns nil, nil when no key source is set
// (auth off) and an error naming the setting when one is wrong. A JWKS URL is not fetched
// here: the first request does, so an IdP outage at start gives 503s, not a failed start.
func newEdgeAuth(cfg authConfig, log *slog.Logger) (*edgeAuth, error) {
	if cfg.HSSecret == nil && cfg.HSSecretFile == "" && cfg.PublicKeyFile == "" && cfg.JWKSFile == "" && cfg.JWKSURL == "" {
		return nil, nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	v := &jwtVerifier{issuer: cfg.Issuer, audience: cfg.Audience, leeway: cfg.Leeway, now: time.Now}
	if cfg.Leeway < 0 {
		return nil, errors.New("jwt_leeway_seconds: must not be negative")
	}
	if err := authLoadKeys(cfg, v, log); err != nil {
		return nil, err
	}
	algs, err := authAlgorithms(cfg.Algorithms, v)
	if err != nil {
		return nil, err
	}
	v.algs = algs
	a := &edgeAuth{verifier: v, protect: cfg.Protect, public: cfg.PublicPaths, scopes: cfg.RequiredScopes}
	if len(a.protect) == 0 {
		a.protect = []string{"/*"}
	}
	if len(a.public) == 0 {
		a.public = authDefaultPublic
	}
	for _, list := range []struct {
		name     string
		patterns []string
	}{{"jwt_protect", a.protect}, {"jwt_public_paths", a.public}} {
		for _, p := range list.patterns {
			if err := authCheckPattern(p); err != nil {
				return nil, fmt.Errorf("%s: %v", list.name, err)
			}
		}
	}
	for _, s := range a.scopes {
		if s == "" || strings.ContainsAny(s, " \"\\") {
			return nil, fmt.Errorf("jwt_required_scopes: %q is not a scope token", s)
		}
	}
	return a, nil
}

// authHSMinBytes is RFC 7518 §3.2: an HMAC key at least as long as the hash (HS256: 32).
const authHSMinBytes = 32

// authLoadKeys reads every configured key source into v.
func authLoadKeys(cfg authConfig, v *jwtVerifier, log *slog.Logger) error {
	switch {
	case cfg.HSSecret != nil && cfg.HSSecretFile != "":
		return errors.New("jwt_hs256_secret_file: set only one of jwt_hs256_secret and jwt_hs256_secret_file")
	case cfg.HSSecretFile != "":
		b, err := os.ReadFile(cfg.HSSecretFile)
		if err != nil {
			return fmt.Errorf("jwt_hs256_secret_file: %v", err)
		}
		// Secret files usually end with a newline the secret does not contain.
		v.hsSecret = []byte(strings.TrimRight(string(b), "\r\n"))
		if len(v.hsSecret) < authHSMinBytes {
			return fmt.Errorf("jwt_hs256_secret_file: secret is %d bytes; need at least %d", len(v.hsSecret), authHSMinBytes)
		}
	case cfg.HSSecret != nil:
		if len(cfg.HSSecret) < authHSMinBytes {
			return fmt.Errorf("jwt_hs256_secret: secret is %d bytes; need at least %d", len(cfg.HSSecret), authHSMinBytes)
		}
		v.hsSecret = append([]byte(nil), cfg.HSSecret...)
	}
	if cfg.PublicKeyFile != "" {
		keys, err := loadKeyFile("jwt_public_key_file", cfg.PublicKeyFile, jwtParsePEM)
		if err != nil {
			return err
		}
		v.keys = append(v.keys, keys...)
		v.hasKidless = true
	}
	if cfg.JWKSFile != "" {
		keys, err := loadKeyFile("jwt_jwks_file", cfg.JWKSFile, jwksParse)
		if err != nil {
			return err
		}
		v.keys = append(v.keys, keys...)
	}
	if cfg.JWKSURL != "" {
		if !strings.HasPrefix(cfg.JWKSURL, "https://") && !strings.HasPrefix(cfg.JWKSURL, "http://") {
			return fmt.Errorf("jwt_jwks_url: %q is not an http(s) URL", cfg.JWKSURL)
		}
		v.remote = newJWKSRemote(cfg.JWKSURL, cfg.HTTPClient, log, time.Now)
	}
	return nil
}

// authAlgorithms returns the allow-list: the configured one, checked against the keys, or
// by default every algorithm the keys can verify. A JWKS URL's keys are not known yet, so it
// allows every asymmetric algorithm; each key still verifies only its own family.
func authAlgorithms(cfg []string, v *jwtVerifier) (map[string]bool, error) {
	can := map[string]bool{}
	for alg := range jwtAlgHash {
		if strings.HasPrefix(alg, "HS") {
			can[alg] = v.hsSecret != nil && len(v.hsSecret) >= jwtAlgHash[alg].Size()
		} else {
			can[alg] = v.remote != nil
		}
	}
	for _, k := range v.keys {
		for _, alg := range k.algs() {
			can[alg] = true
		}
	}
	if len(cfg) == 0 {
		out := map[string]bool{}
		for alg, ok := range can {
			if ok {
				out[alg] = true
			}
		}
		return out, nil
	}
	out := map[string]bool{}
	for _, alg := range cfg {
		if _, known := jwtAlgHash[alg]; !known {
			return nil, fmt.Errorf("jwt_algorithms: %q is not supported (use %s)", alg, authAlgNames())
		}
		if !can[alg] {
			return nil, fmt.Errorf("jwt_algorithms: no configured key can verify %s", alg)
		}
		out[alg] = true
	}
	return out, nil
}

func authAlgNames() string {
	var names []string
	for alg := range jwtAlgHash {
		names = append(names, alg)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func authCheckPattern(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("pattern %q must start with /", p)
	}
	if i := strings.IndexByte(p, '*'); i >= 0 && (i != len(p)-1 || !strings.HasSuffix(p, "/*")) {
		return fmt.Errorf("pattern %q: * is only allowed as a final /*", p)
	}
	return nil
}

func authMatch(patterns []string, p string) bool {
	for _, pat := range patterns {
		if prefix, ok := strings.CutSuffix(pat, "*"); ok {
			if strings.HasPrefix(p, prefix) {
				return true
			}
		} else if p == pat {
			return true
		}
	}
	return false
}

// protected decides for the decoded subpath. Dot segments and doubled slashes are judged
// both as sent and cleaned, and protection wins: "/docs/../users" must not ride on "/docs/*".
func (a *edgeAuth) protected(subpath string) bool {
	if subpath == "" {
		subpath = "/"
	}
	for _, p := range []string{subpath, path.Clean(subpath)} {
		if authMatch(a.protect, p) && !authMatch(a.public, p) {
			return true
		}
	}
	return false
}

// Identity headers set on the upstream request; stripFluxlitHeaders removes any a client sent.
const (
	authHeaderSub    = "X-Fluxlit-Sub"
	authHeaderScopes = "X-Fluxlit-Scopes"
	authHeaderClaims = "X-Fluxlit-Claims"
)

// authorize checks r's bearer token when subpath (relative to the API mount) is protected.
// It returns the identity headers to set upstream (nil for an unprotected path) or the error
// to answer with.
func (a *edgeAuth) authorize(r *http.Request, subpath string) (http.Header, *jwtError) {
	if !a.protected(subpath) {
		return nil, nil
	}
	token, jerr := authBearer(r.Header)
	if jerr != nil {
		return nil, jerr
	}
	claims, jerr := a.verifier.verify(r.Context(), token)
	if jerr != nil {
		return nil, jerr
	}
	for _, want := range a.scopes {
		if !jwtAnyOf(claims.scopes, []string{want}) {
			e := jwtFail(jwtReasonScope)
			e.scope = strings.Join(a.scopes, " ")
			return nil, e
		}
	}
	h := http.Header{}
	if claims.sub != "" && authHeaderValueOK(claims.sub) {
		h.Set(authHeaderSub, claims.sub)
	}
	var scopes []string
	for _, s := range claims.scopes {
		if s != "" && authHeaderValueOK(s) && !strings.ContainsAny(s, " \t") {
			scopes = append(scopes, s)
		}
	}
	h.Set(authHeaderScopes, strings.Join(scopes, " "))
	h.Set(authHeaderClaims, base64.RawURLEncoding.EncodeToString(claims.payload))
	return h, nil
}

// authHeaderValueOK refuses control characters (CR, LF, NUL...), which would let a claim
// split or break the upstream request; httpguts is avoided because it pulls in x/text.
func authHeaderValueOK(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// authBearer reads the one Authorization header; a scheme other than Bearer, or an empty
// token, counts as no credentials (RFC 6750 §3.1). Two headers are malformed.
func authBearer(h http.Header) (string, *jwtError) {
	vals := h.Values("Authorization")
	if len(vals) > 1 {
		return "", jwtFail(jwtReasonMalformed)
	}
	if len(vals) == 0 {
		return "", jwtFail(jwtReasonMissing)
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(vals[0]), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", jwtFail(jwtReasonMissing)
	}
	return token, nil
}

// stripFluxlitHeaders deletes every X-Fluxlit-* header, whatever its case, so a client can
// never forge the identity fluxlit asserts. The proxy calls it on both hops.
func stripFluxlitHeaders(h http.Header) {
	for k := range h {
		if len(k) >= len("X-Fluxlit-") && strings.EqualFold(k[:len("X-Fluxlit-")], "X-Fluxlit-") {
			delete(h, k)
		}
	}
}

// loadKeyFile reads the key file a setting names and parses it; the error names both.
func loadKeyFile(setting, path string, parse func([]byte) ([]*jwtKey, error)) ([]*jwtKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		var keys []*jwtKey
		if keys, err = parse(b); err == nil {
			return keys, nil
		}
	}
	return nil, fmt.Errorf("%s: %s: %v", setting, path, err)
}
