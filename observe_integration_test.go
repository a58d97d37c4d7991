package main

// Integration tests of observability (issue #6) with the real binary: promtool accepts the
// metrics after a mixed workload that includes a child kill and the counters match what the
// test sent; one request id is followed through the access log, Streamlit's and the API's
// received headers and the debug ring; control characters never reach a log line raw; and
// every log line each test produced parses as JSON.

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// obsRequestIDScript reads the headers of its own WebSocket (st.context.headers, Streamlit
// 1.37+), passes the X-Request-Id it received on to the API through the
// gateway (as the Python package's ApiClient does in debug mode), and writes both sides'
// headers to seen.json.
const obsRequestIDScript = `import json, os, urllib.request
import streamlit as st

headers = dict(st.context.headers)
rid = next((v for k, v in headers.items() if k.lower() == "x-request-id"), "")
req = urllib.request.Request(os.environ["FLUXLIT_INTERNAL_API_BASE"] + "/echo", headers={"X-Request-ID": rid})
with urllib.request.urlopen(req, timeout=10) as r:
    api = json.load(r)
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "seen.json"), "w") as f:
    json.dump({"streamlit": headers, "api": api["headers"]}, f)
st.write("rid: " + rid)
`

// obsProject writes a supervised project: the test FastAPI app, script as the Streamlit
// app, debug and metrics on.
func obsProject(t *testing.T, script, extraTOML string) string {
	t.Helper()
	requireIntegration(t, "streamlit")
	requireIntegration(t, "fastapi")
	dir := t.TempDir()
	app, err := os.ReadFile(filepath.Join(apiAppDir(t), "app.py"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "app.py"), string(app))
	writeFile(t, filepath.Join(dir, "streamlit_app.py"), script)
	writeFile(t, filepath.Join(dir, "fluxlit.toml"), "python = "+strconv.Quote(streamlitPython(t))+
		"\ntarget = \"app:app\"\nstreamlit_script = \"streamlit_app.py\"\ndebug = true\nrestart_max_backoff_s = 1\n"+
		"enable_gateway_prometheus_metrics = true\n"+extraTOML)
	return dir
}

// obsCheckLogs fails the test for a line of p's output that is not a JSON object or that
// holds a raw control character. In JSON mode every line is JSON, the [fluxlit-debug] lines
// and a final error included (#19; they were plain text before).
func obsCheckLogs(t *testing.T, name, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for i, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		if obsHasControl(line) {
			t.Errorf("%s line %d holds a raw control character: %q", name, i+1, line)
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("%s line %d is not JSON: %v: %q", name, i+1, err, line)
			continue
		}
		recs = append(recs, rec)
	}
	return recs
}

// obsStop stops p with SIGTERM and waits, so that its log is complete.
func obsStop(t *testing.T, p *fluxlitProc) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.exitCode(t, 30*time.Second); code != 0 {
		t.Errorf("fluxlit exit %d; want 0", code)
	}
}

func obsScrapeURL(t *testing.T, url string) (string, map[string]float64) {
	t.Helper()
	res, body := httpDo(t, "GET", url, nil, nil)
	if res.StatusCode != 200 {
		t.Fatalf("scrape %s: %d", url, res.StatusCode)
	}
	return string(body), obsParseMetrics(t, string(body))
}

// obsWaitChild polls the debug page (which metrics do not count) until child is ready with
// more than restarts restarts.
func obsWaitChild(t *testing.T, base, child string, restarts int, within time.Duration) debugChild {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c := debugChildren(t, base)[child]
		if c.State == "ready" && c.Restarts > restarts {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready with more than %d restarts within %v: %+v", child, restarts, within, c)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestIntegrationMetricsPromtoolAfterMixedWorkload(t *testing.T) {
	if _, err := exec.LookPath("promtool"); err != nil {
		requireIntegration(t, "promtool")
	}
	t.Parallel()
	dir := obsProject(t, "import streamlit as st\nst.title(\"Hello fluxlit\")\n", "")
	p := launchFluxlit(t, dir, nil, "run", "--no-pidfile")
	waitStatus(t, p.base+"/api/readyz", 200, 90*time.Second)
	obsWaitChild(t, p.base, "streamlit", -1, 30*time.Second)
	_, before := obsScrapeURL(t, p.base+"/__fluxlit/metrics")

	// The workload: every request below is counted in the deltas checked at the end.
	for i := 0; i < 3; i++ {
		if res, _ := httpDo(t, "GET", p.base+"/api/users", nil, nil); res.StatusCode != 200 {
			t.Fatalf("/api/users: %d", res.StatusCode)
		}
	}
	body := strings.Repeat("b", 1000)
	if res, _ := httpDo(t, "POST", p.base+"/api/count", nil, strings.NewReader(body)); res.StatusCode != 200 {
		t.Fatalf("POST /api/count: %d", res.StatusCode)
	}
	if res, _ := httpDo(t, "GET", p.base+"/api/nope", nil, nil); res.StatusCode != 404 {
		t.Fatalf("/api/nope: %d; want FastAPI's 404", res.StatusCode)
	}
	if res, _ := httpDo(t, "GET", p.base+"/", nil, nil); res.StatusCode != 200 {
		t.Fatalf("/: %d", res.StatusCode)
	}
	if res, _ := httpDo(t, "GET", p.base+"/docs", nil, nil); res.StatusCode != 307 {
		t.Fatalf("/docs: %d", res.StatusCode)
	}
	if seen := sessionThrough(t, p); !containsAll(seen, "Hello fluxlit", "script_finished") {
		t.Fatalf("session: %q", seen)
	}
	killed := debugChildren(t, p.base)["streamlit"]
	if err := syscall.Kill(killed.PID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill streamlit %d: %v", killed.PID, err)
	}
	obsWaitChild(t, p.base, "streamlit", killed.Restarts, 60*time.Second)

	text, after := obsScrapeURL(t, p.base+"/__fluxlit/metrics")
	obsPromtool(t, text)
	delta := func(k string) float64 { return after[k] - before[k] }
	wantDelta := map[string]float64{
		`fluxlit_gateway_requests_total{dispatch="api",method_kind="GET"}`:             4,
		`fluxlit_gateway_requests_total{dispatch="api",method_kind="POST"}`:            1,
		`fluxlit_gateway_responses_total{dispatch="api",code="200"}`:                   4,
		`fluxlit_gateway_responses_total{dispatch="api",code="404"}`:                   1,
		`fluxlit_gateway_requests_total{dispatch="streamlit",method_kind="GET"}`:       1,
		`fluxlit_gateway_requests_total{dispatch="streamlit",method_kind="WEBSOCKET"}`: 1,
		`fluxlit_gateway_responses_total{dispatch="streamlit",code="200"}`:             1,
		`fluxlit_gateway_responses_total{dispatch="streamlit",code="101"}`:             1,
		`fluxlit_gateway_requests_total{dispatch="fluxlit",method_kind="GET"}`:         1,
		`fluxlit_gateway_responses_total{dispatch="fluxlit",code="307"}`:               1,
		`fluxlit_gateway_request_duration_seconds_count{dispatch="api"}`:               5,
		`fluxlit_gateway_bytes_total{dispatch="api",direction="in"}`:                   1000,
		`fluxlit_gateway_websocket_opened_total`:                                       1,
		`fluxlit_child_restarts_total{child="streamlit",replica="1.1"}`:                1,
		`fluxlit_child_restarts_total{child="api",replica="1.1"}`:                      0,
	}
	for k, v := range wantDelta {
		if got := delta(k); got != v {
			t.Errorf("%s: grew by %v; want %v", k, got, v)
		}
	}
	var closed float64
	for _, side := range metricsClosers {
		closed += delta(`fluxlit_gateway_websocket_closed_total{closed_by="` + side + `"}`)
	}
	if closed != 1 || after["fluxlit_gateway_websocket_connections"] != 0 {
		t.Errorf("WebSocket closes grew by %v, %v open; want 1 closed, 0 open", closed, after["fluxlit_gateway_websocket_connections"])
	}
	for _, k := range []string{`fluxlit_child_up{child="api",replica="1.1"}`, `fluxlit_child_up{child="streamlit",replica="1.1"}`,
		`fluxlit_upstream_ready{upstream="api"}`, `fluxlit_upstream_ready{upstream="streamlit"}`} {
		if after[k] != 1 {
			t.Errorf("%s = %v; want 1", k, after[k])
		}
	}
	obsStop(t, p)
	obsCheckLogs(t, "fluxlit", p.log.String())
}

func TestIntegrationRequestIDEndToEnd(t *testing.T) {
	t.Parallel()
	dir := obsProject(t, obsRequestIDScript, "")
	p := launchFluxlit(t, dir, nil, "run", "--no-pidfile")
	waitStatus(t, p.base+"/api/readyz", 200, 90*time.Second)
	obsWaitChild(t, p.base, "streamlit", -1, 30*time.Second)

	const rid = "e2e-rid-6f1c"
	hostPort := "127.0.0.1:" + strconv.Itoa(p.port)
	h := http.Header{}
	h.Set("Sec-WebSocket-Protocol", "streamlit")
	h.Set("Origin", "http://"+hostPort)
	h.Set("X-Request-ID", rid)
	c, res, err := dialWS(t, "ws://"+hostPort+"/_stcore/stream", h)
	if err != nil {
		t.Fatalf("WebSocket: %v (%v)", err, res)
	}
	if got := res.Header.Get("X-Request-Id"); got != rid {
		t.Errorf("101 X-Request-Id %q; want %q", got, rid)
	}
	if seen := streamlitSession(t, c, 30*time.Second); !containsAll(seen, "rid: "+rid) {
		t.Errorf("session: %q; want the script to print the id it received", seen)
	}
	c.Close()

	var seen struct {
		Streamlit map[string]string `json:"streamlit"`
		API       map[string]string `json:"api"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "seen.json"))
	if err != nil || json.Unmarshal(data, &seen) != nil {
		t.Fatalf("seen.json: %v %s", err, data)
	}
	if got := obsHeader(seen.Streamlit, "X-Request-Id"); got != rid {
		t.Errorf("Streamlit received X-Request-Id %q; want %q", got, rid)
	}
	if got := seen.API["x-request-id"]; got != rid {
		t.Errorf("the API received x-request-id %q; want %q", got, rid)
	}

	// The debug ring: the API call and, once closed, the tunnel.
	deadline := time.Now().Add(10 * time.Second)
	var ring map[string]bool
	for time.Now().Before(deadline) {
		ring = obsRingDispatches(t, p.base, rid)
		if ring["api"] && ring["streamlit"] {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !ring["api"] || !ring["streamlit"] {
		t.Errorf("debug ring entries for %s: %v; want the api call and the streamlit tunnel", rid, ring)
	}

	obsStop(t, p)
	recs := obsCheckLogs(t, "fluxlit", p.log.String())
	lines := map[string]bool{}
	for _, r := range recs {
		if r["request_id"] == rid {
			lines[r["msg"].(string)+" "+r["dispatch"].(string)] = true
		}
	}
	for _, want := range []string{"websocket open streamlit", "websocket close streamlit", "access api"} {
		if !lines[want] {
			t.Errorf("no %q log line with request_id %s; got %v", want, rid, lines)
		}
	}
	children := map[string]bool{}
	for _, r := range recs {
		if c, ok := r["child"].(string); ok {
			children[c] = true
		}
	}
	if !children["api"] || !children["streamlit"] {
		t.Errorf("child output records: %v; want records with child=api and child=streamlit", children)
	}
}

func obsHeader(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// obsRingDispatches returns the dispatches of the debug ring's entries with request id rid.
func obsRingDispatches(t *testing.T, base, rid string) map[string]bool {
	t.Helper()
	_, body := httpDo(t, "GET", base+"/__fluxlit/debug", nil, nil)
	var page struct {
		Recent []dispatchEntry `json:"recent_dispatches"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("debug page: %v", err)
	}
	out := map[string]bool{}
	for _, e := range page.Recent {
		if e.RequestID == rid {
			out[e.Dispatch] = true
		}
	}
	return out
}

// TestIntegrationLogsJSONAndControlCharacters replays a mixed workload against the real
// binary in front of real uvicorn and Streamlit (API, page, WebSocket, 404, 413, 502, a path
// with ESC [31m and a newline, raw control bytes in headers), then checks that every line
// it logged is JSON without a raw control character, and that the lines of every other
// fluxlit this test process ran so far are JSON too.
func TestIntegrationLogsJSONAndControlCharacters(t *testing.T) {
	api, ui := realUpstreams(t, "")
	dead := refusedPort(t)
	p := startFluxlit(t, t.TempDir(), []string{"FLUXLIT_GATEWAY_MAX_PROXY_REQUEST_BODY_BYTES=100"},
		"run", "--no-pidfile", "--debug", "--api-upstream", api, "--streamlit-upstream", ui)
	down := startFluxlit(t, t.TempDir(), nil, "run", "--no-pidfile", "--api-upstream", dead, "--streamlit-upstream", dead)

	httpDo(t, "GET", p.base+"/api/users?token=tok-SECRET-1&x=1", nil, nil)
	httpDo(t, "GET", p.base+"/api/nope", nil, nil)
	httpDo(t, "POST", p.base+"/api/count", nil, strings.NewReader(strings.Repeat("a", 500)))
	httpDo(t, "GET", p.base+"/", nil, nil)
	httpDo(t, "GET", down.base+"/api/users", nil, nil)
	hostPort := "127.0.0.1:" + strconv.Itoa(p.port)
	h := http.Header{}
	h.Set("Sec-WebSocket-Protocol", "streamlit")
	h.Set("Origin", "http://"+hostPort)
	c, res, err := dialWS(t, "ws://"+hostPort+"/_stcore/stream?fluxlit_sid=sid-SECRET-2", h)
	if err != nil {
		t.Fatalf("WebSocket: %v (%v)", err, res)
	}
	streamlitSession(t, c, 30*time.Second)
	c.Close()

	raw := func(req string) int {
		conn, err := net.Dial("tcp", hostPort)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		conn.Write([]byte(req))
		buf := make([]byte, 64)
		n, _ := conn.Read(buf)
		if f := strings.Fields(string(buf[:n])); len(f) > 1 {
			code, _ := strconv.Atoi(f[1])
			return code
		}
		return 0
	}
	if code := raw("GET /api/echo/%1b[31mred%0A{\"level\":\"ERROR\"}?q=%1b HTTP/1.1\r\nHost: x\r\nX-Request-Id: ctl-1\r\nConnection: close\r\n\r\n"); code != 404 {
		// Starlette's path converter stops at the newline: FastAPI's own 404 proves the request
		// went through the gateway to the API.
		t.Errorf("encoded control characters in the path: %d; want the API's 404", code)
	}
	if code := raw("GET /page HTTP/1.1\r\nHost: x\r\nUser-Agent: \x1b[31mred\r\nX-Note: a\nb\r\nConnection: close\r\n\r\n"); code != 400 {
		t.Errorf("raw control characters in headers: %d; want 400", code)
	}

	obsStop(t, p)
	obsStop(t, down)
	recs := obsCheckLogs(t, "fluxlit", p.log.String())
	obsCheckLogs(t, "fluxlit (502)", down.log.String())
	var ctl map[string]any
	for _, r := range recs {
		if r["request_id"] == "ctl-1" && r["msg"] == "access" {
			ctl = r
		}
	}
	if ctl == nil || !strings.Contains(ctl["path"].(string), `\x1b[31mred\n{"level":"ERROR"}`) {
		t.Errorf("access line of the control-character path: %v; want the path with \\x1b and \\n escaped", ctl)
	}
	for _, secret := range []string{"tok-SECRET-1", "sid-SECRET-2"} {
		if strings.Contains(p.log.String(), secret) {
			t.Errorf("the log holds the query value %q", secret)
		}
	}

	allFluxlitLogs.mu.Lock()
	logs := append([]*syncBuffer(nil), allFluxlitLogs.logs...)
	allFluxlitLogs.mu.Unlock()
	for i, l := range logs {
		obsCheckLogs(t, "fluxlit #"+strconv.Itoa(i+1)+" of this test process", l.String())
	}
}
