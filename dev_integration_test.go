package main

// Integration tests of the development loop (issue #19): "fluxlit dev" keeps serving through
// a broken save, restarts only the child whose files changed, re-reads its configuration, and
// a second signal stops at once. The real binary, uvicorn and Streamlit.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const devApp = `from fastapi import FastAPI

app = FastAPI()


@app.get("/users")
def users():
    return [{"name": "Ada"}]
`

// devBrokenApp does not parse: line 7 has an unclosed parenthesis.
const devBrokenApp = `from fastapi import FastAPI

app = FastAPI()


@app.get("/users")
def users(:
    return [{"name": "Ada"}]
`

const devScript = `import streamlit as st

st.title("Still here")
`

func devProject(t *testing.T, extraTOML string) string {
	t.Helper()
	requireIntegration(t, "streamlit")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.py"), devApp)
	writeFile(t, filepath.Join(dir, "streamlit_app.py"), devScript)
	writeFile(t, filepath.Join(dir, "fluxlit.toml"), fmt.Sprintf("python = %q\n%s", streamlitPython(t), extraTOML))
	return dir
}

// logRecords parses the JSON lines of a fluxlit log; lines that do not parse fail the test.
func logRecords(t *testing.T, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("not a JSON line: %q", l)
			continue
		}
		recs = append(recs, rec)
	}
	return recs
}

func recordsAt(recs []map[string]any, level string) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r["level"] == level {
			out = append(out, r)
		}
	}
	return out
}

func stillRunning(t *testing.T, p *fluxlitProc) {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("fluxlit exited: %v", p.err)
	default:
	}
}

// TestIntegrationDevSyntaxError saves an app.py that does not parse while "fluxlit dev"
// runs with a browser session open. Before #19 the API crash-looped five times (one
// ~40-line traceback at INFO each) and fluxlit then stopped Streamlit too and exited 1.
func TestIntegrationDevSyntaxError(t *testing.T) {
	dir := devProject(t, "")
	p := launchFluxlit(t, dir, nil, "dev", "--no-pidfile")
	waitStatus(t, p.base+"/api/readyz", 200, 90*time.Second)
	ws := openSession(t, p)
	if seen := streamlitSession(t, ws, 30*time.Second); !containsAll(seen, "Still here") {
		t.Fatalf("session before: %q", seen)
	}
	uiPID := debugChildren(t, p.base)["streamlit"].PID

	writeFile(t, filepath.Join(dir, "app.py"), devBrokenApp)
	waitLog(t, p, "SyntaxError", 30*time.Second)
	// In run mode the crash loop would have restarted it three times by now.
	time.Sleep(4 * time.Second)
	errs := recordsAt(logRecords(t, p.log.String()), "ERROR")
	if len(errs) != 1 {
		t.Fatalf("%d ERROR records; want 1: %v", len(errs), errs)
	}
	e := errs[0]
	if file, _ := e["file"].(string); !strings.HasSuffix(file, "app.py") || e["line"] != 7.0 ||
		!strings.Contains(e["msg"].(string), "(app.py:7)") || !strings.Contains(e["traceback"].(string), "def users(:") {
		t.Errorf("ERROR record %v; want app.py line 7 and its traceback", e)
	}
	stillRunning(t, p)
	if code := statusOf(t, p.base+"/api/healthz"); code != 200 {
		t.Errorf("healthz with the API down: %d; want 200", code)
	}
	if code := statusOf(t, p.base+"/"); code != 200 {
		t.Errorf("the Streamlit page with the API down: %d; want 200", code)
	}
	res, body := httpDo(t, "GET", p.base+"/api/users", nil, nil)
	if res.StatusCode != 503 || !strings.Contains(string(body), "fix it and save") {
		t.Errorf("/api/users with the API down: %d %s; want 503 saying what to do", res.StatusCode, body)
	}
	if seen := streamlitSession(t, ws, 30*time.Second); !containsAll(seen, "Still here") {
		t.Errorf("the open session after the broken save: %q", seen)
	}

	writeFile(t, filepath.Join(dir, "app.py"), devApp)
	waitStatus(t, p.base+"/api/users", 200, 60*time.Second)
	stillRunning(t, p)
	if n := len(recordsAt(logRecords(t, p.log.String()), "ERROR")); n != 1 {
		t.Errorf("%d ERROR records after the fix; want still 1", n)
	}
	if got := debugChildren(t, p.base)["streamlit"].PID; got != uiPID {
		t.Errorf("Streamlit restarted (pid %d -> %d) for an API change", uiPID, got)
	}
	if seen := streamlitSession(t, ws, 30*time.Second); !containsAll(seen, "Still here") {
		t.Errorf("the open session after the fix: %q", seen)
	}
}

func openSession(t *testing.T, p *fluxlitProc) *wsConn {
	t.Helper()
	h := http.Header{}
	h.Set("Sec-WebSocket-Protocol", "streamlit")
	h.Set("Origin", p.base)
	c, res, err := dialWS(t, strings.Replace(p.base, "http:", "ws:", 1)+"/_stcore/stream", h)
	if err != nil {
		t.Fatalf("WebSocket: %v (%v)", err, res)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestIntegrationDevReloadWhatChanged: dev says what it watches; a change to the Streamlit
// script restarts nothing (Streamlit reruns it), a change to fluxlit.toml is re-read (a
// children's setting reloads the children, a new api_mount_path restarts fluxlit in place
// and applies; a broken file is reported and the running configuration kept).
// Before #19 editing streamlit_app.py restarted the API, and editing fluxlit.toml restarted
// the API child without reading the file.
func TestIntegrationDevReloadWhatChanged(t *testing.T) {
	dir := devProject(t, "")
	p := launchFluxlit(t, dir, nil, "dev", "--no-pidfile")
	waitStatus(t, p.base+"/api/readyz", 200, 90*time.Second)
	waitLog(t, p, `"msg":"reload: watching `+dir+`: *.py restarts api; Streamlit reruns streamlit_app.py and pages/ itself; fluxlit.toml re-reads the configuration"`, 5*time.Second)
	before := debugChildren(t, p.base)

	writeFile(t, filepath.Join(dir, "streamlit_app.py"), devScript+"st.write(\"edited\")\n")
	waitLog(t, p, "streamlit_app.py changed: Streamlit reruns it itself", 10*time.Second)
	time.Sleep(time.Second)
	after := debugChildren(t, p.base)
	if after["api"].PID != before["api"].PID || after["streamlit"].PID != before["streamlit"].PID {
		t.Errorf("a Streamlit script edit restarted a child: %+v -> %+v", before, after)
	}

	// A children's setting: a reload (a new generation of children, no restart of fluxlit).
	writeFile(t, filepath.Join(dir, "fluxlit.toml"), fmt.Sprintf("python = %q\nrestart_max_backoff_s = 3\n", streamlitPython(t)))
	waitLog(t, p, "fluxlit.toml changed (restart_max_backoff_s): reloading the children with the new configuration", 10*time.Second)
	waitLog(t, p, "reload: generation 2 serving", 90*time.Second)
	stillRunning(t, p)

	// A gateway setting: fluxlit restarts in place with it.
	toml := fmt.Sprintf("python = %q\napi_mount_path = \"/backend\"\n", streamlitPython(t))
	writeFile(t, filepath.Join(dir, "fluxlit.toml"), toml)
	waitLog(t, p, "fluxlit.toml changed (api_mount_path, restart_max_backoff_s): restarting fluxlit with the new configuration", 10*time.Second)
	waitStatus(t, p.base+"/backend/users", 200, 90*time.Second)
	stillRunning(t, p) // the same process: it replaced itself

	writeFile(t, filepath.Join(dir, "fluxlit.toml"), toml+"shutdown_timeout_s = \"soon\"\n")
	waitLog(t, p, `fluxlit.toml:3: shutdown_timeout_s: `, 10*time.Second)
	waitLog(t, p, `; still running with the configuration fluxlit started with"`, time.Second)
	if code := statusOf(t, p.base+"/backend/users"); code != 200 {
		t.Errorf("after a broken fluxlit.toml: /backend/users %d; want 200", code)
	}
	stillRunning(t, p)
}

// TestIntegrationSecondSignalStopsAtOnce: a child that ignores SIGTERM holds a stop for the
// 5 s grace; a second SIGTERM (Ctrl-C twice) ends it at once. Before #19 the second signal
// was ignored.
func TestIntegrationSecondSignalStopsAtOnce(t *testing.T) {
	requireIntegration(t, "uvicorn")
	dir := t.TempDir()
	stubborn := `import signal, socket, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
while True:
    time.sleep(1)
`
	writeFile(t, filepath.Join(dir, "stubborn.py"), stubborn)
	writeFile(t, filepath.Join(dir, "fluxlit.toml"), fmt.Sprintf("api_command = [%q, \"stubborn.py\", \"{port}\"]\nstreamlit_upstream = %q\n",
		streamlitPython(t), relStreamlitStub(t)))
	p := launchFluxlit(t, dir, nil, "run", "--no-pidfile")
	waitStatus(t, p.base+"/api/readyz", 200, 30*time.Second)
	p.cmd.Process.Signal(syscall.SIGTERM)
	waitLog(t, p, `"msg":"stopping"`, 5*time.Second)
	time.Sleep(500 * time.Millisecond) // into the child's grace
	p.cmd.Process.Signal(syscall.SIGTERM)
	start := time.Now()
	if code := p.exitCode(t, 4*time.Second); code != 0 {
		t.Errorf("exit %d; want 0", code)
	}
	t.Logf("stopped %v after the second signal", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(p.log.String(), "second terminated: stopping now") {
		t.Errorf("no line about the second signal:\n%s", p.log.String())
	}
}
