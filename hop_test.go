package main

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
)

// hopTestGateway is a gateway with every edge feature on, for plan and rule tables.
func hopTestGateway(t *testing.T, extra map[string]string) *gateway {
	t.Helper()
	settings := map[string]string{
		"api_upstream": "http://127.0.0.1:1", "streamlit_upstream": "http://127.0.0.1:2",
		"jwt_hs256_secret": "0123456789abcdef0123456789abcdef", "jwt_protect": "/*", "jwt_public_paths": "/public/*",
		"cors_allow_origins": "https://app.example", "rate_limit_rps": "100",
		"gateway_max_proxy_request_body_bytes": "1000", "enable_gateway_prometheus_metrics": "true", "debug": "true",
	}
	for k, v := range extra {
		if v == "" {
			delete(settings, k)
		} else {
			settings[k] = v
		}
	}
	g, err := newGateway(testConfig(t, settings), slog.New(slog.NewTextHandler(io.Discard, nil)), "127.0.0.1:0", nil)
	if err != nil {
		t.Fatalf("newGateway: %v", err)
	}
	return g
}

func hopStepList(s hopStep) string {
	var names []string
	for step := hopStep(1); step < stepEnd; step <<= 1 {
		if s&step != 0 {
			names = append(names, hopStepNames[step])
		}
	}
	return strings.Join(names, ",")
}

// TestHopStepsHaveRunners: every step has a name and a net/http runner, so a step added to
// the plan is run by the net/http engine and, not being in fastEngineSteps, makes the fast
// engine hand the request off.
func TestHopStepsHaveRunners(t *testing.T) {
	for step := hopStep(1); step < stepEnd; step <<= 1 {
		if hopStepNames[step] == "" {
			t.Errorf("step %#x has no name", step)
		}
		if netStepRunners[step] == nil {
			t.Errorf("step %s has no net/http runner", hopStepNames[step])
		}
	}
	if len(hopStepNames) != len(netStepRunners) {
		t.Errorf("%d step names, %d runners; want one each", len(hopStepNames), len(netStepRunners))
	}
	if fastEngineSteps != stepProxy|stepTunnel {
		t.Errorf("fastEngineSteps = %s; the fast engine runs only proxy and tunnel", hopStepList(fastEngineSteps))
	}
}

func TestHopPlan(t *testing.T) {
	g := hopTestGateway(t, nil)
	ws := func(method, path string) hopRequest {
		return hopRequest{method: method, path: path, upgrade: upgradeWebSocket}
	}
	tests := []struct {
		name string
		in   hopRequest
		want string
	}{
		{"Streamlit page", hopRequest{method: "GET", path: "/"}, "proxy"},
		{"Streamlit WebSocket", ws("GET", "/_stcore/stream"), "tunnel"},
		{"WebSocket with a body", hopRequest{method: "GET", path: "/_stcore/stream", upgrade: upgradeWebSocket, bodyLength: 5}, "strip_upgrade,proxy"},
		{"WebSocket POST", ws("POST", "/_stcore/stream"), "strip_upgrade,proxy"},
		{"h2c upgrade", hopRequest{method: "GET", path: "/", upgrade: upgradeOther}, "strip_upgrade,proxy"},
		{"h2c upgrade to a public API path", hopRequest{method: "GET", path: "/api/public/docs", upgrade: upgradeOther}, "rate_limit,strip_upgrade,proxy"},
		{"protected API path", hopRequest{method: "GET", path: "/api/users"}, "jwt,rate_limit,proxy"},
		{"protected API path with Origin", hopRequest{method: "GET", path: "/api/users", hasOrigin: true}, "cors,jwt,rate_limit,proxy"},
		{"public API path", hopRequest{method: "GET", path: "/api/public/x"}, "rate_limit,proxy"},
		{"dot segments do not reach the public pattern", hopRequest{method: "GET", path: "/api/public/../users"}, "jwt,rate_limit,proxy"},
		{"healthz", hopRequest{method: "GET", path: "/api/healthz"}, "health"},
		{"readyz", hopRequest{method: "GET", path: "/api/readyz"}, "health"},
		{"debug page", hopRequest{method: "POST", path: "/__fluxlit/debug"}, "local"},
		{"metrics", hopRequest{method: "GET", path: "/__fluxlit/metrics"}, "local"},
		{"docs redirect", hopRequest{method: "HEAD", path: "/docs"}, "local"},
		{"POST to /docs is Streamlit's", hopRequest{method: "POST", path: "/docs"}, "proxy"},
		{"declared body over the limit", hopRequest{method: "POST", path: "/upload", bodyLength: 1001}, "body_too_large"},
		{"declared body at the limit", hopRequest{method: "POST", path: "/upload", bodyLength: 1000}, "proxy"},
		{"chunked body", hopRequest{method: "POST", path: "/upload", bodyLength: -1}, "body_count,proxy"},
		{"chunked body to the API", hopRequest{method: "POST", path: "/api/public/x", bodyLength: -1}, "rate_limit,body_count,proxy"},
	}
	for _, tt := range tests {
		p := g.plan(&tt.in)
		if got := hopStepList(p.steps); got != tt.want {
			t.Errorf("%s: steps %s; want %s", tt.name, got, tt.want)
		}
	}

	down := hopTestGateway(t, nil)
	down.gens.current().ui[0].up.down = func() bool { return true }
	if got := hopStepList(down.plan(&hopRequest{method: "GET", path: "/"}).steps); got != "child_down" {
		t.Errorf("child down: steps %s; want child_down", got)
	}
	// A declared body over the limit is 413 whatever the child's state (it was 503 while the
	// child started: Python FluxLit's scripts/chaos_oversized_body.sh, which posts as soon
	// as /api/healthz answers, got 503 where it expects 413).
	if got := hopStepList(down.plan(&hopRequest{method: "POST", path: "/upload", bodyLength: 1001}).steps); got != "body_too_large" {
		t.Errorf("child down, declared body over the limit: steps %s; want body_too_large", got)
	}
	none := hopTestGateway(t, map[string]string{"api_upstream": ""})
	if got := hopStepList(none.plan(&hopRequest{method: "GET", path: "/api/public/x"}).steps); got != "rate_limit,no_upstream" {
		t.Errorf("no API: steps %s; want rate_limit,no_upstream", got)
	}
}

// TestHopKeepRequestHeader is the one rule for client headers, as both engines apply it.
func TestHopKeepRequestHeader(t *testing.T) {
	g := hopTestGateway(t, map[string]string{"gateway_forward_client_headers_to_streamlit": "X-Tenant"})
	all := hopTestGateway(t, nil)
	tests := []struct {
		name       string
		toAPI      bool
		toUI       bool // with the allow-list
		toUIAll    bool // without it
		headerName string
	}{
		{"ordinary", true, false, true, "X-Custom"},
		{"allow-listed", true, true, true, "x-tenant"},
		{"session header", true, true, true, "Cookie"},
		{"Authorization", true, false, false, "Authorization"},
		{"Proxy-Authorization", false, false, false, "proxy-authorization"},
		{"Connection", false, false, false, "Connection"},
		{"Keep-Alive", false, false, false, "keep-alive"},
		{"Upgrade", false, false, false, "Upgrade"},
		{"Transfer-Encoding", false, false, false, "Transfer-Encoding"},
		{"Content-Length", false, false, false, "content-length"},
		{"Te", false, false, false, "TE"},
		{"Trailer", false, false, false, "Trailer"},
		{"Host", false, false, false, "host"},
		{"X-Request-Id", false, false, false, "x-request-id"},
		{"X-Forwarded-For", false, false, false, "X-Forwarded-For"},
		{"underscore spelling", false, false, false, "X_Forwarded_For"},
		{"Forwarded", false, false, false, "forwarded"},
		{"X-Real-Ip", false, false, false, "X-Real-IP"},
		{"X-Fluxlit-*", false, false, false, "x-fluxlit-sub"},
		{"a name too long for the allow-list", true, false, true, strings.Repeat("a", 65)},
	}
	for _, tt := range tests {
		for _, c := range []struct {
			g    *gateway
			toUI bool
			want bool
			hop  string
		}{{g, false, tt.toAPI, "API"}, {g, true, tt.toUI, "Streamlit, allow-list"}, {all, true, tt.toUIAll, "Streamlit"}} {
			if got := hopKeepRequestHeader(c.g, tt.headerName, c.toUI); got != c.want {
				t.Errorf("%s (%q) to %s: got %v; want %v", tt.name, tt.headerName, c.hop, got, c.want)
			}
			if got := hopKeepRequestHeader(c.g, []byte(tt.headerName), c.toUI); got != c.want {
				t.Errorf("%s (%q as bytes) to %s: got %v; want %v", tt.name, tt.headerName, c.hop, got, c.want)
			}
		}
	}
}

// TestHopKeepResponseHeader is the one rule for upstream response headers.
func TestHopKeepResponseHeader(t *testing.T) {
	connection := [][]byte{[]byte("X-Secret"), []byte("Content-Length"), []byte("close")}
	tests := []struct {
		name string
		want bool
	}{
		{"Content-Type", true},
		{"Set-Cookie", true},
		{"Content-Length", true}, // named in Connection: framing is never removed
		{"x-secret", false},      // named in Connection
		{"Connection", false},
		{"Keep-Alive", false},
		{"Transfer-Encoding", false},
		{"Trailer", false},
		{"Upgrade", false},
		{"Proxy-Authenticate", false},
		{"X-Request-Id", false},
	}
	for _, tt := range tests {
		if got := hopKeepResponseHeader(tt.name, 200, connection); got != tt.want {
			t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
		}
	}
	for _, tt := range []struct {
		name   string
		status int
		want   bool
	}{
		{"Content-Length", 204, false},
		{"Content-Length", 304, false},
		{"Content-Length", 103, false},
		{"Content-Type", 304, false},
		{"Content-Type", 204, true},
		{"ETag", 304, true},
	} {
		if got := hopKeepResponseHeader(tt.name, tt.status, nil); got != tt.want {
			t.Errorf("%s on a %d: got %v; want %v", tt.name, tt.status, got, tt.want)
		}
	}
}

func TestHopForwarded(t *testing.T) {
	fi := forwardedInfo{XFF: "1.2.3.4", Host: "app.example", Proto: "https"}
	trusted := fi
	trusted.Prefix = "/edge"
	tests := []struct {
		name, root      string
		fi              forwardedInfo
		wantAPI, wantUI string
	}{
		{"no prefix", "", fi, "/api", ""},
		{"root_path", "/ui", fi, "/ui/api", "/ui"},
		{"trusted proxy prefix", "", trusted, "/edge/api", "/edge"},
		{"root_path wins over the proxy's", "/ui", trusted, "/ui/api", "/ui"},
	}
	for _, tt := range tests {
		g := hopTestGateway(t, map[string]string{"root_path": tt.root})
		api, ui := g.forwarded(&tt.fi, g.gens.api()), g.forwarded(&tt.fi, g.gens.current().ui[0].up)
		if api.prefix != tt.wantAPI || ui.prefix != tt.wantUI {
			t.Errorf("%s: prefixes %q, %q; want %q, %q", tt.name, api.prefix, ui.prefix, tt.wantAPI, tt.wantUI)
		}
		if api.xff != "1.2.3.4" || api.host != "app.example" || api.proto != "https" {
			t.Errorf("%s: %+v; want the forwardedInfo's values", tt.name, api)
		}
	}
}

// TestUpstreamFailure: each cause of a failed exchange gets its own status and words (issue
// #16: a full Unix-socket backlog was a 504 that blamed the read timeout, garbage a 502 that
// called the upstream unreachable).
func TestUpstreamFailure(t *testing.T) {
	g := hopTestGateway(t, nil)
	dial := func(err error) error { return &net.OpError{Op: "dial", Net: "tcp", Err: err} }
	tests := []struct {
		name   string
		err    error
		status int
		reason string
		words  string
	}{
		{"connection refused", dial(os.NewSyscallError("connect", syscall.ECONNREFUSED)), 502, "refused", "refused the connection"},
		{"Unix socket backlog full", dial(os.NewSyscallError("connect", syscall.EAGAIN)), 502, "refused", "refused the connection"},
		{"socket missing", dial(os.NewSyscallError("connect", syscall.ENOENT)), 502, "refused", "unreachable"},
		{"connect timeout", dial(os.ErrDeadlineExceeded), 504, "timeout", "gateway_upstream_connect_timeout_s"},
		{"send timeout", &net.OpError{Op: "write", Net: "tcp", Err: os.ErrDeadlineExceeded}, 504, "timeout", "gateway_upstream_send_timeout_s"},
		{"read timeout", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, 504, "timeout", "gateway_upstream_read_timeout_s"},
		{"Transport's header timeout", &url.Error{Op: "Get", Err: &timeoutError{"net/http: timeout awaiting response headers"}}, 504, "timeout", "gateway_upstream_read_timeout_s"},
		{"malformed answer", errUpstreamMalformed, 502, "invalid", "invalid response"},
		{"Transport's malformed answer", errors.New(`net/http: HTTP/1.x transport connection broken: malformed HTTP response "garbage"`), 502, "invalid", "invalid response"},
		{"closed before answering", io.EOF, 502, "reset", "closed the connection"},
		{"reset", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, 502, "reset", "closed the connection"},
		{"body over the limit", errBodyTooLarge, 413, "body_too_large", "gateway_max_proxy_request_body_bytes"},
		{"MaxBytesError", &http.MaxBytesError{Limit: 1}, 413, "body_too_large", "gateway_max_proxy_request_body_bytes"},
	}
	for _, tt := range tests {
		f := g.upstreamFailure(g.gens.api(), tt.err, false)
		if f.status != tt.status || f.reason != tt.reason || !strings.Contains(f.msg, tt.words) {
			t.Errorf("%s: got %d %q %q; want %d %q with %q", tt.name, f.status, f.reason, f.msg, tt.status, tt.reason, tt.words)
		}
	}
}
