package main

// Integration tests of the gateway with external upstreams (issue #2): the real fluxlit
// binary in front of a real uvicorn+FastAPI and a real Streamlit, on loopback. Where a test
// needs to see exactly what reached an upstream, a Go httptest server stands in and the test
// says so.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fluxlitProc is a running fluxlit binary.
type fluxlitProc struct {
	cmd  *exec.Cmd
	port int
	base string
	log  *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// allFluxlitLogs collects the output of every fluxlit process the suite ran, so that
// TestNoSecretsInLogs can grep it.
var allFluxlitLogs struct {
	mu   sync.Mutex
	logs []*syncBuffer
}

// startFluxlit runs the binary with args in dir (and env added to the test's environment)
// and waits until healthz answers. It is stopped with SIGTERM at cleanup.
func startFluxlit(t *testing.T, dir string, env []string, args ...string) *fluxlitProc {
	t.Helper()
	p := launchFluxlit(t, dir, env, args...)
	waitHTTP(t, p.base+"/api/healthz", 10*time.Second, p)
	return p
}

// launchFluxlit runs the binary with args in dir (and env added to the test's environment),
// on a free port unless args name one. A port is free only until fluxlit binds it: when
// another process took it in between, fluxlit is started again on another.
func launchFluxlit(t *testing.T, dir string, env []string, args ...string) *fluxlitProc {
	t.Helper()
	if hasFlag(args, "--port") {
		return startFluxlitProc(t, dir, env, flagInt(args, "--port"), args)
	}
	for attempt := 1; ; attempt++ {
		port := freePort(t)
		p := startFluxlitProc(t, dir, env, port, append(append([]string{}, args...), "--port", strconv.Itoa(port)))
		if attempt == 3 || !p.lostPort() {
			return p
		}
		t.Logf("port %d was taken before fluxlit bound it; starting again on another", port)
	}
}

// lostPort waits until fluxlit listens or exits, and reports whether it exited because its
// port was in use.
func (p *fluxlitProc) lostPort() bool {
	deadline := time.After(30 * time.Second)
	for !strings.Contains(p.log.String(), "fluxlit listening") {
		select {
		case <-p.done:
			return strings.Contains(p.log.String(), "is in use on")
		case <-deadline:
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
	return false
}

func startFluxlitProc(t *testing.T, dir string, env []string, port int, args []string) *fluxlitProc {
	t.Helper()
	p := &fluxlitProc{port: port, base: "http://127.0.0.1:" + strconv.Itoa(port), log: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(fluxlitBinary(t), args...)
	p.cmd.Dir = dir
	p.cmd.Env = append(append(os.Environ(), "FLUXLIT_LOG_FORMAT=json"), env...)
	p.cmd.Stdout = p.log
	p.cmd.Stderr = p.log
	if err := harnessRun(p.cmd, func(err error) { p.err = err; close(p.done) }); err != nil {
		t.Fatalf("start fluxlit: %v", err)
	}
	allFluxlitLogs.mu.Lock()
	allFluxlitLogs.logs = append(allFluxlitLogs.logs, p.log)
	allFluxlitLogs.mu.Unlock()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("fluxlit log:\n%s", p.log.String())
		}
	})
	return p
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

func flagInt(args []string, name string) int {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			n, _ := strconv.Atoi(args[i+1])
			return n
		}
	}
	return 0
}

// exitCode waits for the process to end and returns its exit code.
func (p *fluxlitProc) exitCode(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("fluxlit still running after %v", within)
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatalf("wait: %v", p.err)
	return -1
}

func waitHTTP(t *testing.T, url string, within time.Duration, p *fluxlitProc) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if p != nil {
			select {
			case <-p.done:
				t.Fatalf("fluxlit exited before %s answered: %v\n%s", url, p.err, p.log.String())
			default:
			}
		}
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode < 500 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer within %v", url, within)
}

func httpDo(t *testing.T, method, url string, hdr map[string]string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func apiAppDir(t *testing.T) string {
	dir, err := filepath.Abs("testdata/apps/api")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func uiScript(t *testing.T) string {
	p, err := filepath.Abs("testdata/apps/ui/hello.py")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// realUpstreams starts uvicorn+FastAPI (told its root path /api, as DESIGN §5 asks of an
// external API) and Streamlit with baseURLPath.
func realUpstreams(t *testing.T, baseURLPath string) (api, ui string) {
	requireIntegration(t, "streamlit")
	requireIntegration(t, "fastapi")
	api = startUvicorn(t, apiAppDir(t), "app:app", "--root-path", baseURLPath+"/api")
	ui = strings.TrimSuffix(startStreamlit(t, uiScript(t), baseURLPath), baseURLPath)
	return api, ui
}

func TestIntegrationGatewayRealUpstreams(t *testing.T) {
	api, ui := realUpstreams(t, "")
	p := startFluxlit(t, t.TempDir(), nil, "run", "--no-pidfile", "--api-upstream", api, "--streamlit-upstream", ui)

	res, body := httpDo(t, "GET", p.base+"/api/users", nil, nil)
	if res.StatusCode != 200 || !strings.Contains(string(body), `"Ada"`) {
		t.Fatalf("/api/users: %d %s", res.StatusCode, body)
	}
	// What uvicorn reports as raw_path depends on its version (newer ones put root_path in
	// front), so the path fluxlit sent is compared with what the same uvicorn reports for a
	// client that calls it at /echo directly.
	type echoed struct {
		RawPath  string            `json:"raw_path"`
		Query    string            `json:"query"`
		RootPath string            `json:"root_path"`
		Headers  map[string]string `json:"headers"`
	}
	echoOf := func(url string) echoed {
		res, body := httpDo(t, "GET", url, nil, nil)
		var e echoed
		if err := json.Unmarshal(body, &e); err != nil || res.StatusCode != 200 {
			t.Fatalf("GET %s: %d %q: %v", url, res.StatusCode, body, err)
		}
		return e
	}
	direct, echo := echoOf(api+"/echo?x=1"), echoOf(p.base+"/api/echo?x=1")
	if echo.RawPath != direct.RawPath || echo.Query != "x=1" {
		t.Errorf("API received raw_path %q, query %q; want %q, x=1, as for /echo?x=1 sent to it directly (prefix stripped)",
			echo.RawPath, echo.Query, direct.RawPath)
	}
	if echo.RootPath != "/api" {
		t.Errorf("API root_path %q; want /api", echo.RootPath)
	}
	if echo.Headers["x-forwarded-prefix"] != "/api" {
		t.Errorf("API X-Forwarded-Prefix %q; want /api", echo.Headers["x-forwarded-prefix"])
	}
	res, body = httpDo(t, "GET", p.base+"/api/docs", nil, nil)
	if res.StatusCode != 200 || !strings.Contains(string(body), "swagger") || !strings.Contains(string(body), "/api/openapi.json") {
		t.Fatalf("/api/docs: %d, want Swagger pointing at /api/openapi.json; got %.300s", res.StatusCode, body)
	}
	res, body = httpDo(t, "GET", p.base+"/api/openapi.json", nil, nil)
	if res.StatusCode != 200 || !strings.Contains(string(body), `"/users"`) {
		t.Errorf("/api/openapi.json through the gateway: %d %.200s", res.StatusCode, body)
	}
	res, _ = httpDo(t, "GET", p.base+"/docs", nil, nil)
	if res.StatusCode != 307 || res.Header.Get("Location") != "/api/docs" {
		t.Errorf("/docs: %d Location %q; want 307 /api/docs", res.StatusCode, res.Header.Get("Location"))
	}
	res, body = httpDo(t, "GET", p.base+"/", nil, nil)
	if res.StatusCode != 200 || !strings.Contains(strings.ToLower(string(body)), "<html") {
		t.Errorf("/: %d %.200s; want Streamlit's page", res.StatusCode, body)
	}
	res, body = httpDo(t, "GET", p.base+"/_stcore/health", nil, nil)
	if res.StatusCode != 200 || string(body) != "ok" {
		t.Errorf("/_stcore/health: %d %q", res.StatusCode, body)
	}
	res, body = httpDo(t, "GET", p.base+"/api/readyz", nil, nil)
	if res.StatusCode != 200 || !strings.Contains(string(body), `"ready"`) {
		t.Errorf("readyz: %d %s", res.StatusCode, body)
	}

	hostPort := "127.0.0.1:" + strconv.Itoa(p.port)
	h := http.Header{}
	h.Set("Sec-WebSocket-Protocol", "streamlit, tok")
	h.Set("Origin", "http://"+hostPort)
	c, wsRes, err := dialWS(t, "ws://"+hostPort+"/_stcore/stream", h)
	if err != nil {
		t.Fatalf("WebSocket: %v (%v)", err, wsRes)
	}
	defer c.Close()
	if wsRes.StatusCode != 101 || wsRes.Header.Get("Sec-Websocket-Protocol") != "streamlit" {
		t.Fatalf("handshake: %d protocol %q; want 101 streamlit", wsRes.StatusCode, wsRes.Header.Get("Sec-Websocket-Protocol"))
	}
	seen := streamlitSession(t, c, 20*time.Second)
	if !containsAll(seen, "Hello fluxlit", "script_finished") {
		t.Errorf("session through fluxlit: got %q; want the script's output and script_finished", seen)
	}

	h.Set("Origin", "http://evil.example")
	_, wsRes, err = dialWS(t, "ws://"+hostPort+"/_stcore/stream", h)
	if err == nil || wsRes == nil || wsRes.StatusCode != 403 {
		t.Errorf("cross-origin WebSocket: %v; want Streamlit's 403 relayed", wsRes)
	}
}

func containsAll(haystack []string, needles ...string) bool {
	for _, n := range needles {
		found := false
		for _, h := range haystack {
			if strings.Contains(h, n) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func TestIntegrationGatewayRootPath(t *testing.T) {
	api, ui := realUpstreams(t, "/ui")
	p := startFluxlit(t, t.TempDir(), nil, "run", "--no-pidfile", "--api-upstream", api, "--streamlit-upstream", ui, "--root-path", "/ui")
	res, body := httpDo(t, "GET", p.base+"/ui/api/users", nil, nil)
	if res.StatusCode != 200 || !strings.Contains(string(body), "Linus") {
		t.Fatalf("/ui/api/users: %d %s", res.StatusCode, body)
	}
	res, body = httpDo(t, "GET", p.base+"/ui/api/docs", nil, nil)
	if res.StatusCode != 200 || !strings.Contains(string(body), "/ui/api/openapi.json") {
		t.Errorf("/ui/api/docs: %d %.300s; want openapi under /ui/api", res.StatusCode, body)
	}
	res, _ = httpDo(t, "GET", p.base+"/ui/", nil, nil)
	if res.StatusCode != 200 {
		t.Errorf("/ui/: %d; want Streamlit's page", res.StatusCode)
	}
	hostPort := "127.0.0.1:" + strconv.Itoa(p.port)
	h := http.Header{}
	h.Set("Sec-WebSocket-Protocol", "streamlit, tok")
	h.Set("Origin", "http://"+hostPort)
	c, wsRes, err := dialWS(t, "ws://"+hostPort+"/ui/_stcore/stream", h)
	if err != nil {
		t.Fatalf("WebSocket under /ui: %v (%v)", err, wsRes)
	}
	defer c.Close()
	if seen := streamlitSession(t, c, 20*time.Second); !containsAll(seen, "Hello fluxlit", "script_finished") {
		t.Errorf("session under /ui: got %q", seen)
	}
}

// goUpstream records what reached it. It stands in for an upstream where the test must see
// the exact request (counted bodies, received headers), which FastAPI and Streamlit can't
// report byte for byte.
func goUpstream(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestIntegrationGatewayLimitsAndErrors(t *testing.T) {
	requireIntegration(t, "fastapi")
	api := startUvicorn(t, apiAppDir(t), "app:app", "--root-path", "/api")
	counting := newCountedUpstream(t)

	// 413: declared and chunked, against the counting upstream behind a 1 KiB limit.
	lim := startFluxlit(t, t.TempDir(), []string{"FLUXLIT_GATEWAY_MAX_PROXY_REQUEST_BODY_BYTES=1024"},
		"run", "--no-pidfile", "--api-upstream", api, "--streamlit-upstream", counting.URL)
	res, _ := httpDo(t, "POST", lim.base+"/upload", nil, strings.NewReader(strings.Repeat("a", 2048)))
	if res.StatusCode != 413 {
		t.Errorf("Content-Length 2048 over 1024: got %d; want 413", res.StatusCode)
	}
	counting.settle(t)
	if c, r := counting.conns.Load(), counting.started.Load(); c != 0 || r != 0 {
		t.Errorf("Content-Length over the limit: the upstream got %d connections and %d requests; want none", c, r)
	}
	res, _ = httpDo(t, "POST", lim.base+"/upload", nil, io.MultiReader(strings.NewReader(strings.Repeat("a", 800)), strings.NewReader(strings.Repeat("b", 800))))
	if res.StatusCode != 413 {
		t.Errorf("chunked 1600 over 1024: got %d; want 413", res.StatusCode)
	}
	res, body := httpDo(t, "POST", lim.base+"/api/count", nil, strings.NewReader(strings.Repeat("a", 4096)))
	if res.StatusCode != 413 || !strings.Contains(string(body), `"request_id"`) {
		t.Errorf("API 413: %d %s; want JSON with request_id", res.StatusCode, body)
	}
	counting.settle(t)
	if n := counting.complete.Load(); n != 0 {
		t.Errorf("the upstream received %d complete over-limit requests; want 0", n)
	}

	// 502 when the upstream is down: an API socket that refuses, a Streamlit that accepts and
	// closes. A WebSocket to a down upstream gets the HTTP error, never a 101.
	down := startFluxlit(t, t.TempDir(), nil, "run", "--no-pidfile", "--api-upstream", "unix:"+refusingUnixSocket(t),
		"--streamlit-upstream", closingUpstream(t))
	for _, path := range []string{"/api/users", "/page"} {
		res, body = httpDo(t, "GET", down.base+path, map[string]string{"X-Request-ID": "down-1"}, nil)
		if res.StatusCode != 502 || !strings.Contains(string(body), "down-1") {
			t.Errorf("%s with its upstream down: %d %q; want 502 with the request id", path, res.StatusCode, body)
		}
	}
	_, wsRes, err := dialWS(t, "ws://127.0.0.1:"+strconv.Itoa(down.port)+"/_stcore/stream", nil)
	if err == nil || wsRes == nil || wsRes.StatusCode != 502 {
		t.Errorf("WebSocket to a down upstream: %v; want 502, not 101", wsRes)
	}

	// 504 at the read timeout, against FastAPI's /slow: after the 0.5 s timeout, and before
	// the 4 s the API takes to answer.
	slow := startFluxlit(t, t.TempDir(), []string{"FLUXLIT_GATEWAY_UPSTREAM_READ_TIMEOUT_S=0.5"},
		"run", "--no-pidfile", "--api-upstream", api, "--streamlit-upstream", counting.URL)
	start := time.Now()
	res, _ = httpDo(t, "GET", slow.base+"/api/slow?s=4", nil, nil)
	took := time.Since(start)
	if res.StatusCode != 504 || took < 500*time.Millisecond || took > 3500*time.Millisecond {
		t.Errorf("slow API: %d after %v; want 504 at the 0.5 s read timeout", res.StatusCode, took)
	}
}

func TestIntegrationForwardedHeaders(t *testing.T) {
	requireIntegration(t, "fastapi")
	api := startUvicorn(t, apiAppDir(t), "app:app", "--root-path", "/api")
	seen := make(chan http.Header, 10)
	ui := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/page" { // not fluxlit's readiness probes of /_stcore/health
			seen <- r.Header.Clone()
		}
	})

	untrusted := startFluxlit(t, t.TempDir(), nil, "run", "--no-pidfile", "--api-upstream", api, "--streamlit-upstream", ui)
	trusted := startFluxlit(t, t.TempDir(), nil, "run", "--no-pidfile", "--api-upstream", api, "--streamlit-upstream", ui,
		"--proxy-headers", "--forwarded-allow-ips", "127.0.0.0/8")
	echo := func(base string, hdr map[string]string) map[string]string {
		_, body := httpDo(t, "GET", base+"/api/echo", hdr, nil)
		var e struct {
			Headers map[string]string `json:"headers"`
		}
		json.Unmarshal(body, &e)
		return e.Headers
	}
	spoof := map[string]string{"X-Forwarded-For": "6.6.6.6", "Connection": "X-Foo", "X-Foo": "bar", "X-Request-ID": "trace-1"}
	if h := echo(untrusted.base, spoof); strings.Contains(h["x-forwarded-for"], "6.6.6.6") || h["x-foo"] != "" || h["x-request-id"] != "trace-1" {
		t.Errorf("untrusted peer: API saw XFF %q X-Foo %q id %q; want no 6.6.6.6, no X-Foo, id trace-1", h["x-forwarded-for"], h["x-foo"], h["x-request-id"])
	}
	if h := echo(trusted.base, spoof); h["x-forwarded-for"] != "6.6.6.6, 127.0.0.1" {
		t.Errorf("trusted peer: API saw XFF %q; want \"6.6.6.6, 127.0.0.1\"", h["x-forwarded-for"])
	}
	res, _ := httpDo(t, "GET", untrusted.base+"/page", map[string]string{"Authorization": "Bearer abc", "X-Request-ID": "bad id"}, nil)
	h := <-seen
	if h.Get("Authorization") != "" {
		t.Errorf("Streamlit received Authorization %q", h.Get("Authorization"))
	}
	if id := res.Header.Get("X-Request-Id"); id == "" || id != h.Get("X-Request-Id") {
		t.Errorf("request id: response %q, upstream %q; want the same generated id", id, h.Get("X-Request-Id"))
	}
	// A raw CR LF inside the id splits the header on the wire: Go's server answers 400 and
	// nothing reaches the upstream. validRequestID's table test covers the value itself.
	raw, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(untrusted.port))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(raw, "GET /page HTTP/1.1\r\nHost: x\r\nX-Request-ID: bad\r\n\x1b[31m\r\n\r\n")
	rawRes, err := http.ReadResponse(bufio.NewReader(raw), nil)
	raw.Close()
	if err != nil || rawRes.StatusCode != 400 {
		t.Errorf("id with CR LF: %v %v; want 400", rawRes, err)
	}
	select {
	case h := <-seen:
		t.Errorf("the CR LF request reached the upstream with id %q", h.Get("X-Request-Id"))
	case <-time.After(100 * time.Millisecond):
	}
	long := strings.Repeat("x", 500)
	res, _ = httpDo(t, "GET", untrusted.base+"/page", map[string]string{"X-Request-ID": long}, nil)
	<-seen
	if id := res.Header.Get("X-Request-Id"); id == long || id == "" {
		t.Errorf("500-character id kept: %d chars", len(id))
	}
}

func TestIntegrationStreamingAndMemory(t *testing.T) {
	requireIntegration(t, "fastapi")
	api := startUvicorn(t, apiAppDir(t), "app:app", "--root-path", "/api")
	const gib = 1 << 30
	chunk := bytes.Repeat([]byte("f"), 1<<20)
	big := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(gib))
		for i := 0; i < gib/len(chunk); i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	p := startFluxlit(t, t.TempDir(), nil, "run", "--no-pidfile", "--api-upstream", api, "--streamlit-upstream", big)
	res, err := http.Get(p.base + "/download")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if n != gib {
		t.Fatalf("downloaded %d bytes; want 1 GiB", n)
	}
	if hwm := vmHWM(t, p.cmd.Process.Pid); hwm > 64<<20 {
		t.Errorf("fluxlit peak RSS %d MiB after a 1 GiB download; want under 64 MiB", hwm>>20)
	}

	res, err = http.Get(p.base + "/api/sse?n=4&gap=1")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	start := time.Now()
	var arrivals []time.Duration
	for len(arrivals) < 4 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("SSE read after %d events: %v", len(arrivals), err)
		}
		if strings.HasPrefix(line, "data:") {
			arrivals = append(arrivals, time.Since(start))
		}
	}
	// The API takes 3 s to produce the four events; a gateway that buffered would deliver
	// them together. Half of that span leaves room for a busy machine's delays (with 0.3 s
	// gaps and a 0.45 s bound, a first event delayed by load failed this once).
	if span := arrivals[3] - arrivals[0]; span < 1500*time.Millisecond {
		t.Errorf("events arrived at %v; want them one by one, 1 s apart", arrivals)
	}
}

// vmHWM reads a process's peak resident set size.
func vmHWM(t *testing.T, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

func TestIntegrationGracefulStop(t *testing.T) {
	requireIntegration(t, "fastapi")
	api := startUvicorn(t, apiAppDir(t), "app:app", "--root-path", "/api")
	ui := wsEchoUpstream(t, 0)
	p := startFluxlit(t, t.TempDir(), nil, "run", "--no-pidfile", "--api-upstream", api, "--streamlit-upstream", ui.URL)

	_, br, wsRes := testDialWS(t, "127.0.0.1:"+strconv.Itoa(p.port), "/_stcore/stream", "", []byte("hello"))
	if wsRes.StatusCode != 101 {
		t.Fatalf("WebSocket: %d", wsRes.StatusCode)
	}
	testReadFrame(br)
	stream := startEventStream(t, p.base+"/api/sse?n=5&gap=0.3") // in flight: its first event came
	p.cmd.Process.Signal(syscall.SIGTERM)
	op, payload, err := testReadFrame(br)
	if err != nil || op != 8 || len(payload) < 2 || binary.BigEndian.Uint16(payload) != 1001 {
		t.Errorf("open WebSocket at SIGTERM: op %d %v %v; want close 1001", op, payload, err)
	}
	if got := <-stream; got.events != 5 || got.err != nil {
		t.Errorf("event stream in flight at SIGTERM: %d events, then %v; want all 5 and its end", got.events, got.err)
	}
	if code := p.exitCode(t, 10*time.Second); code != 0 {
		t.Errorf("exit code %d; want 0\n%s", code, p.log.String())
	}
}

// eventStream is how a server-sent event stream ended: the events read and the error that
// ended it (nil at its end).
type eventStream struct {
	events int
	err    error
}

// startEventStream GETs url, a server-sent event stream, and returns once its first event
// has arrived, so that the request is in flight through the gateway. The channel receives
// how the stream ended.
func startEventStream(t *testing.T, url string) <-chan eventStream {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	br := bufio.NewReader(res.Body)
	next := func() error {
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return err
			}
			if strings.HasPrefix(line, "data:") {
				return nil
			}
		}
	}
	if err := next(); err != nil || res.StatusCode != 200 {
		res.Body.Close()
		t.Fatalf("GET %s: %d, first event: %v", url, res.StatusCode, err)
	}
	done := make(chan eventStream, 1)
	go func() {
		defer res.Body.Close()
		got := eventStream{events: 1}
		for {
			if err := next(); err != nil {
				if err != io.EOF {
					got.err = err
				}
				done <- got
				return
			}
			got.events++
		}
	}()
	return done
}

func TestIntegrationPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	msg := fmt.Sprintf("gateway_port %d is in use on 127.0.0.1 (another fluxlit? run \"fluxlit shutdown\", or choose --port)", port)
	// The console format ends with the one line; JSON (the default on a pipe) says the same
	// in one ERROR record, so that every line of the stream parses (Python FluxLit's
	// "message" field closes it).
	for _, tc := range []struct{ format, want string }{
		{"text", "fluxlit: " + msg + "\n"},
		{"json", `"level":"ERROR","msg":` + strconv.Quote(msg) + `,"logger":"fluxlit","message":` + strconv.Quote(msg) + "}\n"},
	} {
		cmd := exec.Command(fluxlitBinary(t), "run", "--no-pidfile", "--port", strconv.Itoa(port), "--log-format", tc.format,
			"--api-upstream", "http://127.0.0.1:1", "--streamlit-upstream", "http://127.0.0.1:1")
		cmd.Dir = t.TempDir()
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Fatalf("%s: exit: %v; want 1", tc.format, err)
		}
		if tc.format == "text" && string(out) != tc.want || tc.format == "json" && !strings.HasSuffix(string(out), tc.want) {
			t.Errorf("%s: got %q; want %q", tc.format, out, tc.want)
		}
	}
}

// TestIntegrationPostAfterUpstreamClosedIdle: uvicorn closes an idle keep-alive connection
// after --timeout-keep-alive (5 s by default; 1 s here). A POST cannot be retried on a fresh
// connection once sent, so the pooled connection must be found dead before it is used. The
// probe did not read at all (its deadline was in the past), and every POST to the API after
// five quiet seconds was a 502.
func TestIntegrationPostAfterUpstreamClosedIdle(t *testing.T) {
	requireIntegration(t, "fastapi")
	t.Parallel()
	api := startUvicorn(t, apiAppDir(t), "app:app", "--root-path", "/api", "--timeout-keep-alive", "1")
	p := startFluxlit(t, t.TempDir(), nil, "run", "--no-pidfile", "--api-upstream", api, "--streamlit-upstream", api)
	if res, _ := httpDo(t, "GET", p.base+"/api/users", nil, nil); res.StatusCode != 200 {
		t.Fatalf("/api/users: %d", res.StatusCode)
	}
	time.Sleep(2500 * time.Millisecond) // past uvicorn's keep-alive and fluxlit's probe threshold
	res, body := httpDo(t, "POST", p.base+"/api/count", nil, strings.NewReader("twelve bytes"))
	if res.StatusCode != 200 || !strings.Contains(string(body), "12") {
		t.Errorf("POST /api/count after the upstream closed the idle connection: %d %s; want 200 counting 12 bytes", res.StatusCode, body)
	}
}
