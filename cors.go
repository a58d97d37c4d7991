// cors.go owns CORS for the API mount: validating cors_allow_origins at startup, answering
// preflight requests at the edge, and adding the Access-Control-* headers to actual API
// responses. Streamlit is never CORS-enabled (it is same-origin by design).

package main

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// corsDefaultMethods is the method list sent when cors_allow_methods is empty or "*". It is
// spelled out rather than "*" because browsers read "*" literally on credentialed requests.
const corsDefaultMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"

// corsSafelistedHeaders are always allowed: browsers still name them in
// Access-Control-Request-Headers when their value is not safelisted (Content-Type:
// application/json is the common case), and refusing them would break every JSON POST.
var corsSafelistedHeaders = [...]string{"accept", "accept-language", "content-language", "content-type"}

// corsPreflightVary lists the request headers a preflight answer depends on.
const corsPreflightVary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"

// corsPolicy is the validated cors_* configuration. A nil policy (CORS off, the default when
// cors_allow_origins is empty) handles no preflight and decorates nothing.
type corsPolicy struct {
	anyOrigin   bool                // "*": any origin, never with credentials
	origins     map[string]struct{} // exact serialized origins ("https://app.example.com")
	credentials bool
	methods     map[string]struct{} // allowed methods; nil means corsDefaultMethods
	methodsText string              // Access-Control-Allow-Methods
	headers     map[string]struct{} // lower-case allowed request headers; nil means any
	headersText string              // Access-Control-Allow-Headers when headers != nil (never empty then)
	maxAge      string              // Access-Control-Max-Age in seconds, "" when not sent
}

// newCORSPolicy validates the CORS settings. origins are "*" or serialized origins,
// scheme://host[:port] with scheme http or https; they are lower-cased and a default port
// (:443 for https, :80 for http) is dropped, which is how browsers send Origin. "null" is
// refused: sandboxed iframes and file:// pages all send it, so allowing it allows them all.
// Empty methods or "*" mean corsDefaultMethods; empty headers or "*" mean any header the
// browser asks for (echoed back). maxAge <= 0 sends no Access-Control-Max-Age (browser default
// of 5 s); it is sent in whole seconds.
func newCORSPolicy(origins []string, allowCredentials bool, methods, headers []string, maxAge time.Duration) (*corsPolicy, error) {
	p := &corsPolicy{origins: make(map[string]struct{}, len(origins)), credentials: allowCredentials}
	for _, o := range origins {
		o = strings.TrimSpace(o)
		if o == "*" {
			if allowCredentials {
				return nil, fmt.Errorf(`cors_allow_origins: "*" cannot be combined with cors_allow_credentials`)
			}
			p.anyOrigin = true
			continue
		}
		norm, err := corsNormalizeOrigin(o)
		if err != nil {
			return nil, err
		}
		p.origins[norm] = struct{}{}
	}
	if err := p.setMethods(methods); err != nil {
		return nil, err
	}
	if err := p.setHeaders(headers); err != nil {
		return nil, err
	}
	if secs := int64(maxAge / time.Second); secs > 0 {
		p.maxAge = strconv.FormatInt(secs, 10)
	}
	return p, nil
}

// corsNormalizeOrigin validates one origin and returns it as a browser would serialize it.
func corsNormalizeOrigin(o string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("cors_allow_origins: %q is not an origin (%s; want scheme://host[:port], e.g. https://app.example.com)", o, why)
	}
	if o == "null" {
		return "", bad(`"null" would allow every sandboxed iframe and file:// page`)
	}
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok {
		return "", bad("no scheme")
	}
	scheme = strings.ToLower(scheme)
	if scheme != "http" && scheme != "https" {
		return "", bad("scheme must be http or https")
	}
	if rest == "" {
		return "", bad("no host")
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		return "", bad("an origin has no path, query or fragment")
	}
	if strings.ContainsRune(rest, '@') {
		return "", bad("an origin has no user info")
	}
	host, port := rest, ""
	if rest[0] == '[' {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return "", bad("unclosed IPv6 literal")
		}
		a, err := netip.ParseAddr(rest[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", bad("bad IPv6 literal")
		}
		host, port = "["+a.String()+"]", rest[end+1:] // the compressed form browsers send
		if port != "" && port[0] != ':' {
			return "", bad("bad port")
		}
	} else if i := strings.IndexByte(rest, ':'); i >= 0 {
		host, port = rest[:i], rest[i:]
	}
	if port != "" {
		n, err := strconv.Atoi(port[1:])
		if err != nil || n < 1 || n > 65535 || port[1] == '+' || port[1] == '0' {
			return "", bad("bad port")
		}
		if scheme == "https" && n == 443 || scheme == "http" && n == 80 {
			port = "" // browsers omit the default port
		}
	}
	if host == "" {
		return "", bad("no host")
	}
	if host[0] != '[' {
		for i := 0; i < len(host); i++ {
			c := host[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
				return "", bad("bad host character")
			}
		}
	}
	return scheme + "://" + strings.ToLower(host) + port, nil
}

// setMethods validates cors_allow_methods.
func (p *corsPolicy) setMethods(methods []string) error {
	p.methodsText = corsDefaultMethods
	if len(methods) == 0 || len(methods) == 1 && strings.TrimSpace(methods[0]) == "*" {
		return nil
	}
	p.methods = make(map[string]struct{}, len(methods))
	list := make([]string, 0, len(methods))
	for _, m := range methods {
		m = strings.TrimSpace(m)
		if !corsIsToken(m) || m == "*" {
			return fmt.Errorf("cors_allow_methods: %q is not an HTTP method", m)
		}
		if _, dup := p.methods[m]; !dup {
			p.methods[m] = struct{}{}
			list = append(list, m)
		}
	}
	p.methodsText = strings.Join(list, ", ")
	return nil
}

// setHeaders validates cors_allow_headers. The safelisted headers are added to the list sent in
// Access-Control-Allow-Headers, since the browser checks them there too.
func (p *corsPolicy) setHeaders(headers []string) error {
	if len(headers) == 0 || len(headers) == 1 && strings.TrimSpace(headers[0]) == "*" {
		return nil
	}
	p.headers = make(map[string]struct{}, len(headers)+len(corsSafelistedHeaders))
	list := make([]string, 0, len(headers)+len(corsSafelistedHeaders))
	for _, h := range headers {
		h = strings.TrimSpace(h)
		if !corsIsToken(h) || h == "*" {
			return fmt.Errorf("cors_allow_headers: %q is not a header name", h)
		}
		if _, dup := p.headers[strings.ToLower(h)]; !dup {
			p.headers[strings.ToLower(h)] = struct{}{}
			list = append(list, h)
		}
	}
	for _, h := range corsSafelistedHeaders {
		if _, dup := p.headers[h]; !dup {
			p.headers[h] = struct{}{}
			list = append(list, http.CanonicalHeaderKey(h))
		}
	}
	p.headersText = strings.Join(list, ", ")
	return nil
}

// allowsOrigin reports whether origin (the raw Origin header) may read responses. Origin is
// compared exactly: browsers send it serialized and lower-case, so anything else is not a
// browser this policy needs to serve.
func (p *corsPolicy) allowsOrigin(origin string) bool {
	if origin == "" {
		return false
	}
	if p.anyOrigin {
		return true
	}
	_, ok := p.origins[origin]
	return ok
}

// handlePreflight answers a CORS preflight (OPTIONS with Origin and
// Access-Control-Request-Method) and returns true; any other request returns false untouched,
// so the API still sees its own OPTIONS requests. An allowed origin, method and header list get
// 204 with the Access-Control-Allow-* headers. Anything else gets 403 with a one-line reason and
// no Access-Control-Allow-Origin, which the browser reports as a CORS failure: answering it here
// rather than passing it to the API keeps a disallowed origin from reaching the app at all.
func (p *corsPolicy) handlePreflight(w http.ResponseWriter, r *http.Request) bool {
	if p == nil || r.Method != http.MethodOptions {
		return false
	}
	origin := r.Header.Get("Origin")
	method := r.Header.Get("Access-Control-Request-Method")
	if origin == "" || method == "" {
		return false
	}
	h := w.Header()
	if !p.anyOrigin {
		h.Set("Vary", corsPreflightVary)
	}
	reqHeaders := strings.Join(r.Header.Values("Access-Control-Request-Headers"), ",")
	if reason := p.preflightRefusal(origin, method, reqHeaders); reason != "" {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "fluxlit: CORS preflight refused: %s\n", reason)
		return true
	}
	p.setAllowOrigin(h, origin)
	h.Set("Access-Control-Allow-Methods", p.methodsText)
	switch {
	case p.headers != nil:
		h.Set("Access-Control-Allow-Headers", p.headersText)
	case strings.TrimSpace(reqHeaders) != "":
		h.Set("Access-Control-Allow-Headers", reqHeaders) // validated as a token list above
	}
	if p.maxAge != "" {
		h.Set("Access-Control-Max-Age", p.maxAge)
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

// preflightRefusal returns why a preflight is refused, or "" when it is allowed.
func (p *corsPolicy) preflightRefusal(origin, method, reqHeaders string) string {
	if !p.allowsOrigin(origin) {
		return "origin not allowed"
	}
	if p.methods != nil {
		if _, ok := p.methods[method]; !ok {
			return "method not allowed"
		}
	} else if !corsIsToken(method) {
		return "method not allowed"
	}
	for _, name := range strings.Split(reqHeaders, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !corsIsToken(name) {
			return "malformed Access-Control-Request-Headers"
		}
		if p.headers != nil {
			if _, ok := p.headers[strings.ToLower(name)]; !ok {
				return "header not allowed"
			}
		}
	}
	return ""
}

// decorate adds CORS headers to an actual (non-preflight) API response. The gateway owns CORS
// when a policy is configured: any Access-Control-Allow-Origin/-Credentials the upstream set
// are removed first, so a browser never sees two (it rejects that). Vary: Origin is added
// whenever the policy is not "*", even without an Origin, so a shared cache never serves one
// origin's answer to another.
func (p *corsPolicy) decorate(respHeader http.Header, origin string) {
	if p == nil {
		return
	}
	delete(respHeader, "Access-Control-Allow-Origin")
	delete(respHeader, "Access-Control-Allow-Credentials")
	if !p.anyOrigin {
		corsAddVaryOrigin(respHeader)
	}
	if p.allowsOrigin(origin) {
		p.setAllowOrigin(respHeader, origin)
	}
}

// setAllowOrigin writes Access-Control-Allow-Origin (and -Credentials) for an allowed origin:
// "*" for an any-origin policy (never combined with credentials, see newCORSPolicy), else the
// specific origin echoed.
func (p *corsPolicy) setAllowOrigin(h http.Header, origin string) {
	if p.anyOrigin {
		h.Set("Access-Control-Allow-Origin", "*")
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if p.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

// corsAddVaryOrigin adds Origin to Vary unless already listed (or Vary is "*").
func corsAddVaryOrigin(h http.Header) {
	for _, v := range h["Vary"] {
		for v != "" {
			tok := v
			if i := strings.IndexByte(v, ','); i >= 0 {
				tok, v = v[:i], v[i+1:]
			} else {
				v = ""
			}
			tok = strings.TrimSpace(tok)
			if tok == "*" || strings.EqualFold(tok, "Origin") {
				return
			}
		}
	}
	h.Add("Vary", "Origin")
}

// corsIsToken reports whether s is an RFC 9110 token (method and header names).
func corsIsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}
