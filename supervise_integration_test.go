package main

// Integration tests of supervision (issue #3): "fluxlit run" starts a real uvicorn+FastAPI
// and a real Streamlit, restarts them, stops them, and leaves no process behind.

import (
	"encoding/json"
	"fmt"
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

// superviseStreamlitScript shows the users it fetched from the API through the gateway, and
// writes its environment to env.json so the test can check the environment contract.
const superviseStreamlitScript = `import json, os, urllib.request
import streamlit as st

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "env.json"), "w") as f:
    json.dump(dict(os.environ), f)
base = os.environ["FLUXLIT_INTERNAL_API_BASE"]
with urllib.request.urlopen(base + "/users", timeout=5) as r:
    users = json.load(r)
st.title("Users")
for u in users:
    st.write("user: " + u["name"])
`

// superviseProject writes a project directory: the test FastAPI app, the Streamlit script and
// a fluxlit.toml naming the real Streamlit's interpreter.
func superviseProject(t *testing.T, extraTOML string) string {
	t.Helper()
	requireIntegration(t, "streamlit")
	requireIntegration(t, "fastapi")
	dir := t.TempDir()
	app, err := os.ReadFile(filepath.Join(apiAppDir(t), "app.py"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "app.py"), string(app))
	writeFile(t, filepath.Join(dir, "streamlit_app.py"), superviseStreamlitScript)
	writeFile(t, filepath.Join(dir, "fluxlit.toml"), fmt.Sprintf("python = %q\ntarget = \"app:app\"\nstreamlit_script = \"streamlit_app.py\"\ndebug = true\nrestart_max_backoff_s = 2\n%s", streamlitPython(t), extraTOML))
	return dir
}

type debugChild struct {
	Name     string   `json:"name"`
	State    string   `json:"state"`
	PID      int      `json:"pid"`
	Restarts int      `json:"restarts"`
	Output   []string `json:"output"`
}

func debugChildren(t *testing.T, base string) map[string]debugChild {
	t.Helper()
	res, err := http.Get(base + "/__fluxlit/debug")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var snap struct {
		Children []debugChild `json:"children"`
	}
	if err := json.NewDecoder(res.Body).Decode(&snap); err != nil {
		t.Fatalf("debug page: %v", err)
	}
	out := map[string]debugChild{}
	for _, c := range snap.Children {
		out[c.Name] = c
	}
	return out
}

func statusOf(t *testing.T, url string) int {
	res, err := http.Get(url)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// waitStatus polls url until it answers want.
func waitStatus(t *testing.T, url string, want int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if statusOf(t, url) == want {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not answer %d within %v", url, want, within)
	return 0
}

func sessionThrough(t *testing.T, p *fluxlitProc) []string {
	t.Helper()
	hostPort := "127.0.0.1:" + strconv.Itoa(p.port)
	h := http.Header{}
	h.Set("Sec-WebSocket-Protocol", "streamlit")
	h.Set("Origin", "http://"+hostPort)
	c, res, err := dialWS(t, "ws://"+hostPort+"/_stcore/stream", h)
	if err != nil {
		t.Fatalf("WebSocket: %v (%v)", err, res)
	}
	defer c.Close()
	return streamlitSession(t, c, 30*time.Second)
}

// groupGone reports whether no process of the group pgid remains (zombies count as gone:
// PID 1 in this sandbox does not reap them).
func groupGone(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); err == syscall.ESRCH {
		return true
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			_ = pid
			return false
		}
	}
	return true
}

func TestIntegrationSuperviseRun(t *testing.T) {
	dir := superviseProject(t, `jwt_protect = ["/admin/*"]`+"\n"+`child_env_deny = ["MY_API_TOKEN"]`+"\n")
	// What the Streamlit child must not get (README, Children): FLUXLIT_JWT_*, FLUXLIT_OIDC_*,
	// secret settings (oidc_bff_secret is one), names in child_env_deny.
	withheld := []string{"FLUXLIT_JWT_HS256_SECRET=" + strings.Repeat("s", 40), "FLUXLIT_OIDC_CLIENT_ID=oidc-client",
		"FLUXLIT_OIDC_BFF_SECRET=bff-secret", "MY_API_TOKEN=api-token"}
	p := launchFluxlit(t, dir, append([]string{"MY_API_TOKEN_2=kept"}, withheld...), "run", "--no-pidfile")
	waitHTTP(t, p.base+"/api/healthz", 10*time.Second, p)
	if code := statusOf(t, p.base+"/api/readyz"); code != 503 {
		t.Errorf("readyz while the children start: got %d; want 503", code)
	}
	took := waitStatus(t, p.base+"/api/readyz", 200, 90*time.Second)
	t.Logf("children ready after %v", took)
	res, body := httpDo(t, "GET", p.base+"/api/users", nil, nil)
	if res.StatusCode != 200 || !strings.Contains(string(body), "Ada") {
		t.Errorf("/api/users: %d %s", res.StatusCode, body)
	}
	if res, _ := httpDo(t, "GET", p.base+"/", nil, nil); res.StatusCode != 200 {
		t.Errorf("/: %d", res.StatusCode)
	}
	seen := sessionThrough(t, p)
	if !containsAll(seen, "user: Ada", "user: Linus", "script_finished") {
		t.Errorf("session: got %q; want the users fetched through the gateway", seen)
	}
	var env map[string]string
	data, err := os.ReadFile(filepath.Join(dir, "env.json"))
	if err != nil || json.Unmarshal(data, &env) != nil {
		t.Fatalf("env.json: %v", err)
	}
	if want := "http://127.0.0.1:" + strconv.Itoa(p.port) + "/api"; env["FLUXLIT_INTERNAL_API_BASE"] != want {
		t.Errorf("FLUXLIT_INTERNAL_API_BASE %q; want %q", env["FLUXLIT_INTERNAL_API_BASE"], want)
	}
	for _, kv := range withheld {
		name, _, _ := strings.Cut(kv, "=")
		if _, leaked := env[name]; leaked {
			t.Errorf("the Streamlit child received %s", name)
		}
	}
	if env["MY_API_TOKEN_2"] != "kept" {
		t.Errorf("MY_API_TOKEN_2 %q; want the parent's value (only listed names are withheld)", env["MY_API_TOKEN_2"])
	}
	if env["FLUXLIT_API_PREFIX"] != "/api" || env["FLUXLIT_APP"] != "app:app" {
		t.Errorf("FLUXLIT_API_PREFIX %q FLUXLIT_APP %q", env["FLUXLIT_API_PREFIX"], env["FLUXLIT_APP"])
	}
}

func TestIntegrationSuperviseCrashRestartAndStop(t *testing.T) {
	dir := superviseProject(t, "")
	pidfile := filepath.Join(dir, ".fluxlit.pid")
	p := launchFluxlit(t, dir, nil, "run")
	waitStatus(t, p.base+"/api/readyz", 200, 90*time.Second)
	if _, err := os.Stat(pidfile); err != nil {
		t.Fatalf("pidfile after ready: %v", err)
	}
	before := debugChildren(t, p.base)
	ui, api := before["streamlit"], before["api"]
	if ui.PID == 0 || api.PID == 0 {
		t.Fatalf("children in the debug page: %+v", before)
	}
	syscall.Kill(ui.PID, syscall.SIGKILL)
	// Once fluxlit has seen the child exit, and until the new child is ready (at least the
	// 500 ms backoff plus Streamlit's start), readyz is 503 and a request for the UI is
	// answered by fluxlit: 503, Retry-After, the request id. (Between the kill and the exit
	// reaching the supervisor, a few milliseconds, the dial is refused: 502.)
	superviseWaitFor(t, 5*time.Second, "the supervisor to see Streamlit exit", func() bool {
		return debugChildren(t, p.base)["streamlit"].State != "ready"
	})
	if code := statusOf(t, p.base+"/api/readyz"); code != 503 {
		t.Errorf("readyz while Streamlit restarts: %d; want 503", code)
	}
	res, body := httpDo(t, "GET", p.base+"/", map[string]string{"X-Request-ID": "while-down-1"}, nil)
	if res.StatusCode != 503 || res.Header.Get("Retry-After") != "1" ||
		string(body) != "Service Unavailable: fluxlit: streamlit is not running (restarting); retry shortly (request id while-down-1)\n" {
		t.Errorf("GET / while Streamlit restarts: %d Retry-After %q %q; want 503, Retry-After 1 and the line with the request id",
			res.StatusCode, res.Header.Get("Retry-After"), body)
	}
	back := waitStatus(t, p.base+"/api/readyz", 200, 60*time.Second)
	t.Logf("Streamlit back after %v", back)
	after := debugChildren(t, p.base)
	if after["streamlit"].PID == ui.PID || after["streamlit"].Restarts < 1 {
		t.Errorf("streamlit after kill: %+v; want a new pid and a restart counted", after["streamlit"])
	}
	if seen := sessionThrough(t, p); !containsAll(seen, "user: Ada") {
		t.Errorf("session after restart: %q", seen)
	}

	// SIGTERM with a request in flight: a stream from the API, its first event already read.
	stream := startEventStream(t, p.base+"/api/sse?n=5&gap=0.3")
	groups := []int{after["streamlit"].PID, after["api"].PID}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if got := <-stream; got.events != 5 || got.err != nil {
		t.Errorf("event stream in flight at SIGTERM: %d events, then %v; want all 5 and its end", got.events, got.err)
	}
	if code := p.exitCode(t, 30*time.Second); code != 0 {
		t.Errorf("exit %d; want 0", code)
	}
	for _, pgid := range groups {
		if !groupGone(pgid) {
			t.Errorf("process group %d survived fluxlit's stop", pgid)
		}
	}
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Errorf("pidfile still there after stop: %v", err)
	}
}

func TestIntegrationSuperviseKill9LeavesNoChild(t *testing.T) {
	dir := superviseProject(t, "")
	p := launchFluxlit(t, dir, nil, "run", "--no-pidfile")
	waitStatus(t, p.base+"/api/readyz", 200, 90*time.Second)
	kids := debugChildren(t, p.base)
	p.cmd.Process.Kill()
	// The kernel sends the SIGKILL at once; the bound is for a busy machine to deliver it.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !(groupGone(kids["api"].PID) && groupGone(kids["streamlit"].PID)) {
		time.Sleep(50 * time.Millisecond)
	}
	for name, c := range kids {
		if !groupGone(c.PID) {
			t.Errorf("%s child (pid %d) survived kill -9 of fluxlit", name, c.PID)
			syscall.Kill(-c.PID, syscall.SIGKILL)
		}
	}
}

// superviseCrashingChild starts, answers Streamlit's health check (so it counts as started),
// and exits 3 a moment later: a Streamlit child that crashes after every start.
const superviseCrashingChild = `import http.server, os, sys, threading
print("doomed-child-output", flush=True)
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
        threading.Timer(0.2, os._exit, (3,)).start()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Health).serve_forever()
`

// TestIntegrationSuperviseCrashLimit: a child that crashes after every start is restarted
// until its fifth crash within 60 s, then fluxlit stops and exits 1 naming the child and its
// last output lines (README, Children).
func TestIntegrationSuperviseCrashLimit(t *testing.T) {
	dir := superviseProject(t, fmt.Sprintf("streamlit_command = [%q, \"crash_child.py\", \"{port}\"]\n", streamlitPython(t)))
	writeFile(t, filepath.Join(dir, "crash_child.py"), superviseCrashingChild)
	p := launchFluxlit(t, dir, nil, "run", "--no-pidfile")
	if code := p.exitCode(t, 60*time.Second); code != 1 {
		t.Fatalf("exit %d for a child that always crashes; want 1", code)
	}
	log := p.log.String()
	lastLines := strings.Repeat("doomed-child-output | ", 4) + "doomed-child-output"
	// The run logs JSON (launchFluxlit), so its last word is an ERROR record.
	final := "streamlit: exited 5 times in 60s; last output: " + lastLines
	if want := `"level":"ERROR","msg":"` + final + `","logger":"fluxlit","message":"` + final + `"}` + "\n"; !strings.HasSuffix(log, want) {
		t.Errorf("log does not say %q:\n%s", want, log)
	}
	if starts := strings.Count(log, `"msg":"doomed-child-output"`); starts != 5 {
		t.Errorf("the child started %d times; want 5 (gives up at the fifth crash)\n%s", starts, log)
	}
}

func TestIntegrationShutdownCommand(t *testing.T) {
	requireIntegration(t, "fastapi")
	dir := t.TempDir()
	api := startUvicorn(t, apiAppDir(t), "app:app")
	ui := wsEchoUpstream(t, 0)
	bin := fluxlitBinary(t)
	run := func(args ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		return 0, string(out)
	}
	if code, out := run("shutdown"); code != 2 {
		t.Errorf("shutdown without a pidfile: %d %q; want 2", code, out)
	}
	p := startFluxlit(t, dir, nil, "run", "--api-upstream", api, "--streamlit-upstream", ui.URL)
	waitStatus(t, p.base+"/api/readyz", 200, 10*time.Second)
	second := launchFluxlit(t, dir, nil, "run", "--api-upstream", api, "--streamlit-upstream", ui.URL)
	if code := second.exitCode(t, 10*time.Second); code != 1 || !strings.Contains(second.log.String(), "another fluxlit") {
		t.Errorf("second instance with a live pidfile: exit %d %q; want 1 with a hint", code, second.log.String())
	}
	if code, out := run("shutdown", "--wait", "10"); code != 0 {
		t.Errorf("shutdown: %d %q; want 0", code, out)
	}
	if code := p.exitCode(t, 10*time.Second); code != 0 {
		t.Errorf("fluxlit after shutdown: exit %d", code)
	}
	writeFile(t, filepath.Join(dir, ".fluxlit.pid"), "999999\n")
	if code, out := run("shutdown"); code != 0 {
		t.Errorf("shutdown with a stale pidfile: %d %q; want 0 (removed)", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, ".fluxlit.pid")); !os.IsNotExist(err) {
		t.Errorf("stale pidfile not removed")
	}
}

func TestIntegrationSystemdNotify(t *testing.T) {
	requireIntegration(t, "fastapi")
	api := startUvicorn(t, apiAppDir(t), "app:app")
	ui := wsEchoUpstream(t, 0)
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p := launchFluxlit(t, t.TempDir(), []string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=400000"},
		"run", "--no-pidfile", "--api-upstream", api, "--streamlit-upstream", ui.URL)
	var msgs []string
	buf := make([]byte, 4096)
	deadline := time.Now().Add(10 * time.Second)
	stopped := false
	for time.Now().Before(deadline) {
		conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := conn.Read(buf)
		if err != nil {
			continue
		}
		msgs = append(msgs, string(buf[:n]))
		if countPrefix(msgs, "WATCHDOG=1") >= 2 && !stopped {
			p.cmd.Process.Signal(syscall.SIGTERM)
			stopped = true
		}
		if strings.Contains(string(buf[:n]), "STOPPING=1") {
			break
		}
	}
	ready := indexPrefix(msgs, "READY=1")
	if ready < 0 || countPrefix(msgs, "WATCHDOG=1") < 2 || indexPrefix(msgs, "STOPPING=1") < ready {
		t.Errorf("notify messages %q; want READY=1, then WATCHDOG=1 pings, then STOPPING=1", msgs)
	}
	if indexPrefix(msgs, "WATCHDOG=1") < ready {
		t.Errorf("WATCHDOG before READY: %q", msgs)
	}
}

func countPrefix(msgs []string, prefix string) int {
	n := 0
	for _, m := range msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

func indexPrefix(msgs []string, prefix string) int {
	for i, m := range msgs {
		if strings.HasPrefix(m, prefix) {
			return i
		}
	}
	return -1
}

func TestIntegrationDevReload(t *testing.T) {
	dir := superviseProject(t, "")
	p := launchFluxlit(t, dir, nil, "dev", "--no-pidfile")
	waitStatus(t, p.base+"/api/readyz", 200, 90*time.Second)
	before := debugChildren(t, p.base)
	appPath := filepath.Join(dir, "app.py")
	data, _ := os.ReadFile(appPath)
	os.WriteFile(appPath, append(data, []byte("\n# edited\n")...), 0o644)
	deadline := time.Now().Add(30 * time.Second)
	var after map[string]debugChild
	for time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
		after = debugChildren(t, p.base)
		if after["api"].PID != before["api"].PID && after["api"].State == "ready" {
			break
		}
	}
	if after["api"].PID == before["api"].PID {
		t.Fatalf("API child not restarted after editing app.py: %+v", after["api"])
	}
	if after["streamlit"].PID != before["streamlit"].PID {
		t.Errorf("Streamlit restarted with --reload-scope gateway: %d -> %d", before["streamlit"].PID, after["streamlit"].PID)
	}
}

func TestIntegrationDevReloadFull(t *testing.T) {
	dir := superviseProject(t, "")
	p := launchFluxlit(t, dir, nil, "dev", "--no-pidfile", "--reload-scope", "full")
	waitStatus(t, p.base+"/api/readyz", 200, 90*time.Second)
	before := debugChildren(t, p.base)
	appPath := filepath.Join(dir, "app.py")
	data, _ := os.ReadFile(appPath)
	os.WriteFile(appPath, append(data, []byte("\n# edited\n")...), 0o644)
	deadline := time.Now().Add(60 * time.Second)
	var after map[string]debugChild
	for time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
		after = debugChildren(t, p.base)
		if after["api"].PID != before["api"].PID && after["streamlit"].PID != before["streamlit"].PID &&
			after["api"].State == "ready" && after["streamlit"].State == "ready" {
			return
		}
	}
	t.Fatalf("--reload-scope full: before %+v after %+v; want both restarted", before, after)
}

func TestReloadScopeInvalidExits2(t *testing.T) {
	cmd := exec.Command(fluxlitBinary(t), "dev", "--reload-scope", "partial")
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit %v; want 2", err)
	}
	want := "fluxlit: flag --reload-scope: reload_scope: \"partial\" is not one of gateway, full\n"
	if string(out) != want {
		t.Errorf("got %q; want %q", out, want)
	}
}

// TestIntegrationExampleHello runs the shipped example as the README's demo does: fluxlit run
// in (a copy of) examples/hello, with the real Streamlit's interpreter.
func TestIntegrationExampleHello(t *testing.T) {
	requireIntegration(t, "streamlit")
	requireIntegration(t, "fastapi")
	dir := exampleHelloProject(t)
	p := launchFluxlit(t, dir, []string{"FLUXLIT_PYTHON=" + streamlitPython(t)}, "run")
	waitHTTP(t, p.base+"/api/healthz", 10*time.Second, p)
	if code := statusOf(t, p.base+"/api/readyz"); code != 503 {
		t.Errorf("readyz while the children start: %d; want 503", code)
	}
	waitStatus(t, p.base+"/api/readyz", 200, 90*time.Second)
	if _, err := os.Stat(filepath.Join(dir, ".fluxlit.pid")); err != nil {
		t.Errorf("pidfile once ready: %v", err)
	}
	res, body := httpDo(t, "GET", p.base+"/api/users", nil, nil)
	if res.StatusCode != 200 || !strings.Contains(string(body), "Linus") {
		t.Errorf("/api/users: %d %s", res.StatusCode, body)
	}
	if res, _ := httpDo(t, "GET", p.base+"/api/docs", nil, nil); res.StatusCode != 200 {
		t.Errorf("/api/docs: %d", res.StatusCode)
	}
	if seen := sessionThrough(t, p); !containsAll(seen, "Hello from fluxlit", "Ada", "Linus", "script_finished") {
		t.Errorf("the example's session: %q; want the users it fetched through the gateway", seen)
	}
}
