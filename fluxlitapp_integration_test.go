package main

// Integration tests of the FluxLit app model (issue #18 part A): the real fluxlit binary runs
// examples/fluxlit-demo, a Python FluxLit project, with the real children from the venv that
// has Python FluxLit installed; headless Chromium renders its pages.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var fluxlitPythonCheck struct {
	once sync.Once
	err  error
}

// fluxlitPython is the harness interpreter, checked to import the Python FluxLit package (with
// its auth extra), or skips/fails the test.
func fluxlitPython(t *testing.T) string {
	t.Helper()
	skipInShortMode(t, "integration test (Python FluxLit)")
	py := streamlitPython(t)
	fluxlitPythonCheck.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, py, "-c", "import fluxlit, jwt").CombinedOutput()
		if err != nil {
			fluxlitPythonCheck.err = fmt.Errorf("%s cannot import fluxlit and jwt (fluxlit[auth]): %v: %s", py, err, bytes.TrimSpace(out))
		}
	})
	if fluxlitPythonCheck.err != nil {
		harnessUnavailable(t, "%v", fluxlitPythonCheck.err)
	}
	return py
}

// fluxlitDemoProject copies examples/fluxlit-demo into a temporary project directory.
func fluxlitDemoProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"app.py", "fluxlit.toml"} {
		data, err := os.ReadFile(filepath.Join("examples", "fluxlit-demo", name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name), string(data))
	}
	return dir
}

// fluxlitDemoSecret is the demo app's HS256 secret (the app reads FLUXLIT_JWT_HS256_SECRET).
const fluxlitDemoSecret = "demo-secret-for-tests-only-0123456789abcdef"

// fluxlitDemoToken signs a token the demo app accepts (its issuer and audience are in app.py).
func fluxlitDemoToken(t *testing.T, sub string) string {
	t.Helper()
	now := time.Now()
	payload, _ := json.Marshal(map[string]any{"iss": "fluxlit-demo", "aud": "fluxlit-demo-api", "sub": sub,
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix()})
	return jwtTestRaw(t, "HS256", []byte(fluxlitDemoSecret), `{"alg":"HS256","typ":"JWT"}`, string(payload))
}

// fluxlitCLI runs the binary with args in dir and env (added to the test's environment) and
// returns its exit code, stdout and stderr.
func fluxlitCLI(t *testing.T, dir string, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, fluxlitBinary(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("fluxlit %v: %v", args, err)
	}
	return code, stdout.String(), stderr.String()
}

// fluxlitWaitText polls the page's visible text until it contains every want, or fails.
func fluxlitWaitText(t *testing.T, p *browserPage, within time.Duration, want ...string) string {
	t.Helper()
	text, ok := pageTextHas(p, within, pageBodyText, want...)
	if !ok {
		t.Fatalf("page text after %v lacks %q:\n%.2000s", within, want, text)
	}
	return text
}

// pageBodyText is the page's visible text, as a script in it reads it.
const pageBodyText = `document.body ? document.body.innerText : ""`

// pageTextHas polls the text that expr evaluates to in the page until it holds every want,
// or within passes; it returns the last text read. A read that fails (the page is
// navigating) counts as nothing read yet.
func pageTextHas(p *browserPage, within time.Duration, expr string, want ...string) (string, bool) {
	deadline := time.Now().Add(within)
	var text string
	for {
		var got string
		if p.tryEval(expr, &got) == nil {
			text = got
			if allIn(text, want) {
				return text, true
			}
		}
		if time.Now().After(deadline) {
			return text, false
		}
		time.Sleep(browserPollInterval)
	}
}

func allIn(s string, want []string) bool {
	for _, w := range want {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

// TestIntegrationFluxLitDemo is issue #18's example Must-show: examples/fluxlit-demo, a Python
// FluxLit project, run unchanged by the binary. Its pages render data fetched through
// `client` in a real browser (also through a ?page= deep link); its public routes answer
// without a token; its protected route, checked by the app itself, is 401 without a token and
// 200 with one; /api/docs works; config lists the settings made in app.py's code. The
// dashboard renders on the oldest supported Streamlit too.
func TestIntegrationFluxLitDemo(t *testing.T) {
	py := fluxlitPython(t)
	requireIntegration(t, "chromium")
	dir := fluxlitDemoProject(t)
	env := []string{"FLUXLIT_PYTHON=" + py, "FLUXLIT_JWT_HS256_SECRET=" + fluxlitDemoSecret}
	p := launchFluxlit(t, dir, env, "run", "--no-pidfile")
	// The same project on the oldest supported Streamlit (1.36, the oldest venv).
	oldEnv := []string{"FLUXLIT_PYTHON=" + oldestStreamlitPython(t), "FLUXLIT_JWT_HS256_SECRET=" + fluxlitDemoSecret}
	old := launchFluxlit(t, fluxlitDemoProject(t), oldEnv, "run", "--no-pidfile")
	cdp := browserStartChromium(t, "")
	browserWaitReady(t, p, "")
	browserWaitReady(t, old, "")

	t.Run("api", func(t *testing.T) {
		res, body := httpDo(t, "GET", p.base+"/api/public/stats", nil, nil)
		if res.StatusCode != 200 || !strings.Contains(string(body), `"visitors":42`) {
			t.Errorf("GET /api/public/stats without a token: %d %s; want 200 with visitors 42", res.StatusCode, body)
		}
		// enable_security_headers=True in app.py's FluxlitSettings: the gateway applies it.
		if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("X-Content-Type-Options %q; want nosniff (enable_security_headers from app.py)", got)
		}
		res, body = httpDo(t, "GET", p.base+"/api/private/report", nil, nil)
		if res.StatusCode != 401 || !strings.Contains(string(body), `"detail"`) {
			t.Errorf("GET /api/private/report without a token: %d %s; want the app's own 401 {\"detail\": ...}", res.StatusCode, body)
		}
		auth := map[string]string{"Authorization": "Bearer " + fluxlitDemoToken(t, "ada")}
		res, body = httpDo(t, "GET", p.base+"/api/private/report", auth, nil)
		if res.StatusCode != 200 || !strings.Contains(string(body), `"for":"ada"`) {
			t.Errorf("GET /api/private/report with a token: %d %s; want 200 for ada", res.StatusCode, body)
		}
		res, body = httpDo(t, "GET", p.base+"/api/docs", nil, nil)
		if res.StatusCode != 200 || !strings.Contains(string(body), "/api/openapi.json") {
			t.Errorf("GET /api/docs: %d; want 200 naming /api/openapi.json:\n%.400s", res.StatusCode, body)
		}
		res, body = httpDo(t, "GET", p.base+"/api/openapi.json", nil, nil)
		if res.StatusCode != 200 || !strings.Contains(string(body), `"title":"FluxLit demo"`) || !strings.Contains(string(body), `"/private/report"`) {
			t.Errorf("GET /api/openapi.json: %d %.300s; want the app's schema titled FluxLit demo", res.StatusCode, body)
		}
	})

	t.Run("pages", func(t *testing.T) {
		page := browserOpenPage(t, cdp)
		page.navigate(p.base + "/")
		fluxlitWaitText(t, page, browserSessionTimeout, "Dashboard", "Visitors: 42, items: 2")
		page.screenshot(filepath.Join(browserArtifactDir(t), "fluxlit-demo-dashboard.png"))
		// A deep link: FluxLit's page entry reads ?page= before st.navigation.
		page.navigate(p.base + "/?page=items")
		fluxlitWaitText(t, page, browserSessionTimeout, "Items", "Ada Lovelace (1843)", "Grace Hopper (1952)")
		page.screenshot(filepath.Join(browserArtifactDir(t), "fluxlit-demo-items.png"))
		// Both pages fetched through `client`: the Streamlit child called the API via the gateway.
		for _, path := range []string{`"path":"/api/public/stats"`, `"path":"/api/items"`} {
			if !strings.Contains(p.log.String(), path) {
				t.Errorf("no access line with %s: the pages did not call the API through the gateway", path)
			}
		}
	})

	t.Run("pages-oldest-streamlit", func(t *testing.T) {
		page := browserOpenPage(t, cdp)
		page.navigate(old.base + "/")
		fluxlitWaitText(t, page, browserSessionTimeout, "Dashboard", "Visitors: 42, items: 2")
		// Not the ?page= deep link: on Streamlit 1.36 the page entry of FluxLit 0.13.2 stays
		// "Running..." on one (seen here, not investigated; it works on the newest venv).
	})

	t.Run("config", func(t *testing.T) {
		code, out, errOut := fluxlitCLI(t, dir, env, "config", "--json")
		if code != 0 {
			t.Fatalf("config --json: exit %d: %s", code, errOut)
		}
		var doc struct {
			Settings map[string]any    `json:"settings"`
			Sources  map[string]string `json:"sources"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("config --json: %v\n%s", err, out)
		}
		want := map[string]any{"jwt_issuer": "fluxlit-demo", "jwt_audience": []any{"fluxlit-demo-api"},
			"enable_security_headers": true, "gateway_upstream_read_timeout_s": 60.0, "title": "FluxLit demo",
			"streamlit_page_config": map[string]any{"layout": "wide"}}
		for name, value := range doc.Settings {
			w, ok := want[name]
			if !ok {
				if doc.Sources[name] == "app.py" {
					t.Errorf("config: %s = %v has source app.py; the demo does not set it in code", name, value)
				}
				continue
			}
			delete(want, name)
			if doc.Sources[name] != "app.py" || fmt.Sprint(value) != fmt.Sprint(w) {
				t.Errorf("config: %s = %v (%s); want %v (app.py)", name, value, doc.Sources[name], w)
			}
		}
		if len(want) > 0 {
			t.Errorf("config lacks %v", want)
		}
		code, out, _ = fluxlitCLI(t, dir, env, "config")
		if code != 0 || !strings.Contains(out, "(app.py)") {
			t.Errorf("config: exit %d; want rows with source (app.py):\n%s", code, out)
		}
	})

	t.Run("doctor", func(t *testing.T) {
		// The binary, once, as a user runs it: doctor's interpreter bound is
		// child_ready_timeout_s (issue #19), so a busy machine that still starts the demo
		// also lets doctor import it (the former fixed 5 s ran out three times in a row at
		// load 34, which this subtest once worked around).
		code, out, errOut := fluxlitCLI(t, dir, append(env, "FLUXLIT_GATEWAY_PORT=0"), "doctor")
		if code != 0 {
			t.Errorf("fluxlit doctor: exit %d; want 0 (no FAIL row)\n%s%s", code, out, errOut)
		}
		for name, want := range map[string]string{"app_model": doctorPass, "streamlit_script": doctorPass,
			"streamlit_child_secrets": doctorWarn, "jwt_edge": doctorPass, "import_target": doctorPass} {
			doctorWantRow(t, out, name, want)
		}
		if _, detail, _ := doctorRowOf(out, "streamlit_child_secrets"); !strings.Contains(detail, "FLUXLIT_JWT_HS256_SECRET") || !strings.Contains(detail, "child_env_deny") {
			t.Errorf("streamlit_child_secrets %q; want it to name FLUXLIT_JWT_HS256_SECRET and child_env_deny", detail)
		}
	})
}

// TestIntegrationFluxLitChildren checks what each child of a FluxLit project gets, from the
// children themselves: the API child serves app.api (not FluxLit's unified stack, which would
// start a second Streamlit), the Streamlit child runs FluxLit's page entry with Python
// FluxLit's flags, and both have the env contract; the Streamlit child keeps the JWT secret
// its import of app.py needs, less what child_env_deny lists.
func TestIntegrationFluxLitChildren(t *testing.T) {
	py := fluxlitPython(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.py"), `import os, sys
from fluxlit import FluxLit
app = FluxLit(title="children")
@app.api.get("/env")
def env():
    keys = ("FLUXLIT_APP", "FLUXLIT_API_PREFIX", "FLUXLIT_INTERNAL_API_BASE", "FLUXLIT_JWT_HS256_SECRET", "DEMO_DENIED")
    return {k: os.environ.get(k) for k in keys}
@app.page("/")
def home(st, client):
    st.write(client.get("/env").json())
`)
	env := []string{"FLUXLIT_PYTHON=" + py, "FLUXLIT_JWT_HS256_SECRET=" + fluxlitDemoSecret,
		"DEMO_DENIED=x", "FLUXLIT_CHILD_ENV_DENY=DEMO_DENIED", "FLUXLIT_DEBUG=1"}
	p := launchFluxlit(t, dir, env, "run", "--no-pidfile")
	browserWaitReady(t, p, "")
	res, body := httpDo(t, "GET", p.base+"/api/env", nil, nil)
	var got map[string]*string
	if res.StatusCode != 200 || json.Unmarshal(body, &got) != nil {
		t.Fatalf("GET /api/env: %d %s", res.StatusCode, body)
	}
	base := p.base + "/api"
	for k, want := range map[string]string{"FLUXLIT_APP": "app:app", "FLUXLIT_API_PREFIX": "/api", "FLUXLIT_INTERNAL_API_BASE": base} {
		if got[k] == nil || *got[k] != want {
			t.Errorf("API child %s = %v; want %q", k, got[k], want)
		}
	}
	// Debug mode's banner lists the children's command lines.
	for _, want := range []string{"-c <fluxlit API entry> app:app /api --uds", "fluxlit/streamlit/main.py --server.headless true",
		"--server.enableXsrfProtection false --server.enableCORS false"} {
		if !strings.Contains(p.log.String(), want) {
			t.Errorf("the debug banner lacks %q", want)
		}
	}
	// FluxLit's unified stack (uvicorn app:app) would start a Streamlit sidecar of its own.
	if kids := fluxlitChildrenOf(t, fluxlitChildPID(t, p.base, "api")); len(kids) > 0 {
		t.Errorf("the API child has child processes %q; want none (app.api, not FluxLit's unified stack)", kids)
	}
	// The Streamlit child's environment, read from /proc (Linux).
	pid := fluxlitChildPID(t, p.base, "streamlit")
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatalf("cannot read the Streamlit child's environment: %v", err)
	}
	senv := map[string]string{}
	for _, kv := range strings.Split(string(data), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			senv[k] = v
		}
	}
	for k, want := range map[string]string{"FLUXLIT_APP": "app:app", "FLUXLIT_API_PREFIX": "/api", "FLUXLIT_INTERNAL_API_BASE": base,
		"FLUXLIT_JWT_HS256_SECRET": fluxlitDemoSecret} {
		if senv[k] != want {
			t.Errorf("Streamlit child %s = %q; want %q", k, senv[k], want)
		}
	}
	if v, ok := senv["DEMO_DENIED"]; ok {
		t.Errorf("Streamlit child has DEMO_DENIED=%q; child_env_deny lists it", v)
	}
}

// fluxlitChildPID reads a child's pid from the debug page.
func fluxlitChildPID(t *testing.T, base, name string) int {
	t.Helper()
	res, body := httpDo(t, "GET", base+"/__fluxlit/debug", nil, nil)
	var dbg struct {
		Children []struct {
			Name string `json:"name"`
			PID  int    `json:"pid"`
		} `json:"children"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &dbg) != nil {
		t.Fatalf("debug page: %d %.300s", res.StatusCode, body)
	}
	for _, c := range dbg.Children {
		if c.Name == name && c.PID > 0 {
			return c.PID
		}
	}
	t.Fatalf("no running %s child on the debug page: %.500s", name, body)
	return 0
}

// fluxlitChildrenOf lists the command lines of pid's child processes, from /proc.
func fluxlitChildrenOf(t *testing.T, pid int) []string {
	t.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var kids []string
	for _, dir := range dirs {
		if ppid, cmd, ok := procParentAndCommand(dir); ok && ppid == pid {
			kids = append(kids, cmd)
		}
	}
	return kids
}

// TestIntegrationFluxLitScaffold: "fluxlit new NAME --fluxlit" writes a FluxLit project that
// the binary runs as one: the API answers, and Streamlit (FluxLit's page entry) gets ready.
func TestIntegrationFluxLitScaffold(t *testing.T) {
	py := fluxlitPython(t)
	dir := t.TempDir()
	if code, out, errOut := fluxlitCLI(t, dir, nil, "new", "flapp", "--fluxlit"); code != 0 {
		t.Fatalf("new flapp --fluxlit: exit %d: %s%s", code, out, errOut)
	}
	p := launchFluxlit(t, filepath.Join(dir, "flapp"), []string{"FLUXLIT_PYTHON=" + py}, "run", "--no-pidfile")
	browserWaitReady(t, p, "")
	res, body := httpDo(t, "GET", p.base+"/api/users", nil, nil)
	if res.StatusCode != 200 || !strings.Contains(string(body), `"Ada"`) {
		t.Errorf("GET /api/users: %d %s; want the scaffold's users", res.StatusCode, body)
	}
	if !strings.Contains(p.log.String(), `"app":"FluxLit `) {
		t.Errorf("the start-up log does not name a FluxLit app")
	}
}

// TestIntegrationFluxLitStartErrors: what `fluxlit run` says, before any child starts, when the
// app model cannot be decided, and when a plain project's JWT key would silently stop being
// checked at the edge. Each is one line and an exit code.
func TestIntegrationFluxLitStartErrors(t *testing.T) {
	py := fluxlitPython(t)
	plainPy, err := exec.LookPath("python3")
	if err != nil {
		skipTest(t, "no python3 on PATH")
	}
	tests := []struct {
		name     string
		app      string
		env      []string
		wantCode int
		want     string
	}{
		{name: "import error", app: "import nosuchmodule\n", env: []string{"FLUXLIT_PYTHON=" + py}, wantCode: 1,
			want: "fluxlit: cannot load app:app: ModuleNotFoundError: No module named 'nosuchmodule'; run " + py + " -c 'import app' in "},
		{name: "package missing", app: "from fluxlit import FluxLit\napp = FluxLit()\n", env: []string{"FLUXLIT_PYTHON=" + plainPy}, wantCode: 1,
			want: "fluxlit: app.py imports the Python package fluxlit, which " + plainPy + " cannot import; install it into that interpreter (pip install fluxlit)"},
		{name: "plain project, key without jwt_protect", app: "async def app(scope, receive, send):\n    pass\n",
			env: []string{"FLUXLIT_PYTHON=" + py, "FLUXLIT_JWT_HS256_SECRET=" + fluxlitDemoSecret}, wantCode: 2,
			want: `fluxlit: env FLUXLIT_JWT_HS256_SECRET: jwt_hs256_secret: set without jwt_protect, and edge JWT is on only where jwt_protect says: set jwt_protect = ["/*"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "app.py"), tt.app)
			writeFile(t, filepath.Join(dir, "streamlit_app.py"), "import streamlit as st\n")
			// The console format ends with a "fluxlit: " line (JSON, the default on a pipe, with
			// an ERROR record).
			code, out, errOut := fluxlitCLI(t, dir, tt.env, "run", "--no-pidfile", "--port", "0", "--log-format", "text")
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if code != tt.wantCode || !strings.HasPrefix(lines[len(lines)-1], tt.want) {
				t.Errorf("run: exit %d, last line %q; want %d and %q\n%s%s", code, lines[len(lines)-1], tt.wantCode, tt.want, out, errOut)
			}
			if strings.Contains(errOut, "child state") {
				t.Errorf("a child was started:\n%s", errOut)
			}
		})
	}
}
