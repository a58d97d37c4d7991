// secheaders.go owns the security headers fluxlit adds to responses (API and Streamlit alike):
// nosniff, frame and referrer policy always, HSTS only over HTTPS. An upstream that set one of
// them keeps its own value: fluxlit fills gaps and never duplicates.

package main

import (
	"net/http"
	"strconv"
	"time"
)

// The fixed header values are held as one-element slices assigned straight into the header map,
// so apply allocates nothing. Their capacity is exactly 1, so a later Header.Add appends into a
// fresh array and the shared slice is never written; nobody may assign to h[k][0] in place.
var (
	secNosniff        = []string{"nosniff"}[:1:1]                         // stop MIME sniffing of API JSON into HTML
	secFrameOptions   = []string{"SAMEORIGIN"}[:1:1]                      // clickjacking: framing only by the same origin
	secReferrerPolicy = []string{"strict-origin-when-cross-origin"}[:1:1] // no paths or query tokens (fluxlit_sid, auth_code) to other origins
)

// securityHeaders holds the precomputed set, over plain HTTP and over HTTPS.
type securityHeaders struct {
	plain, tls []secHeader
}

// secHeader is one header of the set; value is a shared one-element slice (see above).
type secHeader struct {
	name  string
	value []string
}

// newSecurityHeaders returns the header set with HSTS max-age hstsMaxAge, in whole seconds (the
// integrator passes two years, 63072000 s, the hstspreload.org minimum and the old Python
// value). hstsMaxAge <= 0 turns HSTS off: set that when the TLS-terminating ingress owns HSTS,
// since it should have one owner. ("max-age=0", which tells browsers to forget HSTS, is the
// ingress's business too.) includeSubDomains is always sent: fluxlit serves an app that owns its
// host name.
func newSecurityHeaders(hstsMaxAge time.Duration) *securityHeaders {
	s := &securityHeaders{plain: []secHeader{
		{"X-Content-Type-Options", secNosniff},
		{"X-Frame-Options", secFrameOptions},
		{"Referrer-Policy", secReferrerPolicy},
	}}
	s.tls = s.plain
	if secs := int64(hstsMaxAge / time.Second); secs > 0 {
		hsts := []string{"max-age=" + strconv.FormatInt(secs, 10) + "; includeSubDomains"}[:1:1]
		s.tls = append(s.plain[:len(s.plain):len(s.plain)], secHeader{"Strict-Transport-Security", hsts})
	}
	return s
}

// set is the headers fluxlit adds to a response, each only where the upstream set none: the
// one set both engines add (apply here; the fast engine writes it in writeResponseHead).
func (s *securityHeaders) set(https bool) []secHeader {
	if https {
		return s.tls
	}
	return s.plain
}

// apply adds X-Content-Type-Options: nosniff, X-Frame-Options: SAMEORIGIN and Referrer-Policy:
// strict-origin-when-cross-origin to h, each only when absent, and Strict-Transport-Security
// when https is true (the request reached fluxlit over TLS, or a trusted proxy said https: see
// forwardedInfo.Proto) and h has none. HSTS over plain HTTP is ignored by browsers and would
// only mislead. h must use canonical keys, as net/http response headers do.
//
// X-Frame-Options: SAMEORIGIN stops other sites from embedding the app in an iframe (Streamlit's
// ?embed=true included); an app meant to be embedded must set its own X-Frame-Options or CSP
// frame-ancestors upstream.
func (s *securityHeaders) apply(h http.Header, https bool) {
	for _, sh := range s.set(https) {
		if _, ok := h[sh.name]; !ok {
			h[sh.name] = sh.value
		}
	}
}
