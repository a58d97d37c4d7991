package main

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// testConfig builds a Config from settings given as flag values, exactly as the command
// line would, with no environment and no file.
func testConfig(t testing.TB, settings map[string]string) *Config {
	t.Helper()
	flags := map[string]string{"no_pidfile": "true", "enable_gateway_access_log": "false"}
	for k, v := range settings {
		flags[k] = v
	}
	cfg, err := loadConfig(loadInput{Flags: flags, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	return cfg
}

// startGateway serves a gateway for cfg on a loopback httptest server.
func startGateway(t testing.TB, cfg *Config) (*gateway, *httptest.Server) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	g, err := newGateway(cfg, log, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatalf("newGateway: %v", err)
	}
	srv := startTestServer(t, g)
	t.Cleanup(srv.Close)
	g.listen = srv.Listener.Addr().String()
	return g, srv
}

// echoUpstream answers every request with what it received, as JSON.
type seenRequest struct {
	Method string      `json:"method"`
	Path   string      `json:"path"`
	Query  string      `json:"query"`
	Host   string      `json:"host"`
	Header http.Header `json:"header"`
	Body   int         `json:"body"`
}

func echoUpstream(t testing.TB) (*httptest.Server, chan seenRequest) {
	seen := make(chan seenRequest, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		s := seenRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Host: r.Host, Header: r.Header, Body: int(n)}
		select {
		case seen <- s:
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s)
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

func get(t testing.TB, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func TestRoutingTable(t *testing.T) {
	api, apiSeen := echoUpstream(t)
	ui, uiSeen := echoUpstream(t)
	tests := []struct {
		name       string
		root       string
		path       string
		wantStatus int
		wantTo     string // "api", "ui" or "" (fluxlit answered)
		wantPath   string
		wantLoc    string
	}{
		{"api stripped", "", "/api/users?x=1", 200, "api", "/users", ""},
		{"api root", "", "/api", 200, "api", "/", ""},
		{"api trailing slash", "", "/api/", 200, "api", "/", ""},
		{"not api prefix", "", "/apix", 200, "ui", "/apix", ""},
		{"streamlit root", "", "/", 200, "ui", "/", ""},
		{"streamlit stcore", "", "/_stcore/health", 200, "ui", "/_stcore/health", ""},
		{"docs redirect", "", "/docs", 307, "", "", "/api/docs"},
		{"redoc redirect", "", "/redoc/", 307, "", "", "/api/redoc"},
		{"openapi redirect", "", "/openapi.json?v=2", 307, "", "", "/api/openapi.json?v=2"},
		{"healthz", "", "/api/healthz", 200, "", "", ""},
		{"debug off is 404", "", "/__fluxlit/debug", 404, "", "", ""},
		{"root api full shape", "/ui", "/ui/api/users", 200, "api", "/users", ""},
		{"root api stripped shape", "/ui", "/api/users", 200, "api", "/users", ""},
		{"root streamlit full shape", "/ui", "/ui/_stcore/health", 200, "ui", "/ui/_stcore/health", ""},
		{"root streamlit stripped shape", "/ui", "/_stcore/health", 200, "ui", "/ui/_stcore/health", ""},
		{"root docs", "/ui", "/ui/docs", 307, "", "", "/ui/api/docs"},
		{"root debug 404", "/ui", "/ui/__fluxlit/debug", 404, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, map[string]string{"api_upstream": api.URL, "streamlit_upstream": ui.URL, "root_path": tt.root})
			_, gw := startGateway(t, cfg)
			res, _ := get(t, gw.URL+tt.path, nil)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status: got %d; want %d", res.StatusCode, tt.wantStatus)
			}
			if got := res.Header.Get("Location"); got != tt.wantLoc {
				t.Errorf("Location: got %q; want %q", got, tt.wantLoc)
			}
			var seen seenRequest
			switch tt.wantTo {
			case "api":
				seen = <-apiSeen
			case "ui":
				seen = <-uiSeen
			default:
				select {
				case s := <-apiSeen:
					t.Fatalf("api saw %s; want fluxlit to answer", s.Path)
				case s := <-uiSeen:
					t.Fatalf("streamlit saw %s; want fluxlit to answer", s.Path)
				default:
				}
				return
			}
			if seen.Path != tt.wantPath {
				t.Errorf("upstream path: got %q; want %q", seen.Path, tt.wantPath)
			}
		})
	}
}

func TestForwardedHeadersAndHost(t *testing.T) {
	api, apiSeen := echoUpstream(t)
	ui, uiSeen := echoUpstream(t)
	cfg := testConfig(t, map[string]string{"api_upstream": api.URL, "streamlit_upstream": ui.URL})
	_, gw := startGateway(t, cfg)

	hdr := map[string]string{
		"Host":                "app.example:8443",
		"X-Forwarded-For":     "6.6.6.6",
		"X-Forwarded-Host":    "evil.example",
		"X-Forwarded-Proto":   "https",
		"X-Forwarded-Prefix":  "/evil",
		"X-Forwarded-Port":    "1",
		"X_Forwarded_For":     "7.7.7.7",
		"Authorization":       "Bearer secret-token",
		"Proxy-Authorization": "Basic c2VjcmV0",
		"Connection":          "X-Foo",
		"X-Foo":               "hop",
		"X-Fluxlit-Sub":       "forged",
		"Cookie":              "_streamlit_xsrf=abc",
	}
	get(t, gw.URL+"/page", hdr)
	s := <-uiSeen
	if s.Host != "app.example:8443" {
		t.Errorf("Streamlit Host: got %q; want the client's app.example:8443", s.Host)
	}
	checks := map[string]string{
		"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "app.example:8443", "X-Forwarded-Proto": "http",
		"X-Forwarded-Port":   "8443", // Python FluxLit's: the public Host's port
		"X-Forwarded-Prefix": "", "X_forwarded_for": "", "Authorization": "", "Proxy-Authorization": "",
		"X-Foo": "", "X-Fluxlit-Sub": "", "Cookie": "_streamlit_xsrf=abc",
	}
	for k, want := range checks {
		if got := s.Header.Get(k); got != want {
			t.Errorf("Streamlit %s: got %q; want %q", k, got, want)
		}
	}
	if s.Header.Get("X-Request-Id") == "" {
		t.Errorf("Streamlit got no X-Request-Id")
	}

	get(t, gw.URL+"/api/echo", hdr)
	a := <-apiSeen
	if a.Header.Get("Authorization") != "Bearer secret-token" {
		t.Errorf("API Authorization: got %q; want it forwarded", a.Header.Get("Authorization"))
	}
	if a.Header.Get("X-Forwarded-Prefix") != "/api" {
		t.Errorf("API X-Forwarded-Prefix: got %q; want /api", a.Header.Get("X-Forwarded-Prefix"))
	}
	if a.Header.Get("X-Forwarded-For") != "127.0.0.1" {
		t.Errorf("API X-Forwarded-For: got %q; want 127.0.0.1", a.Header.Get("X-Forwarded-For"))
	}
}

func TestForwardAllowListLimitsStreamlitHop(t *testing.T) {
	ui, uiSeen := echoUpstream(t)
	cfg := testConfig(t, map[string]string{"streamlit_upstream": ui.URL,
		"gateway_forward_client_headers_to_streamlit": "x-tenant,cookie"})
	if len(cfg.Warnings) == 0 || !strings.Contains(cfg.Warnings[0].Msg, "cookie") {
		t.Fatalf("warnings: got %q; want cookie reported as rejected", cfg.Warnings)
	}
	_, gw := startGateway(t, cfg)
	get(t, gw.URL+"/", map[string]string{"X-Tenant": "t1", "X-Other": "o", "Cookie": "a=b", "Accept-Language": "de"})
	s := <-uiSeen
	for k, want := range map[string]string{"X-Tenant": "t1", "X-Other": "", "Cookie": "a=b", "Accept-Language": "de"} {
		if got := s.Header.Get(k); got != want {
			t.Errorf("%s: got %q; want %q", k, got, want)
		}
	}
}

func TestRequestID(t *testing.T) {
	ui, uiSeen := echoUpstream(t)
	cfg := testConfig(t, map[string]string{"streamlit_upstream": ui.URL})
	_, gw := startGateway(t, cfg)
	tests := []struct {
		name, in string
		keep     bool
	}{
		{"echoed", "req-123_abc:9.z", true},
		{"generated when absent", "", false},
		{"replaced when too long", strings.Repeat("a", 500), false},
		{"replaced with spaces", "a b", false},
		{"replaced with slash", "a/b", false},
		{"max length kept", strings.Repeat("b", 128), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.in != "" {
				hdr["X-Request-ID"] = tt.in
			}
			res, _ := get(t, gw.URL+"/", hdr)
			got := res.Header.Get("X-Request-Id")
			up := (<-uiSeen).Header.Get("X-Request-Id")
			if got != up {
				t.Errorf("response id %q != upstream id %q", got, up)
			}
			if tt.keep && got != tt.in {
				t.Errorf("got %q; want the client's %q", got, tt.in)
			}
			if !tt.keep && (got == tt.in || !validRequestID(got)) {
				t.Errorf("got %q; want a fresh valid id", got)
			}
		})
	}
}

func TestRequestIDRejectsCRLF(t *testing.T) {
	if validRequestID("abc\r\nX-Evil: 1") {
		t.Fatal("an id with CR LF was accepted")
	}
}

// TestBodyLimit: a body over gateway_max_proxy_request_body_bytes is 413. Declared by
// Content-Length, it is refused before any upstream connection or request; chunked, it is
// counted, and the upstream never receives it complete.
func TestBodyLimit(t *testing.T) {
	api := newCountedUpstream(t)
	cfg := testConfig(t, map[string]string{"api_upstream": api.URL, "gateway_max_proxy_request_body_bytes": "1000"})
	_, gw := startGateway(t, cfg)
	post := func(body io.Reader, length int64) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, gw.URL+"/api/upload", body)
		req.ContentLength = length
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST: %v", err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	if res := post(strings.NewReader(strings.Repeat("x", 1000)), 1000); res.StatusCode != 200 {
		t.Fatalf("body at the limit: got %d; want 200", res.StatusCode)
	}
	api.settle(t)
	conns, started, complete := api.conns.Load(), api.started.Load(), api.complete.Load()
	if res := post(strings.NewReader(strings.Repeat("x", 1001)), 1001); res.StatusCode != 413 {
		t.Errorf("Content-Length over the limit: got %d; want 413", res.StatusCode)
	}
	api.settle(t)
	if c, s := api.conns.Load()-conns, api.started.Load()-started; c != 0 || s != 0 {
		t.Errorf("Content-Length over the limit: the upstream got %d new connections and %d requests; want none", c, s)
	}
	res := post(io.MultiReader(strings.NewReader(strings.Repeat("x", 600)), strings.NewReader(strings.Repeat("y", 600))), -1)
	if res.StatusCode != 413 {
		t.Errorf("chunked over the limit: got %d; want 413", res.StatusCode)
	}
	if res.Header.Get("Content-Type") != "application/json" {
		t.Errorf("413 under the API mount: Content-Type %q; want JSON", res.Header.Get("Content-Type"))
	}
	api.settle(t)
	if got := api.complete.Load() - complete; got != 0 {
		t.Errorf("upstream received %d complete over-limit requests; want 0", got)
	}
}

func TestUpstreamDownIs502Fast(t *testing.T) {
	dead := refusedPort(t)
	cfg := testConfig(t, map[string]string{"api_upstream": dead, "streamlit_upstream": dead})
	_, gw := startGateway(t, cfg)
	start := time.Now()
	res, body := get(t, gw.URL+"/api/users", nil)
	if res.StatusCode != 502 {
		t.Fatalf("got %d; want 502", res.StatusCode)
	}
	// A refused dial is answered at once; 5 s is far above that on a busy machine and far
	// below the 30 s connect timeout a gateway that waited would show.
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("502 took %v; want it at once, not after a connect timeout", took)
	}
	var e struct{ Error, RequestID string }
	if err := json.Unmarshal([]byte(strings.ReplaceAll(body, "request_id", "RequestID")), &e); err != nil || e.RequestID != res.Header.Get("X-Request-Id") {
		t.Errorf("body %q: want JSON with the request id %s", body, res.Header.Get("X-Request-Id"))
	}
	res, body = get(t, gw.URL+"/", nil)
	if res.StatusCode != 502 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") || !strings.Contains(body, res.Header.Get("X-Request-Id")) {
		t.Errorf("streamlit down: got %d %q %q; want 502 text with the id", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	res, body = get(t, gw.URL+"/api/readyz", nil)
	if res.StatusCode != 503 {
		t.Errorf("readyz with upstreams down: got %d; want 503", res.StatusCode)
	}
	// Python FluxLit's 503 body: "detail" is one string; fluxlit's per-upstream detail is an
	// added key. (Before: "detail" was an object, which Python runbooks could not read.)
	var ready struct {
		Status, API, Streamlit string
		Detail                 string
		UpstreamDetail         map[string]string `json:"upstream_detail"`
	}
	if err := json.Unmarshal([]byte(body), &ready); err != nil || ready.Status != "not_ready" || ready.API != "unavailable" ||
		!strings.HasPrefix(ready.Detail, "api: ") || !strings.Contains(ready.Detail, "; streamlit: GET /_stcore/health: ") ||
		!strings.Contains(ready.UpstreamDetail["streamlit"], "connection refused") {
		t.Errorf("readyz 503 body %s (%v); want Python's keys with a string detail, and upstream_detail", body, err)
	}
}

// TestHealthMethods: healthz and readyz answer GET and HEAD; another method gets Python
// FluxLit's 405 {"detail":"Method Not Allowed"} (it never reaches the API either).
func TestHealthMethods(t *testing.T) {
	api, seen := echoUpstream(t)
	cfg := testConfig(t, map[string]string{"api_upstream": api.URL, "streamlit_upstream": api.URL})
	_, gw := startGateway(t, cfg)
	for _, path := range []string{"/api/healthz", "/api/readyz"} {
		for _, m := range []string{"GET", "HEAD"} {
			req, _ := http.NewRequest(m, gw.URL+path, nil)
			if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode >= 400 {
				t.Errorf("%s %s: %v %v", m, path, res, err)
			}
		}
		req, _ := http.NewRequest("POST", gw.URL+path, strings.NewReader("x"))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 405 || string(body) != `{"detail":"Method Not Allowed"}` || res.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST %s: %d %q Allow %q; want 405 {\"detail\":\"Method Not Allowed\"} Allow GET, HEAD", path, res.StatusCode, body, res.Header.Get("Allow"))
		}
	}
	for len(seen) > 0 {
		if r := <-seen; r.Method == "POST" {
			t.Errorf("an upstream saw %s %s; health requests are the gateway's", r.Method, r.Path)
		}
	}
}

func TestReadTimeoutIs504(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	cfg := testConfig(t, map[string]string{"api_upstream": slow.URL, "gateway_upstream_read_timeout_s": "0.3"})
	_, gw := startGateway(t, cfg)
	start := time.Now()
	res, _ := get(t, gw.URL+"/api/slow", nil)
	took := time.Since(start)
	if res.StatusCode != 504 {
		t.Fatalf("got %d; want 504", res.StatusCode)
	}
	// Not before the timeout, and before the 3 s the upstream takes to answer.
	if took < 300*time.Millisecond || took > 2500*time.Millisecond {
		t.Errorf("504 after %v; want it at the 0.3 s read timeout", took)
	}
}

func TestReadyzNotConfigured(t *testing.T) {
	ui := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_stcore/health" {
			io.WriteString(w, "ok")
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(ui.Close)
	cfg := testConfig(t, map[string]string{"streamlit_upstream": ui.URL})
	_, gw := startGateway(t, cfg)
	res, body := get(t, gw.URL+"/api/readyz", nil)
	if res.StatusCode != 200 {
		t.Fatalf("got %d %s; want 200", res.StatusCode, body)
	}
	var got map[string]any
	json.Unmarshal([]byte(body), &got)
	if got["status"] != "ready" || got["api"] != "not_configured" || got["streamlit"] != "ok" {
		t.Errorf("readyz body %s; want ready, api not_configured, streamlit ok", body)
	}
}

// TestServerSentEventsStreamOneByOne: the upstream sends each event only after the client
// has read the one before, so a gateway that buffered would leave the client waiting.
func TestServerSentEventsStreamOneByOne(t *testing.T) {
	next := make(chan struct{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(api.Close)
	cfg := testConfig(t, map[string]string{"api_upstream": api.URL})
	_, gw := startGateway(t, cfg)
	res, err := http.Get(gw.URL + "/api/sse")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	for i := 0; i < 3; i++ {
		read := make(chan string, 1)
		go func() {
			line, _ := br.ReadString('\n')
			br.ReadString('\n')
			read <- line
		}()
		select {
		case line := <-read:
			if want := fmt.Sprintf("data: %d\n", i); line != want {
				t.Fatalf("event %d: got %q; want %q", i, line, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d not delivered while the upstream waits for it to be read: buffered", i)
		}
		next <- struct{}{}
	}
}

// wsEchoUpstream is a minimal RFC 6455 server: it answers the handshake (echoing the first
// offered subprotocol) and echoes every frame back unmasked.
func wsEchoUpstream(t testing.TB, reject int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if reject != 0 {
			http.Error(w, "Cross origin websockets not allowed", reject)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/_stcore/health") {
			io.WriteString(w, "ok") // readiness, as Streamlit answers it
			return
		}
		key := r.Header.Get("Sec-Websocket-Key")
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		proto := strings.TrimSpace(strings.Split(r.Header.Get("Sec-Websocket-Protocol"), ",")[0])
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n", base64.StdEncoding.EncodeToString(h[:]))
		if proto != "" {
			fmt.Fprintf(brw, "Sec-WebSocket-Protocol: %s\r\n", proto)
		}
		fmt.Fprintf(brw, "X-Seen-Host: %s\r\n\r\n", r.Host)
		brw.Flush()
		for {
			op, payload, err := testReadFrame(brw.Reader)
			if err != nil {
				return
			}
			testWriteFrame(conn, op, payload, false)
			if op == 8 {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func testReadFrame(r *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := int64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		io.ReadFull(r, b[:])
		n = int64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		io.ReadFull(r, b[:])
		n = int64(binary.BigEndian.Uint64(b[:]))
	}
	var mask [4]byte
	if h[1]&0x80 != 0 {
		io.ReadFull(r, mask[:])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 != 0 {
		for i := range p {
			p[i] ^= mask[i%4]
		}
	}
	return h[0] & 0x0f, p, nil
}

func testWriteFrame(w io.Writer, op byte, p []byte, masked bool) error {
	b := []byte{0x80 | op}
	m := byte(0)
	if masked {
		m = 0x80
	}
	switch {
	case len(p) < 126:
		b = append(b, m|byte(len(p)))
	case len(p) < 1<<16:
		b = append(b, m|126, byte(len(p)>>8), byte(len(p)))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(len(p)))
	}
	if masked {
		mask := [4]byte{1, 2, 3, 4}
		b = append(b, mask[:]...)
		q := make([]byte, len(p))
		for i := range p {
			q[i] = p[i] ^ mask[i%4]
		}
		p = q
	}
	_, err := w.Write(append(b, p...))
	return err
}

// testDialWS opens a WebSocket through addr and sends a first frame in the same write as
// the handshake, the case where bytes are buffered past the request headers.
func testDialWS(t testing.TB, addr, path string, hdr string, firstFrame []byte) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + hdr + "\r\n"
	var frame strings.Builder
	if firstFrame != nil {
		testWriteFrame(&frame, 2, firstFrame, true)
	}
	c.Write([]byte(req + frame.String()))
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return c, br, res
}

func TestWebSocketTunnel(t *testing.T) {
	ui := wsEchoUpstream(t, 0)
	cfg := testConfig(t, map[string]string{"streamlit_upstream": ui.URL})
	_, gw := startGateway(t, cfg)
	addr := gw.Listener.Addr().String()
	c, br, res := testDialWS(t, addr, "/_stcore/stream", "Sec-WebSocket-Protocol: streamlit, tok\r\n", []byte("first"))
	if res.StatusCode != 101 {
		t.Fatalf("status %d; want 101", res.StatusCode)
	}
	if got := res.Header.Get("Sec-Websocket-Protocol"); got != "streamlit" {
		t.Errorf("subprotocol %q; want streamlit", got)
	}
	if got := res.Header.Get("Sec-Websocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("accept %q; want the RFC 6455 sample answer", got)
	}
	if got := res.Header.Get("X-Seen-Host"); got != addr {
		t.Errorf("upstream saw Host %q; want the client's %q", got, addr)
	}
	op, p, err := testReadFrame(br)
	if err != nil || op != 2 || string(p) != "first" {
		t.Fatalf("first frame (sent with the handshake): %d %q %v", op, p, err)
	}
	big := []byte(strings.Repeat("z", 70000))
	testWriteFrame(c, 2, big, true)
	if op, p, err = testReadFrame(br); err != nil || len(p) != len(big) {
		t.Fatalf("70 kB echo: %d %d %v", op, len(p), err)
	}
	testWriteFrame(c, 9, []byte("ping"), true)
	if op, p, _ = testReadFrame(br); op != 9 || string(p) != "ping" {
		t.Errorf("ping relayed: got op %d %q", op, p)
	}
	testWriteFrame(c, 8, []byte{0x03, 0xe8}, true)
	if op, _, _ = testReadFrame(br); op != 8 {
		t.Errorf("close relayed: got op %d; want 8", op)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Errorf("connection still open after the close handshake")
	}
}

func TestWebSocketRejectedAndDownUpstream(t *testing.T) {
	ui := wsEchoUpstream(t, http.StatusForbidden)
	cfg := testConfig(t, map[string]string{"streamlit_upstream": ui.URL})
	_, gw := startGateway(t, cfg)
	_, _, res := testDialWS(t, gw.Listener.Addr().String(), "/_stcore/stream", "Origin: http://evil.example\r\n", nil)
	body, _ := io.ReadAll(io.LimitReader(res.Body, 200))
	if res.StatusCode != 403 || !strings.Contains(string(body), "Cross origin") {
		t.Errorf("rejected upgrade: got %d %q; want Streamlit's 403 relayed", res.StatusCode, body)
	}

	cfg = testConfig(t, map[string]string{"streamlit_upstream": refusedPort(t)})
	_, gw = startGateway(t, cfg)
	_, _, res = testDialWS(t, gw.Listener.Addr().String(), "/_stcore/stream", "", nil)
	if res.StatusCode != 502 {
		t.Errorf("upstream down: got %d; want 502, never 101", res.StatusCode)
	}
}

func TestWebSocketMaxMessage(t *testing.T) {
	ui := wsEchoUpstream(t, 0)
	cfg := testConfig(t, map[string]string{"streamlit_upstream": ui.URL, "gateway_ws_max_message_bytes": "1000"})
	_, gw := startGateway(t, cfg)
	c, br, res := testDialWS(t, gw.Listener.Addr().String(), "/_stcore/stream", "", []byte("small"))
	if res.StatusCode != 101 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if _, p, _ := testReadFrame(br); string(p) != "small" {
		t.Fatalf("small message not echoed: %q", p)
	}
	testWriteFrame(c, 2, make([]byte, 2000), true)
	op, p, err := testReadFrame(br)
	if err != nil || op != 8 || len(p) < 2 || binary.BigEndian.Uint16(p) != 1009 {
		t.Fatalf("got op %d %v err %v; want close 1009", op, p, err)
	}
}

func TestWebSocketShutdownSends1001(t *testing.T) {
	ui := wsEchoUpstream(t, 0)
	cfg := testConfig(t, map[string]string{"streamlit_upstream": ui.URL})
	g, gw := startGateway(t, cfg)
	_, br, res := testDialWS(t, gw.Listener.Addr().String(), "/_stcore/stream", "", []byte("hi"))
	if res.StatusCode != 101 {
		t.Fatalf("status %d", res.StatusCode)
	}
	testReadFrame(br)
	if n := g.tunnels.count.Load(); n != 1 {
		t.Fatalf("open tunnels: got %d; want 1", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	go g.tunnels.closeAll(ctx)
	op, p, err := testReadFrame(br)
	if err != nil || op != 8 || binary.BigEndian.Uint16(p) != 1001 {
		t.Fatalf("got op %d %v err %v; want close 1001", op, p, err)
	}
}

// TestUpstreamDialerKeepAlive: a loopback or Unix upstream is dialed without keep-alive
// probes (its kernel ends the connection when its process dies); any other keeps them.
func TestUpstreamDialerKeepAlive(t *testing.T) {
	cfg := &Config{}
	for raw, want := range map[string]time.Duration{
		"http://127.0.0.1:8501":      -1,
		"http://127.9.9.9:8501":      -1,
		"http://[::1]:8000/api":      -1,
		"http://LocalHost:8000":      -1,
		"unix:/run/api.sock":         -1,
		"http://10.0.0.7:8000":       30 * time.Second,
		"https://api.example.com":    30 * time.Second,
		"http://localhost.evil.com/": 30 * time.Second,
	} {
		up, err := newUpstream("api", raw, cfg, &gateway{cfg: cfg, log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if got := up.dialer.KeepAlive; got != want {
			t.Errorf("%s: dialer keep-alive %v; want %v", raw, got, want)
		}
	}
}
