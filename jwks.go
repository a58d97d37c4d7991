// jwks.go loads verification keys: PEM files (PKIX, PKCS#1, certificates), JWKS documents
// (RFC 7517) from a file, and a JWKS URL that is cached, refreshed on an unknown kid at a
// bounded rate, collapsed with singleflight, and kept at its last good value when the IdP
// fails. Every key passes jwtCheckKey before it can verify anything.

package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

const (
	// jwksMaxKeys caps the keys of one document. IdPs publish 2-4 (current, next, previous);
	// the cap bounds memory and the keys tried for a token without kid.
	jwksMaxKeys = 64
	// jwksMaxBody caps a fetched document: 64 RSA-4096 keys with x5c chains stay under
	// 512 KiB, and an IdP that sends more is broken or hostile.
	jwksMaxBody = 1 << 20
	// jwksDefaultTTL applies when the response has no usable Cache-Control max-age: five
	// minutes is what common IdPs send (Auth0, Okta publish 5-15 min) and bounds how long
	// a key the IdP has revoked keeps verifying.
	jwksDefaultTTL = 5 * time.Minute
	// jwksMinInterval is the least time between two fetches, whatever triggers them (expiry,
	// unknown kid, a failed load). Tokens with random kids must not turn fluxlit into a
	// request amplifier against the IdP; 30 s still lets a freshly rotated key work within
	// half a minute. It is also the floor for max-age (max-age=0 would mean a fetch per request).
	jwksMinInterval = 30 * time.Second
	// jwksMaxTTL caps a max-age: a day-long cache would keep a revoked key alive too long.
	jwksMaxTTL = 24 * time.Hour
	// jwksFetchTimeout bounds one fetch even when the given http.Client has no Timeout, so
	// requests waiting on a refresh cannot hang on a stuck IdP.
	jwksFetchTimeout = 10 * time.Second
	// jwtMinRSABits / jwtMaxRSABits: RFC 7518 §3.3 requires 2048 bits; above 8192 the
	// verification cost becomes a denial-of-service lever and no IdP uses such keys.
	jwtMinRSABits = 2048
	jwtMaxRSABits = 8192
)

// jwtCheckKey enforces what a usable public key is: RSA 2048-8192 bits with a sane exponent,
// EC on P-256/384/521, Ed25519 of the right length.
func jwtCheckKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < jwtMinRSABits || bits > jwtMaxRSABits {
			return fmt.Errorf("RSA key has %d bits; need %d to %d", bits, jwtMinRSABits, jwtMaxRSABits)
		}
		if k.E < 3 || k.E%2 == 0 {
			return fmt.Errorf("RSA key has an invalid exponent %d", k.E)
		}
	case *ecdsa.PublicKey:
		if jwtCurveAlg(k.Curve) == "" {
			return errors.New("EC key is not on P-256, P-384 or P-521")
		}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return errors.New("Ed25519 key has the wrong length")
		}
	default:
		return fmt.Errorf("unsupported key type %T", pub)
	}
	return nil
}

// jwtParsePEM reads every public key in a PEM file: "PUBLIC KEY" (PKIX), "RSA PUBLIC KEY"
// (PKCS#1) and "CERTIFICATE" (its subject key). Private keys are refused: the gateway only
// verifies, and a private key on disk is a misconfiguration worth stopping for.
func jwtParsePEM(data []byte) ([]*jwtKey, error) {
	var keys []*jwtKey
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		var pub crypto.PublicKey
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				pub = cert.PublicKey
			}
		default:
			if strings.Contains(block.Type, "PRIVATE") {
				return nil, fmt.Errorf("PEM block %d is a private key; give the public key", n)
			}
			continue
		}
		if err == nil {
			err = jwtCheckKey(pub)
		}
		if err != nil {
			return nil, fmt.Errorf("PEM block %d (%s): %v", n, block.Type, err)
		}
		keys = append(keys, &jwtKey{pub: pub})
	}
	if len(keys) == 0 {
		return nil, errors.New("no PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE block found")
	}
	return keys, nil
}

// jwkJSON is the members of a JWK we read (RFC 7517 §4, RFC 7518 §6); x5c and x5u are ignored.
type jwkJSON struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Use    string   `json:"use"`
	Alg    string   `json:"alg"`
	KeyOps []string `json:"key_ops"`
	Crv    string   `json:"crv"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
}

// jwksParse reads a JWKS document. Keys not meant for verification (use other than sig,
// key_ops without verify, symmetric "oct" keys, unknown kty or crv) are skipped; a key of a
// supported type that is invalid (short RSA, off-curve point, bad encoding) fails the whole
// document, so a broken or tampered set is never half-used.
func jwksParse(data []byte) ([]*jwtKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not a JWKS document: %v", err)
	}
	if len(doc.Keys) > jwksMaxKeys {
		return nil, fmt.Errorf("%d keys; at most %d are accepted", len(doc.Keys), jwksMaxKeys)
	}
	var keys []*jwtKey
	for i, raw := range doc.Keys {
		var j jwkJSON
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, fmt.Errorf("key %d: %v", i, err)
		}
		k, err := jwkKey(&j)
		if err != nil {
			return nil, fmt.Errorf("key %d (kid %q): %v", i, j.Kid, err)
		}
		if k != nil {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no usable signature verification key")
	}
	return keys, nil
}

// jwkKey builds one key; nil, nil means "not for us, skip".
func jwkKey(j *jwkJSON) (*jwtKey, error) {
	if j.Use != "" && j.Use != "sig" {
		return nil, nil
	}
	if j.KeyOps != nil && !jwkHasOp(j.KeyOps, "verify") {
		return nil, nil
	}
	var pub crypto.PublicKey
	var err error
	switch {
	case j.Kty == "RSA":
		pub, err = jwkRSA(j)
	case j.Kty == "EC" && jwkCurve(j.Crv) != nil:
		pub, err = jwkEC(j)
	case j.Kty == "OKP" && j.Crv == "Ed25519":
		var x []byte
		if x, err = jwtB64Decode(j.X); err == nil && len(x) != ed25519.PublicKeySize {
			err = errors.New("Ed25519 x has the wrong length")
		}
		pub = ed25519.PublicKey(x)
	default:
		return nil, nil // oct (HMAC secrets are never taken from a JWKS), X25519, unknown
	}
	if err == nil {
		err = jwtCheckKey(pub)
	}
	if err != nil {
		return nil, err
	}
	k := &jwtKey{kid: j.Kid, alg: j.Alg, pub: pub}
	if j.Alg != "" && !k.canVerify(j.Alg) {
		return nil, fmt.Errorf("alg %q does not fit a %s key", j.Alg, j.Kty)
	}
	return k, nil
}

func jwkHasOp(ops []string, op string) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

func jwkRSA(j *jwkJSON) (*rsa.PublicKey, error) {
	n, err1 := jwtB64Decode(j.N)
	e, err2 := jwtB64Decode(j.E)
	if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
		return nil, errors.New("RSA n or e is not valid base64url")
	}
	ev := new(big.Int).SetBytes(e)
	if ev.BitLen() > 31 {
		return nil, errors.New("RSA exponent too large")
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(ev.Int64())}, nil
}

func jwkCurve(crv string) elliptic.Curve {
	switch crv {
	case "P-256":
		return elliptic.P256()
	case "P-384":
		return elliptic.P384()
	case "P-521":
		return elliptic.P521()
	}
	return nil
}

// jwkEC requires full-length coordinates (RFC 7518 §6.2.1.2) and a point on the curve:
// ParseUncompressedPublicKey rejects invalid-curve points, the classic ECDH/ECDSA attack.
func jwkEC(j *jwkJSON) (*ecdsa.PublicKey, error) {
	curve := jwkCurve(j.Crv)
	size := (curve.Params().BitSize + 7) / 8
	x, err1 := jwtB64Decode(j.X)
	y, err2 := jwtB64Decode(j.Y)
	if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
		return nil, fmt.Errorf("EC x or y is not %d bytes of base64url", size)
	}
	point := append(append([]byte{4}, x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, errors.New("EC point is not on the curve")
	}
	return pub, nil
}

// jwksRemote is a JWKS URL with its cache. All fields after mu are guarded by it.
type jwksRemote struct {
	url    string
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	group  singleflight.Group

	mu          sync.Mutex
	keys        []*jwtKey // last good set; nil until one loaded
	expires     time.Time // when keys should be refetched
	lastAttempt time.Time // start of the last fetch, good or bad
}

func newJWKSRemote(url string, client *http.Client, log *slog.Logger, now func() time.Time) *jwksRemote {
	if client == nil {
		client = &http.Client{Timeout: jwksFetchTimeout}
	}
	return &jwksRemote{url: url, client: client, log: log, now: now}
}

var errJWKSNoKeys = errors.New("jwks: no key set has been loaded")

// keysFor returns the current set, first refreshing it when it is stale or does not know
// kid (a rotation), subject to jwksMinInterval. It returns errJWKSNoKeys only when no set
// was ever loaded.
func (r *jwksRemote) keysFor(ctx context.Context, kid string) ([]*jwtKey, error) {
	r.mu.Lock()
	keys, stale := r.keys, r.keys == nil || !r.now().Before(r.expires)
	r.mu.Unlock()
	if stale || (kid != "" && !jwksHasKid(keys, kid)) {
		ch := r.group.DoChan("jwks", func() (any, error) { r.refresh(); return nil, nil })
		select {
		case <-ch:
		case <-ctx.Done():
		}
		r.mu.Lock()
		keys = r.keys
		r.mu.Unlock()
	}
	if keys == nil {
		return nil, errJWKSNoKeys
	}
	return keys, nil
}

func jwksHasKid(keys []*jwtKey, kid string) bool {
	for _, k := range keys {
		if k.kid == kid {
			return true
		}
	}
	return false
}

// refresh fetches once unless a fetch started less than jwksMinInterval ago; the check is
// made here, inside the singleflight call, so callers that arrive just after a flight ended
// do not start another.
func (r *jwksRemote) refresh() {
	r.mu.Lock()
	now := r.now()
	if !r.lastAttempt.IsZero() && now.Sub(r.lastAttempt) < jwksMinInterval {
		r.mu.Unlock()
		return
	}
	r.lastAttempt = now
	r.mu.Unlock()

	keys, ttl, err := r.fetch()
	if err != nil {
		// Keep the last good set: an IdP outage must not log every user out.
		r.log.Warn("jwks fetch failed; keeping the last good key set", "url", r.url, "err", err)
		return
	}
	r.mu.Lock()
	r.keys, r.expires = keys, now.Add(ttl)
	r.mu.Unlock()
	r.log.Info("jwks loaded", "url", r.url, "keys", len(keys), "ttl", ttl)
}

// fetch GETs and parses the document. Its context is not the request's: one caller giving
// up must not cancel the fetch others are waiting for.
func (r *jwksRemote) fetch() ([]*jwtKey, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), jwksFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBody+1))
	if err != nil {
		return nil, 0, err
	}
	if len(body) > jwksMaxBody {
		return nil, 0, fmt.Errorf("body larger than %d bytes", jwksMaxBody)
	}
	keys, err := jwksParse(body)
	if err != nil {
		return nil, 0, err
	}
	return keys, jwksTTL(resp.Header.Get("Cache-Control")), nil
}

// jwksTTL reads max-age from Cache-Control, bounded to [jwksMinInterval, jwksMaxTTL];
// no-store and no-cache mean "as short as allowed"; anything else gets jwksDefaultTTL.
func jwksTTL(cc string) time.Duration {
	for _, d := range strings.Split(cc, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			return jwksMinInterval
		case "max-age":
			secs, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
			if err != nil || secs < 0 {
				return jwksDefaultTTL
			}
			ttl := time.Duration(min(secs, int64(jwksMaxTTL/time.Second))) * time.Second
			return max(jwksMinInterval, ttl)
		}
	}
	return jwksDefaultTTL
}
