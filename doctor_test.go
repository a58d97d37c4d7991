// doctor_test.go tests "fluxlit doctor" against real situations: a held port, real files, a
// module that raises, the real Streamlit (newest and oldest venvs), an unreachable upstream, a stale pidfile, and
// the built binary with an empty PATH. Outputs are compared with testdata/doctor/*.golden
// (volatile paths, ports, pids and versions masked); go test -run Doctor -update rewrites them.

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// doctorUpdateFlag is registered only when no other test file registered -update first.
var doctorUpdateFlag = func() bool {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files under testdata/")
	}
	return true
}()

func doctorUpdate() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// doctorTestPythonTimeout is the in-process tests' interpreter bound (the product's is
// child_ready_timeout_s, 60 s by default): importing streamlit on a machine busy with parallel
// -race tests has taken 20 s. The bound itself is tested with a module that sleeps on import,
// and TestIntegrationDoctorSlowImport runs the binary with its own.
const doctorTestPythonTimeout = 90 * time.Second

// doctorRequire skips a test whose prerequisite is missing, or fails it when CI requires
// integration tests (FLUXLIT_REQUIRE_INTEGRATION=1).
func doctorRequire(t *testing.T, what string) {
	t.Helper()
	skipTest(t, "prerequisite missing: %s", what)
}

// doctorTestPython returns the newest venv's interpreter (Streamlit, fastapi and uvicorn).
func doctorTestPython(t *testing.T) string {
	t.Helper()
	p, err := harnessCheckPython(harnessPythonPath())
	if err != nil {
		doctorRequire(t, err.Error())
	}
	return p
}

// doctorUpstream is a real loopback listener that accepts and closes connections: enough for
// the reachability rows. It returns its URL.
func doctorUpstream(t *testing.T) string { return closingUpstream(t) }

// doctorDeadPid returns the pid of a process that has exited: the test binary run for nothing.
func doctorDeadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatalf("run %s: %v", os.Args[0], err)
	}
	return cmd.Process.Pid
}

// doctorProject makes a project directory with files (name -> content).
func doctorProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		writeFile(t, filepath.Join(dir, name), content)
	}
	return dir
}

// doctorCase is one doctor run: project files, environment and arguments in; exit code and
// output out.
type doctorCase struct {
	dir     string
	env     []string
	args    []string
	timeout time.Duration
}

func (c doctorCase) run(t *testing.T) (int, string) {
	t.Helper()
	in, opts, err := doctorParseArgs(c.args, io.Discard)
	if err != nil {
		t.Fatalf("doctorParseArgs(%q): %v", c.args, err)
	}
	in.Env, in.WorkDir = c.env, c.dir
	timeout := c.timeout
	if timeout == 0 {
		timeout = doctorTestPythonTimeout
	}
	var out bytes.Buffer
	code := doctorMain(in, opts, doctorDeps{PythonTimeout: timeout, DialTimeout: time.Second}, &out)
	return code, out.String()
}

// doctorExternalEnv is a deployment where no child runs Python: both upstreams are real
// listeners, the gateway port is free, and PATH is empty.
func doctorExternalEnv(t *testing.T) []string {
	return []string{"PATH=", "FLUXLIT_API_UPSTREAM=" + doctorUpstream(t),
		"FLUXLIT_STREAMLIT_UPSTREAM=" + doctorUpstream(t), "FLUXLIT_GATEWAY_PORT=" + strconv.Itoa(freePort(t))}
}

var (
	doctorMaskPort    = regexp.MustCompile(`(127\.0\.0\.1|localhost|\[::1\]):\d+`)
	doctorMaskPid     = regexp.MustCompile(`pid \d+`)
	doctorMaskVersion = regexp.MustCompile(`(Python|Streamlit|python_version:) \d+\.\d+\.\d+[0-9A-Za-z.+-]*`)
	doctorMaskSysPath = regexp.MustCompile(`(sys_path_head: )[^\n]*`) // the interpreter's own entries differ between machines
)

// doctorMask replaces what changes between machines and runs.
func doctorMask(out string, dir string, python string) string {
	out = strings.ReplaceAll(out, dir, "$PROJECT")
	if python != "" {
		out = strings.ReplaceAll(out, python, "$PYTHON")
	}
	out = doctorMaskPort.ReplaceAllString(out, "$1:$$PORT")
	out = doctorMaskPid.ReplaceAllString(out, "pid $$PID")
	out = doctorMaskSysPath.ReplaceAllString(out, "$1$$PROJECT, …")
	return doctorMaskVersion.ReplaceAllString(out, "$1 $$VERSION")
}

// doctorGolden compares got with testdata/doctor/name.golden, or rewrites it with -update.
func doctorGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "doctor", name+".golden")
	if doctorUpdate() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test -run %s -update): %v", t.Name(), err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// doctorRowOf finds a row in text output: "STATUS  name: detail".
func doctorRowOf(out, name string) (status, detail string, ok bool) {
	for _, line := range strings.Split(out, "\n") {
		if len(line) < 6 {
			continue
		}
		rest := strings.TrimSpace(line[6:])
		if n, d, found := strings.Cut(rest, ":"); found && n == name {
			return line[:4], strings.TrimSpace(d), true
		}
	}
	return "", "", false
}

func doctorWantRow(t *testing.T, out, name, want string) {
	t.Helper()
	got, detail, ok := doctorRowOf(out, name)
	if !ok {
		t.Fatalf("no %s row in:\n%s", name, out)
	}
	if got != want {
		t.Errorf("%s: got %v (%s); want %v", name, got, detail, want)
	}
}

// TestDoctorHealthy: a real FastAPI app run by fluxlit, Streamlit external and reachable.
func TestDoctorHealthy(t *testing.T) {
	t.Parallel()
	python := doctorTestPython(t)
	dir := doctorProject(t, map[string]string{
		"app.py": "from fastapi import FastAPI\napp = FastAPI()\n",
	})
	env := []string{"PATH=/usr/bin:/bin", "FLUXLIT_PYTHON=" + python, "FLUXLIT_STREAMLIT_UPSTREAM=" + doctorUpstream(t),
		"FLUXLIT_GATEWAY_PORT=" + strconv.Itoa(freePort(t))}

	code, out := doctorCase{dir: dir, env: env}.run(t)
	if code != 0 {
		t.Errorf("exit: got %v; want 0\n%s", code, out)
	}
	for _, bad := range []string{"WARN  ", "FAIL  "} {
		if strings.Contains(out, bad) {
			t.Errorf("healthy project has a %q row:\n%s", bad, out)
		}
	}
	doctorWantRow(t, out, "import_target", doctorPass)
	doctorWantRow(t, out, "import_module_file", doctorPass)
	doctorWantRow(t, out, "dependencies", doctorPass)
	doctorGolden(t, "healthy", doctorMask(out, dir, python))

	code, out = doctorCase{dir: dir, env: env, args: []string{"--json"}}.run(t)
	if code != 0 {
		t.Errorf("--json exit: got %v; want 0", code)
	}
	var rep doctorReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output is not one JSON object: %v\n%s", err, out)
	}
	if rep.Status != "pass" || rep.Target != "app:app" || rep.WarningsOnly || len(rep.Checks) < 20 {
		t.Errorf("got status=%v target=%v warnings_only=%v checks=%d; want pass app:app false >=20", rep.Status, rep.Target, rep.WarningsOnly, len(rep.Checks))
	}
	if strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Errorf("--json printed more than one line:\n%s", out)
	}
	doctorGolden(t, "healthy_json", doctorMask(out, dir, python))
}

// TestDoctorRows: one real situation per WARN and FAIL condition of the rows that need no
// Python (no child runs Python: both upstreams are real listeners, PATH is empty).
func TestDoctorRows(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { held.Close() })
	heldPort := strconv.Itoa(held.Addr().(*net.TCPAddr).Port)
	closedPort := strconv.Itoa(freePort(t))

	tests := []struct {
		name     string
		env      []string
		files    map[string]string
		pidfile  func(t *testing.T) string // content of .fluxlit.pid
		args     []string
		row      string
		want     string
		wantCode int
	}{
		{name: "external_ok", row: "python_version", want: doctorSkip},
		{name: "gateway_bind_fail", env: []string{"FLUXLIT_GATEWAY_PORT=" + heldPort}, row: "gateway_bind", want: doctorFail, wantCode: 1},
		{name: "unknown_env_warn", env: []string{"FLUXLIT_GATWAY_PORT=9000"}, row: "unknown_env", want: doctorWarn},
		{name: "config_file_fail_env", env: []string{"FLUXLIT_GATEWAY_PORT=80a", "FLUXLIT_JWT_ISSUER=https://id.example.com"}, row: "config_file", want: doctorFail, wantCode: 1},
		{name: "config_file_warn", env: []string{"FLUXLIT_DEBUG=1", "FLUXLIT_API_MOUNT_PATH=/__fluxlit"}, row: "config_file", want: doctorWarn},
		{name: "internal_api_base_warn", env: []string{"FLUXLIT_INTERNAL_API_BASE=http://127.0.0.1:8000/other"}, row: "FLUXLIT_INTERNAL_API_BASE", want: doctorWarn},
		{name: "internal_api_base_fail", env: []string{"FLUXLIT_INTERNAL_API_BASE=/api"}, row: "FLUXLIT_INTERNAL_API_BASE", want: doctorFail, wantCode: 1},
		{name: "jwt_clock_skew_warn", env: []string{"FLUXLIT_JWT_ISSUER=https://id.example.com"}, row: "jwt_clock_skew", want: doctorWarn},
		{name: "public_base_url_precedence_warn", env: []string{"FLUXLIT_PUBLIC_BASE_URL=https://a.example.com", "PUBLIC_BASE_URL=https://b.example.com"}, row: "public_base_url_precedence", want: doctorWarn},
		{name: "public_base_url_precedence_fail", env: []string{"FLUXLIT_PUBLIC_BASE_URL=https://a.example.com", "PUBLIC_BASE_URL=https://b.example.com", "FLUXLIT_STRICT_PUBLIC_BASE_URL=1"}, row: "public_base_url_precedence", want: doctorFail, wantCode: 1},
		{name: "oauth_public_base_url_warn", env: []string{"FLUXLIT_ROOT_PATH=/apps/demo"}, row: "oauth_public_base_url", want: doctorWarn},
		{name: "proxy_headers_warn", env: []string{"FLUXLIT_ROOT_PATH=/apps/demo", "FLUXLIT_PUBLIC_BASE_URL=https://h.example.com/apps/demo"}, row: "proxy_headers", want: doctorWarn},
		{name: "forwarded_allow_ips_warn", env: []string{"FLUXLIT_TRUST_PROXY=1", "FLUXLIT_GATEWAY_MAX_PROXY_REQUEST_BODY_BYTES=1048576"}, row: "forwarded_allow_ips", want: doctorWarn},
		{name: "forwarded_allow_ips_star", env: []string{"FLUXLIT_TRUST_PROXY=1", "FLUXLIT_FORWARDED_ALLOW_IPS=*"}, row: "forwarded_allow_ips", want: doctorWarn},
		{name: "gateway_max_proxy_body_warn", env: []string{"FLUXLIT_TRUST_PROXY=1", "FLUXLIT_FORWARDED_ALLOW_IPS=10.0.0.0/8"}, row: "gateway_max_proxy_body", want: doctorWarn},
		{name: "public_base_url_warn", env: []string{"FLUXLIT_ROOT_PATH=/apps/demo", "FLUXLIT_TRUST_PROXY=1", "FLUXLIT_FORWARDED_ALLOW_IPS=10.0.0.1", "FLUXLIT_PUBLIC_BASE_URL=https://h.example.com/other"}, row: "public_base_url", want: doctorWarn},
		{name: "gateway_upstream_timeouts_warn", env: []string{"FLUXLIT_GATEWAY_UPSTREAM_READ_TIMEOUT_S=2"}, row: "gateway_upstream_timeouts", want: doctorWarn},
		{name: "gateway_forward_rejected_names_warn", env: []string{"FLUXLIT_GATEWAY_FORWARD_CLIENT_HEADERS_TO_STREAMLIT=cookie,X-Tenant"}, row: "gateway_forward_rejected_names", want: doctorWarn},
		{name: "api_upstream_warn", env: []string{"FLUXLIT_API_UPSTREAM=http://127.0.0.1:" + closedPort}, row: "api_upstream", want: doctorWarn},
		{name: "streamlit_upstream_warn", env: []string{"FLUXLIT_STREAMLIT_UPSTREAM=http://127.0.0.1:" + closedPort}, row: "streamlit_upstream", want: doctorWarn},
		{name: "security_headers_warn", env: []string{"FLUXLIT_CORS_ALLOW_ORIGINS=https://web.example.com"}, row: "security_headers", want: doctorWarn},
		{name: "security_headers_hsts_untrusted", env: []string{"FLUXLIT_ENABLE_SECURITY_HEADERS=1"}, row: "security_headers", want: doctorPass},
		{name: "debug_exposure_warn", env: []string{"FLUXLIT_DEBUG=1", "FLUXLIT_GATEWAY_HOST=0.0.0.0"}, row: "debug_exposure", want: doctorWarn},
		{name: "pidfile_stale_warn", pidfile: func(t *testing.T) string { return strconv.Itoa(doctorDeadPid(t)) + "\n" }, row: "pidfile", want: doctorWarn},
		{name: "pidfile_live_warn", pidfile: func(t *testing.T) string { return strconv.Itoa(os.Getpid()) + "\n" }, row: "pidfile", want: doctorWarn},
		{name: "pidfile_invalid_warn", pidfile: func(t *testing.T) string { return "not a pid\n" }, row: "pidfile", want: doctorWarn},
		// The API runs as api_command: the executable is looked up on PATH (empty here).
		{name: "api_command_fail", env: []string{"FLUXLIT_API_UPSTREAM=", "FLUXLIT_API_COMMAND=my-api-server,--port,{port}"}, row: "api_command", want: doctorFail, wantCode: 1},
		{name: "streamlit_command_fail", env: []string{"FLUXLIT_STREAMLIT_UPSTREAM=", "FLUXLIT_STREAMLIT_COMMAND=./bin/ui,{port}"}, row: "streamlit_command", want: doctorFail, wantCode: 1},
		// Streamlit is run by fluxlit with python3, which an empty PATH does not have.
		{name: "python_fail", env: []string{"FLUXLIT_STREAMLIT_UPSTREAM="}, row: "python_version", want: doctorFail, wantCode: 1},
		{name: "streamlit_script_fail", env: []string{"FLUXLIT_STREAMLIT_UPSTREAM="}, row: "streamlit_script", want: doctorFail, wantCode: 1},
		// Exit codes: --warnings-only never fails; --strict fails a strict-listed WARN only.
		{name: "warnings_only", env: []string{"FLUXLIT_GATEWAY_PORT=" + heldPort}, args: []string{"--warnings-only"}, row: "gateway_bind", want: doctorFail, wantCode: 0},
		{name: "strict_listed", env: []string{"FLUXLIT_ROOT_PATH=/apps/demo", "FLUXLIT_PUBLIC_BASE_URL=https://h.example.com/apps/demo"}, args: []string{"--strict"}, row: "proxy_headers", want: doctorFail, wantCode: 1},
		{name: "strict_unlisted", env: []string{"FLUXLIT_JWT_ISSUER=https://id.example.com"}, args: []string{"--strict"}, row: "jwt_clock_skew", want: doctorWarn, wantCode: 0},
		// --build (a container build's check): the rows about this machine are SKIP, so a port
		// the build host holds, a live pidfile or an unreachable upstream cannot fail or warn;
		// a configuration that does not load still fails (exit 1), unless --warnings-only.
		{name: "build_gateway_bind", env: []string{"FLUXLIT_GATEWAY_PORT=" + heldPort}, args: []string{"--build"}, row: "gateway_bind", want: doctorSkip, wantCode: 0},
		{name: "build_pidfile", pidfile: func(t *testing.T) string { return strconv.Itoa(os.Getpid()) + "\n" }, args: []string{"--build"}, row: "pidfile", want: doctorSkip},
		{name: "build_no_pidfile", env: []string{"FLUXLIT_NO_PIDFILE=1"}, args: []string{"--build"}, row: "pidfile", want: doctorPass},
		{name: "build_api_upstream", env: []string{"FLUXLIT_API_UPSTREAM=http://127.0.0.1:" + closedPort}, args: []string{"--build"}, row: "api_upstream", want: doctorSkip},
		{name: "build_config_file_fail", files: map[string]string{"fluxlit.toml": "strict_config = true\ngateway_prot = 8000\n"}, args: []string{"--build"}, row: "config_file", want: doctorFail, wantCode: 1},
		{name: "build_python_fail", env: []string{"FLUXLIT_STREAMLIT_UPSTREAM="}, args: []string{"--build"}, row: "python_version", want: doctorFail, wantCode: 1},
		{name: "build_warnings_only", files: map[string]string{"fluxlit.toml": "strict_config = true\ngateway_prot = 8000\n"}, args: []string{"--build", "--warnings-only"}, row: "config_file", want: doctorFail, wantCode: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := doctorProject(t, tt.files)
			if tt.pidfile != nil {
				writeFile(t, filepath.Join(dir, ".fluxlit.pid"), tt.pidfile(t))
			}
			env := append(doctorExternalEnv(t), tt.env...) // later entries win in envMap
			code, out := doctorCase{dir: dir, env: env, args: tt.args}.run(t)
			if code != tt.wantCode {
				t.Errorf("exit: got %v; want %v\n%s", code, tt.wantCode, out)
			}
			doctorWantRow(t, out, tt.row, tt.want)
			doctorGolden(t, "row_"+tt.name, doctorMask(out, dir, ""))
		})
	}
}

// TestDoctorPythonRows: the rows that need the real interpreter, in real projects.
func TestDoctorPythonRows(t *testing.T) {
	python := doctorTestPython(t)
	tests := []struct {
		name     string
		files    map[string]string
		env      []string
		timeout  time.Duration
		python   string // interpreter when not the newest venv's
		row      string
		want     string
		detail   string // in the row's detail, when set
		wantCode int
	}{
		{name: "import_shadowing_warn", files: map[string]string{
			"app.py": "from fastapi import FastAPI\napp = FastAPI()\n", "app/__init__.py": "from fastapi import FastAPI\napp = FastAPI()\n",
		}, row: "import_shadowing", want: doctorWarn},
		{name: "import_shadowing_dependency_warn", files: map[string]string{
			"app.py": "async def app(scope, receive, send):\n    pass\n", "fastapi.py": "HELPERS = 'mine, not the real fastapi'\n",
		}, row: "import_shadowing", want: doctorWarn},
		{name: "import_target_fail", files: map[string]string{
			"app.py": "print('side effect on stdout')\nraise RuntimeError('database URL is not set')\n",
		}, row: "import_target", want: doctorFail, wantCode: 1},
		{name: "import_target_attr_fail", files: map[string]string{
			"app.py": "from fastapi import FastAPI\napi = FastAPI()\n",
		}, row: "import_target", want: doctorFail, wantCode: 1},
		// Streamlit run by fluxlit; the API is external. The newest venv's Streamlit passes, the
		// oldest venv's (1.36.0, the floor) too; below the floor is a WARN naming the version.
		// No Streamlit below 1.36 is installed (a third venv for one row): a stub package first
		// on PYTHONPATH stands in, since the row reads only streamlit.__version__.
		{name: "streamlit_version_pass", files: map[string]string{"streamlit_app.py": "import streamlit as st\nst.write('hi')\n"},
			env: []string{"FLUXLIT_STREAMLIT_UPSTREAM=", "FLUXLIT_API_UPSTREAM=" + doctorUpstream(t)}, row: "streamlit_version", want: doctorPass},
		{name: "streamlit_version_pass_oldest", files: map[string]string{"streamlit_app.py": "import streamlit as st\nst.write('hi')\n"},
			python: oldestStreamlitPython(t),
			env:    []string{"FLUXLIT_STREAMLIT_UPSTREAM=", "FLUXLIT_API_UPSTREAM=" + doctorUpstream(t)}, row: "streamlit_version", want: doctorPass, detail: "1.36.0"},
		{name: "streamlit_version_warn", files: map[string]string{"streamlit_app.py": "import streamlit as st\nst.write('hi')\n"},
			env: []string{"FLUXLIT_STREAMLIT_UPSTREAM=", "FLUXLIT_API_UPSTREAM=" + doctorUpstream(t), "PYTHONPATH=" + doctorOldStreamlit(t, "1.35.2")},
			row: "streamlit_version", want: doctorWarn, detail: "Streamlit 1.35.2 is older than 1.36"},
		// A module that blocks on import: the probe's timeout makes python a FAIL, not a hang.
		{name: "python_timeout_fail", files: map[string]string{"app.py": "import time\ntime.sleep(60)\n"},
			timeout: 2 * time.Second, row: "python_version", want: doctorFail, wantCode: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := doctorProject(t, tt.files)
			python := python
			if tt.python != "" {
				python = tt.python
			}
			env := append([]string{"PATH=/usr/bin:/bin", "FLUXLIT_PYTHON=" + python, "FLUXLIT_STREAMLIT_UPSTREAM=" + doctorUpstream(t),
				"FLUXLIT_GATEWAY_PORT=" + strconv.Itoa(freePort(t))}, tt.env...)
			start := time.Now()
			code, out := doctorCase{dir: dir, env: env, timeout: tt.timeout}.run(t)
			if tt.timeout > 0 && time.Since(start) > tt.timeout+10*time.Second {
				t.Errorf("doctor took %v with a %v interpreter timeout", time.Since(start), tt.timeout)
			}
			if code != tt.wantCode {
				t.Errorf("exit: got %v; want %v\n%s", code, tt.wantCode, out)
			}
			doctorWantRow(t, out, tt.row, tt.want)
			if tt.detail != "" && !doctorRowHas(out, tt.row, tt.detail) {
				t.Errorf("%s row: want %q in its detail\n%s", tt.row, tt.detail, out)
			}
			doctorGolden(t, "py_"+tt.name, doctorMask(out, dir, python))
		})
	}
}

// doctorOldStreamlit writes a stub streamlit package claiming version and returns the
// directory to put on PYTHONPATH (outside the project, so import_shadowing stays PASS).
func doctorOldStreamlit(t *testing.T, version string) string {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "streamlit", "__init__.py"), "# stub: only the version doctor reads\n__version__ = \""+version+"\"\n")
	return dir
}

// doctorRowHas reports whether the row named name has sub in its line.
func doctorRowHas(out, name, sub string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.TrimSuffix(f[1], ":") == name && strings.Contains(line, sub) {
			return true
		}
	}
	return false
}

// TestDoctorDependenciesFail: an interpreter without Streamlit (a fresh virtualenv made from
// the test interpreter, so that nothing but the standard library is importable) fails the
// dependencies row.
func TestDoctorDependenciesFail(t *testing.T) {
	t.Parallel()
	venv := filepath.Join(t.TempDir(), "venv")
	ctx, cancel := context.WithTimeout(context.Background(), doctorTestPythonTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, doctorTestPython(t), "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
		t.Fatalf("python -m venv: %v\n%s", err, out)
	}
	python := filepath.Join(venv, "bin", "python")
	dir := doctorProject(t, map[string]string{"streamlit_app.py": "import streamlit as st\n"})
	env := []string{"PATH=/usr/bin:/bin", "FLUXLIT_PYTHON=" + python, "FLUXLIT_API_UPSTREAM=" + doctorUpstream(t),
		"FLUXLIT_GATEWAY_PORT=" + strconv.Itoa(freePort(t))}
	code, out := doctorCase{dir: dir, env: env}.run(t)
	if code != 1 {
		t.Errorf("exit: got %v; want 1\n%s", code, out)
	}
	doctorWantRow(t, out, "dependencies", doctorFail)
	doctorWantRow(t, out, "streamlit_version", doctorWarn)
	doctorWantRow(t, out, "import_target", doctorSkip)
}

// TestDoctorConfigFileTOML: a fluxlit.toml that does not parse is a FAIL row with its
// line:column, and doctor exits 1, not 2. Needs the TOML reader (toml.go).
func TestDoctorConfigFileTOML(t *testing.T) {
	t.Parallel()
	dir := doctorProject(t, map[string]string{"fluxlit.toml": "gateway_host = \"127.0.0.1\"\ngateway_port = 80 80\n"})
	code, out := doctorCase{dir: dir, env: doctorExternalEnv(t)[:1]}.run(t)
	if code != 1 {
		t.Errorf("exit: got %v; want 1\n%s", code, out)
	}
	_, detail, _ := doctorRowOf(out, "config_file")
	if !strings.HasPrefix(detail, "fluxlit.toml:2:") {
		t.Errorf("config_file detail: got %q; want the fluxlit.toml:2:COL position", detail)
	}
	doctorWantRow(t, out, "config_file", doctorFail)
	doctorWantRow(t, out, "unknown_env", doctorPass)
}

// TestDoctorBinaryScratch: the built binary alone, PATH empty, both upstreams external (a
// FROM scratch container): nothing needs Python, so the Python rows are SKIP, never FAIL.
func TestDoctorBinaryScratch(t *testing.T) {
	bin := fluxlitBinary(t)
	dir := doctorProject(t, nil)
	env := doctorExternalEnv(t)
	run := func(args ...string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"doctor"}, args...)...)
		cmd.Dir, cmd.Env = dir, env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), out.String()
		} else if err != nil {
			t.Fatalf("run %s: %v", bin, err)
		}
		return 0, out.String()
	}
	code, out := run("--warnings-only")
	if code != 0 {
		t.Errorf("doctor --warnings-only: exit got %v; want 0\n%s", code, out)
	}
	code, out = run("--json")
	if code != 0 {
		t.Errorf("doctor --json: exit got %v; want 0\n%s", code, out)
	}
	var rep doctorReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	want := map[string]string{"python_version": doctorSkip, "import_shadowing": doctorSkip, "import_target": doctorSkip,
		"import_module_file": doctorSkip, "dependencies": doctorSkip, "streamlit_version": doctorSkip,
		"streamlit_script": doctorSkip, "api_upstream": doctorPass, "streamlit_upstream": doctorPass}
	for _, c := range rep.Checks {
		if w, ok := want[c.Name]; ok {
			if c.Status != w {
				t.Errorf("%s: got %v (%s); want %v", c.Name, c.Status, c.Detail, w)
			}
			delete(want, c.Name)
		}
		if c.Status == doctorFail {
			t.Errorf("%s FAILs in a scratch container: %s", c.Name, c.Detail)
		}
	}
	if len(want) > 0 {
		t.Errorf("rows missing from --json: %v", want)
	}
}

func TestDoctorUsageError(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "unknown flag", args: []string{"--nope"}, want: "fluxlit: fluxlit doctor: unknown flag --nope (\"fluxlit help doctor\" lists its flags)\n"},
		{name: "three arguments", args: []string{"a:app", "b.py", "c"}, want: "fluxlit: fluxlit doctor: unexpected argument \"c\" (the arguments are TARGET and SCRIPT)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := doctorCommand(tt.args, &stdout, &stderr)
			if code != 2 || stderr.String() != tt.want || stdout.Len() != 0 {
				t.Errorf("got %v %q %q; want 2 %q \"\"", code, stderr.String(), stdout.String(), tt.want)
			}
		})
	}
}

// TestDoctorVerboseRedacts: --verbose shows the effective configuration without secrets.
func TestDoctorVerboseRedacts(t *testing.T) {
	t.Parallel()
	dir := doctorProject(t, nil)
	env := append(doctorExternalEnv(t), "FLUXLIT_JWT_HS256_SECRET=hs-secret-value-1234", "FLUXLIT_OIDC_BFF_SECRET=bff-secret-value-5678",
		"FLUXLIT_JWT_PROTECT=") // the API checks its own tokens (appEdgeJWT)
	for _, args := range [][]string{{"--verbose"}, {"--verbose", "--json"}} {
		code, out := doctorCase{dir: dir, env: env, args: args}.run(t)
		if code != 0 {
			t.Errorf("%v: exit got %v; want 0\n%s", args, code, out)
		}
		for _, secret := range []string{"hs-secret-value-1234", "bff-secret-value-5678"} {
			if strings.Contains(out, secret) {
				t.Errorf("%v prints the secret %q:\n%s", args, secret, out)
			}
		}
		if !strings.Contains(out, "[REDACTED]") || !strings.Contains(out, "gateway_port") {
			t.Errorf("%v: no redacted effective configuration in:\n%s", args, out)
		}
	}
}

func TestDoctorColor(t *testing.T) {
	tests := []struct {
		name     string
		terminal bool
		env      map[string]string
		want     bool
	}{
		{name: "terminal", terminal: true, want: true},
		{name: "pipe", terminal: false, want: false},
		{name: "NO_COLOR", terminal: true, env: map[string]string{"NO_COLOR": "1"}, want: false},
		{name: "empty NO_COLOR", terminal: true, env: map[string]string{"NO_COLOR": ""}, want: true},
	}
	for _, tt := range tests {
		if got := doctorUseColor(tt.terminal, tt.env); got != tt.want {
			t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
		}
	}
	rows := []doctorRow{{Name: "a", Status: doctorPass, Detail: "ok"}, {Name: "bb", Status: doctorFail, Detail: "bad; fix it"}}
	var plain, color bytes.Buffer
	doctorWriteText(&plain, rows, nil, nil, doctorOptions{})
	doctorWriteText(&color, rows, nil, nil, doctorOptions{Color: true})
	// Python FluxLit's layout: its header, f"{status:4}  {name}: {detail}" (no name column).
	wantPlain := "FluxLit doctor\n\nPASS  a: ok\nFAIL  bb: bad; fix it\n\n1 passed, 0 warnings, 1 failed\n"
	if plain.String() != wantPlain {
		t.Errorf("plain: got %q; want %q", plain.String(), wantPlain)
	}
	if !strings.Contains(color.String(), "\x1b[31mFAIL\x1b[0m  bb: bad") {
		t.Errorf("colour: got %q; want a red FAIL", color.String())
	}
}

func TestDoctorSummaryAndOverall(t *testing.T) {
	row := func(s string) doctorRow { return doctorRow{Name: "x", Status: s} }
	tests := []struct {
		name         string
		in           []doctorRow
		warningsOnly bool
		wantSummary  string
		wantOverall  string
	}{
		{name: "pass", in: []doctorRow{row(doctorPass)}, wantSummary: "1 passed, 0 warnings, 0 failed", wantOverall: "pass"},
		{name: "warn", in: []doctorRow{row(doctorPass), row(doctorWarn), row(doctorSkip)}, wantSummary: "1 passed, 1 warning, 0 failed, 1 skipped", wantOverall: "warn"},
		{name: "fail", in: []doctorRow{row(doctorFail), row(doctorWarn), row(doctorWarn)}, wantSummary: "0 passed, 2 warnings, 1 failed", wantOverall: "fail"},
		{name: "fail warnings-only", in: []doctorRow{row(doctorFail)}, warningsOnly: true, wantSummary: "0 passed, 0 warnings, 1 failed", wantOverall: "warn"},
	}
	for _, tt := range tests {
		if got := doctorSummary(tt.in); got != tt.wantSummary {
			t.Errorf("%s summary: got %v; want %v", tt.name, got, tt.wantSummary)
		}
		if got := doctorOverall(tt.in, tt.warningsOnly); got != tt.wantOverall {
			t.Errorf("%s overall: got %v; want %v", tt.name, got, tt.wantOverall)
		}
	}
}

// TestDoctorDetailsSayWhatToDo: every WARN and FAIL detail in the goldens carries an advice
// clause after "; " (the one-sentence fix), so a new row cannot forget it.
func TestDoctorDetailsSayWhatToDo(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "doctor", "*.golden"))
	if len(files) == 0 {
		t.Fatal("no goldens under testdata/doctor (run go test -run Doctor -update)")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if (strings.HasPrefix(line, "WARN  ") || strings.HasPrefix(line, "FAIL  ")) && !strings.Contains(line, "; ") {
				t.Errorf("%s: %q gives no advice", filepath.Base(f), line)
			}
		}
	}
}

func TestDoctorParseVersion(t *testing.T) {
	tests := []struct {
		in           string
		major, minor int
		wantErr      bool
	}{
		{in: "1.31.0", major: 1, minor: 31},
		{in: "1.40", major: 1, minor: 40},
		{in: "1.41rc1", major: 1, minor: 41},
		{in: " 2.0.1 ", major: 2, minor: 0},
		{in: "1", wantErr: true},
		{in: "", wantErr: true},
		{in: "x.1", wantErr: true},
		{in: "1.x", wantErr: true},
	}
	for _, tt := range tests {
		major, minor, err := doctorParseVersion(tt.in)
		if (err != nil) != tt.wantErr || major != tt.major || minor != tt.minor {
			t.Errorf("doctorParseVersion(%q): got %v %v %v; want %v %v err=%v", tt.in, major, minor, err, tt.major, tt.minor, tt.wantErr)
		}
	}
}

func TestDoctorParseReport(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string // version, or "" for an error
		wantErr bool
	}{
		{name: "report", in: `{"version": "3.11.2", "modules": {"uvicorn": "0.17.6"}}`, want: "3.11.2"},
		{name: "after user output", in: "hello from the app\n{\"version\": \"3.12.0\"}\n", want: "3.12.0"},
		{name: "empty", in: "", wantErr: true},
		{name: "not json", in: "Python 2.7\n", wantErr: true},
		{name: "no version", in: `{"modules": {}}`, wantErr: true},
	}
	for _, tt := range tests {
		var rep doctorPyReport
		err := doctorParseReport([]byte(tt.in), &rep)
		if (err != nil) != tt.wantErr || (!tt.wantErr && rep.Version != tt.want) {
			t.Errorf("%s: got %q %v; want %q err=%v", tt.name, rep.Version, err, tt.want, tt.wantErr)
		}
	}
}

func TestDoctorLookPath(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "bin", "tool"), "#!/bin/sh\n")
	if err := os.Chmod(filepath.Join(dir, "bin", "tool"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "bin", "data"), "not executable")
	tests := []struct {
		name, file, path string
		want             string
	}{
		{name: "on PATH", file: "tool", path: "/nonexistent:" + filepath.Join(dir, "bin"), want: filepath.Join(dir, "bin", "tool")},
		{name: "relative to project", file: "./bin/tool", path: "", want: filepath.Join(dir, "bin", "tool")},
		{name: "not executable", file: "data", path: filepath.Join(dir, "bin"), want: ""},
		{name: "empty PATH", file: "tool", path: "", want: ""},
		{name: "empty entry is not cwd", file: "tool", path: ":", want: ""},
	}
	for _, tt := range tests {
		got, err := doctorLookPath(tt.file, tt.path, dir)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("%s: got %q %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func FuzzDoctorParseVersion(f *testing.F) {
	for _, s := range []string{"1.31.0", "1.40", "1.41rc1", "", "1", "x.y", "99999999999999999999.1", "1.-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		major, minor, err := doctorParseVersion(s)
		if err == nil && (major < 0 || minor < 0) {
			t.Errorf("doctorParseVersion(%q) = %d.%d: negative", s, major, minor)
		}
		if err != nil && (major != 0 || minor != 0) {
			t.Errorf("doctorParseVersion(%q) returned numbers with an error", s)
		}
	})
}

func FuzzDoctorParseReport(f *testing.F) {
	for _, s := range []string{`{"version":"3.11.2"}`, "x\n{\"version\":\"3\"}", "", "\n\n", `{"version":1}`, `[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var rep doctorPyReport
		if err := doctorParseReport(b, &rep); err == nil && rep.Version == "" {
			t.Errorf("doctorParseReport(%q) accepted a report without a version", b)
		}
	})
}
