package main

// Integration tests of start-up failures and slow starts (issue #19): each failure ends with
// one line that names the fix (the setting, the environment variable, "fluxlit doctor"), a
// slow start says what it waits for, and a missing Streamlit script is caught before
// Streamlit runs. The real binary and interpreters.

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runToExit runs fluxlit in dir with the console format and returns its exit code and output.
func runToExit(t *testing.T, dir string, within time.Duration, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	args = append(args, "--no-pidfile", "--log-format", "text", "--port", strconv.Itoa(freePort(t)))
	cmd := exec.CommandContext(ctx, fluxlitBinary(t), args...)
	cmd.Dir = dir
	cmd.Env = cleanFluxlitEnv()
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("fluxlit %s still running after %v:\n%s", strings.Join(args, " "), within, out)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return code, string(out)
}

func finalLine(out string) string {
	out = strings.TrimRight(out, "\n")
	return out[strings.LastIndex(out, "\n")+1:]
}

// bareVenv is a virtualenv of the newest interpreter without any package: no uvicorn, no
// Streamlit.
func bareVenv(t *testing.T) string {
	t.Helper()
	venv := filepath.Join(t.TempDir(), "venv")
	if out, err := exec.Command(streamlitPython(t), "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
		t.Fatalf("python -m venv: %v\n%s", err, out)
	}
	return filepath.Join(venv, "bin", "python")
}

// TestIntegrationStartMissingScript: before #19 Streamlit started, printed its own usage
// text ("Usage: streamlit run [OPTIONS] TARGET ...") and fluxlit failed on that.
func TestIntegrationStartMissingScript(t *testing.T) {
	requireIntegration(t, "fastapi")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.py"), raisingApp)
	writeFile(t, filepath.Join(dir, "fluxlit.toml"), fmt.Sprintf("python = %q\n", streamlitPython(t)))
	code, out := runToExit(t, dir, 30*time.Second, "run")
	want := "fluxlit: streamlit_script streamlit_app.py: no such file in " + dir +
		" (create it, set streamlit_script or --streamlit-script, or set streamlit_upstream to run without one)"
	if code != 2 || finalLine(out) != want {
		t.Errorf("exit %d, last line %q; want 2, %q\n%s", code, finalLine(out), want, out)
	}
	if strings.Contains(out, "Usage:") || strings.Contains(out, "starting api") {
		t.Errorf("a child was started:\n%s", out)
	}
}

// TestStartOutsideAProject: fluxlit run or dev in a folder with no fluxlit.toml and no Python
// file (the commonest first mistake) says so and how to get out of it, not which setting
// names the missing Streamlit script. Nothing Python runs, so this needs no interpreter.
func TestStartOutsideAProject(t *testing.T) {
	dir := t.TempDir()
	for _, mode := range []string{"run", "dev"} {
		code, out := runToExit(t, dir, 30*time.Second, mode)
		want := "fluxlit: no project in " + dir + ` (no fluxlit.toml, no Python file): cd to your project, or start one with "fluxlit new myapp"`
		if code != 2 || finalLine(out) != want {
			t.Errorf("%s: exit %d, last line %q; want 2, %q\n%s", mode, code, finalLine(out), want, out)
		}
	}
}

// TestIntegrationStartFailureHints: each failed start names its fix. Before #19 a missing
// Streamlit said "exited before it was ready ... No module named streamlit" and nothing about
// python, FLUXLIT_PYTHON or doctor, and a ready timeout did not name child_ready_timeout_s.
func TestIntegrationStartFailureHints(t *testing.T) {
	requireIntegration(t, "fastapi")
	bare := bareVenv(t)
	stub := relStreamlitStub(t)
	tests := []struct {
		name, toml, mode string
		want             []string
	}{
		{"no streamlit (run)", fmt.Sprintf("python = %q\napi_upstream = %q\n", bare, stub), "run",
			[]string{"start streamlit: exited before it was ready", "No module named streamlit",
				"install streamlit into " + bare + " (pip install streamlit), or set python (FLUXLIT_PYTHON) to the interpreter that has it",
				`"fluxlit doctor" checks the interpreter, the imports and the script`}},
		{"no streamlit (dev does not wait for a change)", fmt.Sprintf("python = %q\napi_upstream = %q\n", bare, stub), "dev",
			[]string{"install streamlit into " + bare}},
		{"no uvicorn", fmt.Sprintf("python = %q\nstreamlit_upstream = %q\n", bare, stub), "run",
			[]string{"start api: ", "install uvicorn into " + bare + " (pip install uvicorn)"}},
		// The interpreter, an import that takes too long and a target that does not import
		// are found by the app model's probe (fluxlitapp.go), before any child starts.
		{"no interpreter", "python = \"/nonexistent/python3\"\n" + fmt.Sprintf("streamlit_upstream = %q\n", stub), "dev",
			[]string{"/nonexistent/python3 is not an executable file", "set python (FLUXLIT_PYTHON)", `"fluxlit doctor" checks`}},
		{"slow import", fmt.Sprintf("python = %q\nstreamlit_upstream = %q\nchild_ready_timeout_s = 1\n", streamlitPython(t), stub), "run",
			[]string{"took longer than 1s", "raise child_ready_timeout_s", `"fluxlit doctor" checks`}},
		{"slow start-up after the import", fmt.Sprintf("python = %q\nstreamlit_upstream = %q\nchild_ready_timeout_s = 2\n", streamlitPython(t), stub), "run",
			[]string{"start api: not ready after 2s", "if api is only slow to start, raise child_ready_timeout_s (now 2; FLUXLIT_CHILD_READY_TIMEOUT_S)"}},
		{"target does not import", fmt.Sprintf("python = %q\nstreamlit_upstream = %q\ntarget = \"main:app\"\n", streamlitPython(t), stub), "run",
			[]string{"cannot load main:app: ModuleNotFoundError: No module named 'main'", `"fluxlit doctor" checks`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			app := raisingApp
			switch tc.name {
			case "slow import":
				app = "import time\ntime.sleep(5)\n" + app
			case "slow start-up after the import":
				// A bare ASGI app (its import is quick, for the probe) whose start-up takes 30 s.
				app = slowLifespanApp
			}
			writeFile(t, filepath.Join(dir, "app.py"), app)
			writeFile(t, filepath.Join(dir, "streamlit_app.py"), devScript)
			writeFile(t, filepath.Join(dir, "fluxlit.toml"), tc.toml)
			code, out := runToExit(t, dir, 60*time.Second, tc.mode)
			last := finalLine(out)
			if code != 1 || !strings.HasPrefix(last, "fluxlit: ") {
				t.Fatalf("exit %d, last line %q; want 1 and the one-line error\n%s", code, last, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(last, w) {
					t.Errorf("last line %q\nlacks %q", last, w)
				}
			}
		})
	}
}

const slowLifespanApp = `import asyncio


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await asyncio.sleep(30)
        await send({"type": "lifespan.startup.complete"})
`

// TestIntegrationSlowStart: an API whose import takes 7 s says so after 5 s, both while the
// app probe imports it (before fluxlit listens) and while the child starts, and its requests
// meanwhile get 503 saying it is starting. Before #19: silence, and "restarting".
func TestIntegrationSlowStart(t *testing.T) {
	requireIntegration(t, "fastapi")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.py"), "import time\ntime.sleep(7)\n"+raisingApp)
	writeFile(t, filepath.Join(dir, "fluxlit.toml"), fmt.Sprintf("python = %q\nstreamlit_upstream = %q\n", streamlitPython(t), relStreamlitStub(t)))
	p := launchFluxlit(t, dir, nil, "run", "--no-pidfile")
	waitHTTP(t, p.base+"/api/healthz", 30*time.Second, p)
	res, body := httpDo(t, "GET", p.base+"/api/users", nil, nil)
	if res.StatusCode != 503 || !strings.Contains(string(body), "api is not running (starting); retry shortly") {
		t.Errorf("during the start: %d %s; want 503 saying it is starting", res.StatusCode, body)
	}
	waitStatus(t, p.base+"/api/readyz", 200, 60*time.Second)
	if !strings.Contains(p.log.String(), `"msg":"still importing app:app to read its settings after 5s (child_ready_timeout_s = 60)"`) ||
		!strings.Contains(p.log.String(), `"msg":"still starting api after 5s (child_ready_timeout_s = 60)"`) {
		t.Errorf("no progress line:\n%s", p.log.String())
	}
}
