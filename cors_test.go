package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestNewCORSPolicyOrigins(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		creds   bool
		want    string // normalized origin; "*" for any
		wantErr string // substring
	}{
		{"https host", "https://app.example.com", false, "https://app.example.com", ""},
		{"upper case folded", "HTTPS://App.Example.COM", false, "https://app.example.com", ""},
		{"port kept", "http://localhost:8501", true, "http://localhost:8501", ""},
		{"default https port dropped", "https://a.example:443", false, "https://a.example", ""},
		{"default http port dropped", "http://a.example:80", false, "http://a.example", ""},
		{"ipv6 compressed", "http://[2001:DB8:0::1]:3000", false, "http://[2001:db8::1]:3000", ""},
		{"star", "*", false, "*", ""},
		{"star with credentials", "*", true, "", `cors_allow_origins: "*" cannot be combined with cors_allow_credentials`},
		{"path", "https://a.example/", false, "", `"https://a.example/" is not an origin (an origin has no path`},
		{"no scheme", "a.example", false, "", "no scheme"},
		{"ftp", "ftp://a.example", false, "", "scheme must be http or https"},
		{"null", "null", false, "", `"null" would allow`},
		{"userinfo", "https://u@a.example", false, "", "no user info"},
		{"bad port", "https://a.example:99999", false, "", "bad port"},
		{"empty port", "https://a.example:", false, "", "bad port"},
		{"wildcard subdomain", "https://*.example.com", false, "", "bad host character"},
		{"empty host", "https://", false, "", "no host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := newCORSPolicy([]string{tt.in}, tt.creds, nil, nil, 0)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v; want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v; want nil", err)
			}
			got := "*"
			if !p.anyOrigin {
				got = ""
				for o := range p.origins {
					got = o
				}
			}
			if got != tt.want {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}

func TestNewCORSPolicyMethodsHeadersErrors(t *testing.T) {
	if _, err := newCORSPolicy(nil, false, []string{"GET", "BAD METHOD"}, nil, 0); err == nil ||
		err.Error() != `cors_allow_methods: "BAD METHOD" is not an HTTP method` {
		t.Errorf("err = %v; want the bad method named", err)
	}
	if _, err := newCORSPolicy(nil, false, nil, []string{"X-Ok", "x:bad"}, 0); err == nil ||
		err.Error() != `cors_allow_headers: "x:bad" is not a header name` {
		t.Errorf("err = %v; want the bad header named", err)
	}
}

// corsPreflightReq builds an OPTIONS preflight.
func corsPreflightReq(origin, method, reqHeaders string) *http.Request {
	r := httptest.NewRequest(http.MethodOptions, "http://gw/api/items", nil)
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	if method != "" {
		r.Header.Set("Access-Control-Request-Method", method)
	}
	if reqHeaders != "" {
		r.Header.Set("Access-Control-Request-Headers", reqHeaders)
	}
	return r
}

func TestCORSHandlePreflight(t *testing.T) {
	creds, err := newCORSPolicy([]string{"https://app.example.com"}, true, []string{"GET", "POST"}, []string{"Authorization", "X-Trace"}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	open, err := newCORSPolicy([]string{"*"}, false, nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctOnly, err := newCORSPolicy([]string{"https://app.example.com"}, false, nil, []string{"content-type"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		handled bool
		status  int
		headers map[string]string // "" value means must be absent
	}
	tests := []struct {
		name string
		p    *corsPolicy
		in   *http.Request
		want want
	}{
		{"allowed with credentials", creds, corsPreflightReq("https://app.example.com", "POST", "authorization, content-type"),
			want{true, 204, map[string]string{
				"Access-Control-Allow-Origin":      "https://app.example.com",
				"Access-Control-Allow-Credentials": "true",
				"Access-Control-Allow-Methods":     "GET, POST",
				"Access-Control-Allow-Headers":     "Authorization, X-Trace, Accept, Accept-Language, Content-Language, Content-Type",
				"Access-Control-Max-Age":           "600",
				"Vary":                             "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
			}}},
		{"origin refused", creds, corsPreflightReq("https://evil.example", "POST", ""),
			want{true, 403, map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": "",
				"Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}}},
		{"method refused", creds, corsPreflightReq("https://app.example.com", "DELETE", ""),
			want{true, 403, map[string]string{"Access-Control-Allow-Origin": ""}}},
		{"only safelisted configured still listed", ctOnly, corsPreflightReq("https://app.example.com", "POST", "content-type"),
			want{true, 204, map[string]string{"Access-Control-Allow-Headers": "content-type, Accept, Accept-Language, Content-Language"}}},
		{"header refused", creds, corsPreflightReq("https://app.example.com", "GET", "X-Secret"),
			want{true, 403, map[string]string{"Access-Control-Allow-Origin": ""}}},
		{"any origin reflects headers", open, corsPreflightReq("https://x.example", "PATCH", "X-A, X-B"),
			want{true, 204, map[string]string{
				"Access-Control-Allow-Origin":      "*",
				"Access-Control-Allow-Credentials": "",
				"Access-Control-Allow-Methods":     corsDefaultMethods,
				"Access-Control-Allow-Headers":     "X-A, X-B",
				"Access-Control-Max-Age":           "",
				"Vary":                             "",
			}}},
		{"malformed request headers refused", open, corsPreflightReq("https://x.example", "GET", "X-A, bad header"),
			want{true, 403, map[string]string{"Access-Control-Allow-Origin": ""}}},
		{"options without origin is not preflight", creds, corsPreflightReq("", "GET", ""), want{false, 0, nil}},
		{"options without request method is not preflight", creds, corsPreflightReq("https://app.example.com", "", ""), want{false, 0, nil}},
		{"get is not preflight", creds, httptest.NewRequest(http.MethodGet, "http://gw/api/x", nil), want{false, 0, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			handled := tt.p.handlePreflight(w, tt.in)
			if handled != tt.want.handled {
				t.Fatalf("handled: got %v; want %v", handled, tt.want.handled)
			}
			if !handled {
				if len(w.Header()) != 0 || w.Code != 200 || w.Body.Len() != 0 {
					t.Fatalf("not handled but wrote: %d %v %q", w.Code, w.Header(), w.Body)
				}
				return
			}
			if w.Code != tt.want.status {
				t.Errorf("status: got %v; want %v", w.Code, tt.want.status)
			}
			for k, v := range tt.want.headers {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s: got %q; want %q", k, got, v)
				}
			}
			if w.Code == 403 && !strings.HasPrefix(w.Body.String(), "fluxlit: CORS preflight refused: ") {
				t.Errorf("body: got %q; want the refusal reason", w.Body)
			}
		})
	}
}

func TestCORSDecorate(t *testing.T) {
	creds, _ := newCORSPolicy([]string{"https://app.example.com", "http://localhost:8501"}, true, nil, nil, 0)
	nocreds, _ := newCORSPolicy([]string{"https://app.example.com"}, false, nil, nil, 0)
	open, _ := newCORSPolicy([]string{"*"}, false, nil, nil, 0)
	tests := []struct {
		name   string
		p      *corsPolicy
		in     http.Header
		origin string
		want   http.Header
	}{
		{"allowed echoes origin with credentials", creds, http.Header{}, "http://localhost:8501",
			http.Header{"Vary": {"Origin"}, "Access-Control-Allow-Origin": {"http://localhost:8501"}, "Access-Control-Allow-Credentials": {"true"}}},
		{"allowed without credentials", nocreds, http.Header{}, "https://app.example.com",
			http.Header{"Vary": {"Origin"}, "Access-Control-Allow-Origin": {"https://app.example.com"}}},
		{"not allowed still varies", creds, http.Header{}, "https://evil.example", http.Header{"Vary": {"Origin"}}},
		{"no origin still varies", creds, http.Header{}, "", http.Header{"Vary": {"Origin"}}},
		{"origin compared exactly", creds, http.Header{}, "https://APP.example.com", http.Header{"Vary": {"Origin"}}},
		{"upstream cors replaced", creds,
			http.Header{"Access-Control-Allow-Origin": {"*"}, "Access-Control-Allow-Credentials": {"false"}, "Vary": {"Accept-Encoding"}},
			"https://app.example.com",
			http.Header{"Vary": {"Accept-Encoding", "Origin"}, "Access-Control-Allow-Origin": {"https://app.example.com"}, "Access-Control-Allow-Credentials": {"true"}}},
		{"upstream cors removed for refused origin", creds,
			http.Header{"Access-Control-Allow-Origin": {"*"}}, "https://evil.example", http.Header{"Vary": {"Origin"}}},
		{"existing vary origin not duplicated", creds, http.Header{"Vary": {"Accept-Encoding, origin"}}, "",
			http.Header{"Vary": {"Accept-Encoding, origin"}}},
		{"star policy: star, no vary", open, http.Header{}, "https://x.example",
			http.Header{"Access-Control-Allow-Origin": {"*"}}},
		{"star policy without origin adds nothing", open, http.Header{}, "", http.Header{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.p.decorate(tt.in, tt.origin)
			if len(tt.in) != len(tt.want) {
				t.Fatalf("got %v; want %v", tt.in, tt.want)
			}
			for k, v := range tt.want {
				if strings.Join(tt.in[k], "|") != strings.Join(v, "|") {
					t.Errorf("%s: got %v; want %v", k, tt.in[k], v)
				}
			}
		})
	}
}

func FuzzNewCORSPolicy(f *testing.F) {
	for _, s := range []string{"https://app.example.com", "http://localhost:8501", "*", "null", "https://a:443",
		"http://[::1]:80", "HTTPS://X", "https://a.example/", "https://:1", "http://[fe80::1%25eth0]", "https://a:+1"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, origin string, creds bool) {
		p, err := newCORSPolicy([]string{origin}, creds, nil, nil, 0)
		if err != nil {
			if strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "cors_allow_origins: ") {
				t.Fatalf("error %q is not one cors_allow_origins line", err)
			}
			return
		}
		if p.anyOrigin && creds {
			t.Fatalf("%q accepted as * with credentials", origin)
		}
		// A normalized origin is stable and is what decorate echoes.
		for o := range p.origins {
			again, err := corsNormalizeOrigin(o)
			if err != nil || again != o {
				t.Fatalf("normalize(%q) = %q, %v; want stable", o, again, err)
			}
			h := http.Header{}
			p.decorate(h, o)
			if h.Get("Access-Control-Allow-Origin") != o {
				t.Fatalf("decorate(%q) = %v", o, h)
			}
		}
	})
}

func TestCORSNilPolicy(t *testing.T) {
	var p *corsPolicy
	w := httptest.NewRecorder()
	if p.handlePreflight(w, corsPreflightReq("https://a.example", "GET", "")) {
		t.Errorf("nil policy handled a preflight; want false")
	}
	h := http.Header{"Access-Control-Allow-Origin": {"*"}}
	p.decorate(h, "https://a.example")
	if len(h) != 1 || h.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("nil policy changed headers: got %v; want upstream's kept", h)
	}
}
