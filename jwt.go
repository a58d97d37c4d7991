// jwt.go verifies compact JWS tokens (RFC 7515/7519) on crypto/* only: parsing with bounded
// work, the algorithm allow-list, one key family per algorithm, signature checks and the
// registered claims. It owns jwtError, whose reason strings are also the metrics labels.
// Key loading lives in jwks.go; the HTTP edge check in auth.go.

package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	_ "crypto/sha256" // registers SHA-256 for crypto.Hash.New
	_ "crypto/sha512" // registers SHA-384 and SHA-512
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"time"
)

// jwtMaxTokenBytes caps the token before any work is done on it. IdP access tokens are
// 1-2 KiB, and tokens with long group lists reach 4-6 KiB; 8 KiB is also the usual limit of
// a single request header line (nginx large_client_header_buffers, many load balancers), so a
// longer token would not survive the path to us anyway. The cap bounds base64, JSON and
// hashing work per request (CVE-2025-30204 was unbounded splitting of a huge token).
const jwtMaxTokenBytes = 8 << 10

// Reasons are a small fixed set so that they can be metrics labels.
const (
	jwtReasonMissing     = "missing"       // no bearer token in the request
	jwtReasonMalformed   = "malformed"     // size, segments, encoding, JSON, header parameters, claim types, no exp
	jwtReasonAlgorithm   = "algorithm"     // none, not allowed, or no configured key of that family
	jwtReasonUnknownKid  = "unknown_kid"   // kid names no configured key, even after a refresh
	jwtReasonSignature   = "signature"     // signature does not verify
	jwtReasonExpired     = "expired"       // exp passed (plus leeway)
	jwtReasonNotYetValid = "not_yet_valid" // nbf, or iat, in the future beyond leeway
	jwtReasonIssuer      = "issuer"        // iss differs from the configured issuer
	jwtReasonAudience    = "audience"      // aud holds none of the configured audiences
	jwtReasonScope       = "scope"         // valid token without a required scope (403)
	jwtReasonNoKeys      = "no_keys"       // no key could ever be loaded (503)
)

// jwtError is the one error type of verification: a reason, the HTTP status and the
// WWW-Authenticate value (RFC 6750 §3). Descriptions are deliberately vague: a client may
// learn that its token expired, but not which part of a forged one was wrong.
type jwtError struct {
	status int
	reason string
	scope  string // required scopes, for insufficient_scope
}

func (e *jwtError) Error() string  { return "jwt: " + e.reason }
func (e *jwtError) Status() int    { return e.status }
func (e *jwtError) Reason() string { return e.reason }

// Description is the short, attacker-safe text for error_description and response bodies.
func (e *jwtError) Description() string {
	switch e.reason {
	case jwtReasonMissing:
		return "bearer token required"
	case jwtReasonMalformed:
		return "malformed token"
	case jwtReasonExpired:
		return "token expired"
	case jwtReasonNotYetValid:
		return "token not yet valid"
	case jwtReasonIssuer, jwtReasonAudience:
		return "token not accepted here"
	case jwtReasonScope:
		return "insufficient scope"
	case jwtReasonNoKeys:
		return "token verification unavailable"
	}
	return "invalid token" // algorithm, unknown_kid, signature: one text, no oracle
}

// WWWAuthenticate is the challenge to send; "" for 503, where no challenge applies.
func (e *jwtError) WWWAuthenticate() string {
	switch {
	case e.reason == jwtReasonMissing:
		return "Bearer" // RFC 6750 §3.1: no error code when no credentials were sent
	case e.status == http.StatusForbidden:
		return `Bearer error="insufficient_scope", scope="` + e.scope + `"`
	case e.status == http.StatusUnauthorized:
		return `Bearer error="invalid_token", error_description="` + e.Description() + `"`
	}
	return ""
}

func jwtFail(reason string) *jwtError {
	switch reason {
	case jwtReasonScope:
		return &jwtError{status: http.StatusForbidden, reason: reason}
	case jwtReasonNoKeys:
		return &jwtError{status: http.StatusServiceUnavailable, reason: reason}
	}
	return &jwtError{status: http.StatusUnauthorized, reason: reason}
}

// jwtAlgHash maps every supported alg to its hash; EdDSA signs the message itself (0).
var jwtAlgHash = map[string]crypto.Hash{
	"HS256": crypto.SHA256, "HS384": crypto.SHA384, "HS512": crypto.SHA512,
	"RS256": crypto.SHA256, "RS384": crypto.SHA384, "RS512": crypto.SHA512,
	"PS256": crypto.SHA256, "PS384": crypto.SHA384, "PS512": crypto.SHA512,
	"ES256": crypto.SHA256, "ES384": crypto.SHA384, "ES512": crypto.SHA512,
	"EdDSA": 0,
}

// jwtKey is one public key. The Go type of pub decides which algorithms it can verify, so an
// RSA key can never act as an HMAC secret (RFC 8725 §3.1). alg, from a JWK, narrows it to one.
type jwtKey struct {
	kid string
	alg string
	pub crypto.PublicKey // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// canVerify reports whether k is of the family alg needs (and of the right curve for ES).
func (k *jwtKey) canVerify(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		return alg == jwtCurveAlg(pub.Curve)
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// algs lists the algorithms k can verify, for the default allow-list.
func (k *jwtKey) algs() []string {
	var out []string
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"} {
		if k.canVerify(alg) {
			out = append(out, alg)
		}
	}
	return out
}

func jwtCurveAlg(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return "ES256"
	case elliptic.P384():
		return "ES384"
	case elliptic.P521():
		return "ES512"
	}
	return ""
}

// jwtToken is a parsed, not yet verified, compact JWS.
type jwtToken struct {
	alg, kid     string
	signingInput string // header.payload, exactly as sent
	payload      []byte
	sig          []byte
}

// jwtParse checks the structure of a compact JWS: size, exactly three segments (strings.Cut,
// never Split), strict unpadded base64url, a JSON-object header with a string alg, no crit,
// and an accepted typ. It does not look at keys or claims.
func jwtParse(token string) (*jwtToken, *jwtError) {
	if len(token) > jwtMaxTokenBytes {
		return nil, jwtFail(jwtReasonMalformed)
	}
	h64, rest, ok1 := strings.Cut(token, ".")
	p64, s64, ok2 := strings.Cut(rest, ".")
	// An empty signature parses (so "alg":"none" is reported as an algorithm problem) and
	// then fails in verify.
	if !ok1 || !ok2 || strings.Contains(s64, ".") || h64 == "" || p64 == "" {
		return nil, jwtFail(jwtReasonMalformed)
	}
	hdr, err1 := jwtB64Decode(h64)
	payload, err2 := jwtB64Decode(p64)
	sig, err3 := jwtB64Decode(s64)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, jwtFail(jwtReasonMalformed)
	}
	fields, ok := jwtObject(hdr)
	if !ok {
		return nil, jwtFail(jwtReasonMalformed)
	}
	// crit names extensions the recipient must understand (RFC 7515 §4.1.11); we understand
	// none, so any crit at all is refused. jku, x5u, jwk and x5c are never read.
	if _, has := fields["crit"]; has {
		return nil, jwtFail(jwtReasonMalformed)
	}
	t := &jwtToken{signingInput: token[:len(h64)+1+len(p64)], payload: payload, sig: sig}
	var typ string
	if !jwtString(fields, "alg", &t.alg) || !jwtString(fields, "kid", &t.kid) || !jwtString(fields, "typ", &typ) {
		return nil, jwtFail(jwtReasonMalformed)
	}
	if _, has := fields["typ"]; has && !jwtTypOK(typ) {
		return nil, jwtFail(jwtReasonMalformed)
	}
	if _, has := fields["alg"]; !has {
		return nil, jwtFail(jwtReasonMalformed)
	}
	return t, nil
}

// jwtTypOK accepts the explicit types of RFC 7519 §5.1 and RFC 9068 (access tokens).
func jwtTypOK(typ string) bool {
	for _, ok := range []string{"JWT", "at+jwt", "application/jwt", "application/at+jwt"} {
		if strings.EqualFold(typ, ok) {
			return true
		}
	}
	return false
}

// jwtB64Decode is unpadded base64url, strictly: the alphabet is checked first because the
// stdlib decoder silently skips \r and \n, and Strict rejects non-zero trailing bits.
func jwtB64Decode(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return nil, errJWTBase64
		}
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

var errJWTBase64 = errors.New("jwt: not unpadded base64url")

// jwtObject decodes a JSON object into its members; anything else (array, null, string,
// trailing data) is refused. Numbers stay json.Number text until a claim is read.
func jwtObject(b []byte) (map[string]json.RawMessage, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, false
	}
	return m, true
}

// jwtString reads an optional string member; false when present but not a string.
func jwtString(m map[string]json.RawMessage, name string, out *string) bool {
	raw, ok := m[name]
	if !ok {
		return true
	}
	return len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, out) == nil
}

// jwtNumber reads an optional NumericDate; false when present but not a JSON number.
func jwtNumber(m map[string]json.RawMessage, name string, out *float64, present *bool) bool {
	raw, ok := m[name]
	if !ok {
		return true
	}
	*present = true
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return false
	}
	return json.Unmarshal(raw, out) == nil
}

// jwtStrings reads a member that may be one string or an array of strings (aud, scp).
func jwtStrings(m map[string]json.RawMessage, name string) ([]string, bool) {
	raw, ok := m[name]
	if !ok {
		return nil, true
	}
	var one string
	if len(raw) > 0 && raw[0] == '"' {
		if json.Unmarshal(raw, &one) != nil {
			return nil, false
		}
		return []string{one}, true
	}
	var many []string
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &many) != nil {
		return nil, false
	}
	return many, true
}

// jwtSigOK checks sig over input with one key; the alg's family was already matched.
func jwtSigOK(alg string, pub crypto.PublicKey, input string, sig []byte) bool {
	h := jwtAlgHash[alg]
	var digest []byte
	if h != 0 {
		hh := h.New()
		hh.Write([]byte(input))
		digest = hh.Sum(nil)
	}
	switch key := pub.(type) {
	case *rsa.PublicKey:
		if strings.HasPrefix(alg, "PS") {
			// RFC 7518 §3.5: the salt is as long as the hash.
			return rsa.VerifyPSS(key, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}
		return rsa.VerifyPKCS1v15(key, h, digest, sig) == nil
	case *ecdsa.PublicKey:
		// RFC 7518 §3.4: raw r||s, each the curve's byte size; DER is not accepted.
		size := (key.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return false
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(key, digest, r, s)
	case ed25519.PublicKey:
		return len(key) == ed25519.PublicKeySize && ed25519.Verify(key, []byte(input), sig)
	}
	return false
}

// jwtHMACOK checks an HS signature in constant time.
func jwtHMACOK(alg string, secret []byte, input string, sig []byte) bool {
	mac := hmac.New(jwtAlgHash[alg].New, secret)
	mac.Write([]byte(input))
	return hmac.Equal(mac.Sum(nil), sig)
}

// jwtClaims is what a verified token tells the upstream.
type jwtClaims struct {
	payload []byte // the verified payload JSON, as signed
	sub     string
	scopes  []string
}

// jwtVerifier holds the keys and the rules. It is immutable after construction except for
// the remote key set, which refreshes itself.
type jwtVerifier struct {
	hsSecret   []byte
	keys       []*jwtKey   // PEM and JWKS-file keys
	remote     *jwksRemote // nil without jwks_url
	algs       map[string]bool
	issuer     string
	audience   []string
	leeway     time.Duration
	now        func() time.Time
	hasKidless bool // a PEM key: matches any kid
}

// verify runs every check and returns on the first failure: structure, algorithm, key,
// signature, then claims. The signature is checked before any claim is read, so an expired
// forged token reports "signature", never "expired" (CVE-2024-51744).
func (v *jwtVerifier) verify(ctx context.Context, token string) (*jwtClaims, *jwtError) {
	t, jerr := jwtParse(token)
	if jerr != nil {
		return nil, jerr
	}
	if strings.EqualFold(t.alg, "none") || !v.algs[t.alg] {
		return nil, jwtFail(jwtReasonAlgorithm)
	}
	if len(t.sig) == 0 {
		return nil, jwtFail(jwtReasonSignature)
	}
	if strings.HasPrefix(t.alg, "HS") {
		// HS tokens are checked against the configured secret only, never a public key.
		if v.hsSecret == nil {
			return nil, jwtFail(jwtReasonAlgorithm)
		}
		if !jwtHMACOK(t.alg, v.hsSecret, t.signingInput, t.sig) {
			return nil, jwtFail(jwtReasonSignature)
		}
	} else if jerr := v.verifyPublic(ctx, t); jerr != nil {
		return nil, jerr
	}
	return v.checkClaims(t.payload)
}

// verifyPublic finds the candidate keys (kid is a map lookup, nothing more) and tries them.
func (v *jwtVerifier) verifyPublic(ctx context.Context, t *jwtToken) *jwtError {
	var cands []*jwtKey
	kidFound := false
	collect := func(keys []*jwtKey) {
		for _, k := range keys {
			if k.kid == "" || t.kid == "" || k.kid == t.kid {
				kidFound = kidFound || k.kid == t.kid && t.kid != ""
				cands = append(cands, k)
			}
		}
	}
	collect(v.keys)
	if v.remote != nil && !kidFound {
		set, err := v.remote.keysFor(ctx, t.kid)
		if err != nil && len(cands) == 0 {
			return jwtFail(jwtReasonNoKeys)
		}
		collect(set)
	}
	if t.kid != "" && !kidFound && !v.hasKidless {
		return jwtFail(jwtReasonUnknownKid)
	}
	tried := false
	for _, k := range cands {
		if !k.canVerify(t.alg) {
			continue
		}
		tried = true
		if jwtSigOK(t.alg, k.pub, t.signingInput, t.sig) {
			return nil
		}
	}
	if !tried {
		return jwtFail(jwtReasonAlgorithm)
	}
	return jwtFail(jwtReasonSignature)
}

// checkClaims applies the registered-claim rules to a verified payload.
func (v *jwtVerifier) checkClaims(payload []byte) (*jwtClaims, *jwtError) {
	m, ok := jwtObject(payload)
	if !ok {
		return nil, jwtFail(jwtReasonMalformed)
	}
	var exp, nbf, iat float64
	var hasExp, hasNbf, hasIat bool
	c := &jwtClaims{payload: payload}
	var iss, scope string
	if !jwtNumber(m, "exp", &exp, &hasExp) || !jwtNumber(m, "nbf", &nbf, &hasNbf) ||
		!jwtNumber(m, "iat", &iat, &hasIat) || !hasExp ||
		!jwtString(m, "iss", &iss) || !jwtString(m, "sub", &c.sub) || !jwtString(m, "scope", &scope) {
		return nil, jwtFail(jwtReasonMalformed)
	}
	aud, okAud := jwtStrings(m, "aud")
	scp, okScp := jwtStrings(m, "scp")
	if !okAud || !okScp {
		return nil, jwtFail(jwtReasonMalformed)
	}
	// Seconds as float64: exact for any realistic date, and huge values compare sanely.
	now := float64(v.now().UnixNano()) / 1e9
	leeway := v.leeway.Seconds()
	switch {
	case now >= exp+leeway:
		return nil, jwtFail(jwtReasonExpired)
	case hasNbf && now < nbf-leeway, hasIat && now < iat-leeway:
		return nil, jwtFail(jwtReasonNotYetValid)
	case v.issuer != "" && iss != v.issuer:
		return nil, jwtFail(jwtReasonIssuer)
	case len(v.audience) > 0 && !jwtAnyOf(aud, v.audience):
		return nil, jwtFail(jwtReasonAudience)
	}
	c.scopes = strings.Fields(scope)
	for _, s := range scp {
		c.scopes = append(c.scopes, strings.Fields(s)...) // scp as one string is space-separated too
	}
	return c, nil
}

func jwtAnyOf(have, want []string) bool {
	for _, h := range have {
		for _, w := range want {
			if h == w {
				return true
			}
		}
	}
	return false
}
