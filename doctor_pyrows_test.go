// doctor_pyrows_test.go checks the doctor rows and output shapes taken from Python FluxLit
// 0.13 on real projects in the interpreter that has the package: import_target refusing what
// is no app, fluxlit_auth_extra, pages_validate and experimental_yield_pages, the verbose
// object's keys, and the rows that name a migration difference.

package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// doctorPyJSON runs "fluxlit doctor --json ARGS" on files in a fresh project with env, and
// returns the exit code, the report and its rows by name.
func doctorPyJSON(t *testing.T, py string, files map[string]string, env []string, args ...string) (int, map[string]any, map[string]doctorRow) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		writeFile(t, filepath.Join(dir, name), body)
	}
	opts := doctorOptions{JSON: true}
	in, opts2, err := doctorParseArgs(args, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts2.JSON = opts.JSON
	in.WorkDir = dir
	in.Env = append([]string{"PATH=/usr/bin:/bin", "FLUXLIT_PYTHON=" + py, "FLUXLIT_GATEWAY_PORT=0"}, env...)
	var out bytes.Buffer
	code := doctorMain(in, opts2, doctorDeps{PythonTimeout: doctorTestPythonTimeout, DialTimeout: 0}, &out)
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("doctor --json: %v: %s", err, out.String())
	}
	rows := map[string]doctorRow{}
	for _, c := range rep["checks"].([]any) {
		m := c.(map[string]any)
		rows[m["name"].(string)] = doctorRow{Name: m["name"].(string), Status: m["status"].(string), Detail: m["detail"].(string)}
	}
	return code, rep, rows
}

const doctorTestFluxLitApp = "from fluxlit import FluxLit\napp = FluxLit(title='D')\n\n@app.page('/')\ndef home(st, client):\n    st.write('x')\n"

func TestDoctorFluxLitRows(t *testing.T) {
	py := fluxlitPython(t)
	ui := []string{"FLUXLIT_STREAMLIT_UPSTREAM=" + doctorUpstream(t)}
	code, rep, rows := doctorPyJSON(t, py, map[string]string{"app.py": "# not a FluxLit instance\napp = 123\n"}, ui)
	if r := rows["import_target"]; code != 1 || rep["status"] != "fail" || r.Status != doctorFail || !strings.Contains(r.Detail, "app:app must resolve to a FluxLit instance or an ASGI app, not 'int'") {
		t.Errorf("app = 123: exit %d, status %v, import_target %+v; want 1, fail and a FAIL naming the type", code, rep["status"], r)
	}
	code, rep, rows = doctorPyJSON(t, py, map[string]string{"app.py": doctorTestFluxLitApp}, append(ui, "FLUXLIT_JWT_ISSUER=https://issuer.example", "FLUXLIT_EXPERIMENTAL_YIELD_PAGES=1"), "--check-pages")
	for name, want := range map[string]string{"fluxlit_auth_extra": doctorPass, "pages_validate": doctorPass, "experimental_yield_pages": doctorWarn, "import_target": doctorPass, "sys_path_head": doctorPass} {
		if rows[name].Status != want {
			t.Errorf("FluxLit app with --check-pages: %s = %+v; want %s", name, rows[name], want)
		}
	}
	if !strings.Contains(rows["fluxlit_auth_extra"].Detail, "PyJWT") || code != 0 {
		t.Errorf("exit %d, fluxlit_auth_extra %+v", code, rows["fluxlit_auth_extra"])
	}
	if _, verbose := rep["verbose"]; verbose {
		t.Errorf("--json without --verbose has a verbose object")
	}
	bad := doctorTestFluxLitApp + "\n@app.page('/other', tags=[object()])\ndef other(st, client):\n    pass\n"
	code, _, rows = doctorPyJSON(t, py, map[string]string{"app.py": bad}, ui, "--check-pages")
	if r := rows["pages_validate"]; code != 1 || r.Status != doctorFail || !strings.Contains(r.Detail, "manifest JSON: Object of type object is not JSON serializable") {
		t.Errorf("a page whose manifest is not JSON: exit %d, pages_validate %+v; want 1 and Python FluxLit's FAIL", code, r)
	}
	// --verbose: Python FluxLit's object (resolved_target, effective, ...) plus fluxlit's.
	_, rep, rows = doctorPyJSON(t, py, map[string]string{"app.py": doctorTestFluxLitApp}, ui, "-v")
	v, _ := rep["verbose"].(map[string]any)
	for _, k := range []string{"resolved_target", "pages", "settings_redacted", "effective", "openapi", "extras", "streamlit_sidecar", "gateway_proxy", "project_defaults", "settings", "derived"} {
		if _, ok := v[k]; !ok {
			t.Errorf("verbose lacks %q: %v", k, v)
		}
	}
	if v["resolved_target"] != "app:app" || rows["pages_validate"].Status != doctorPass {
		t.Errorf("verbose resolved_target %v, pages_validate %+v (Python validates pages with --verbose too)", v["resolved_target"], rows["pages_validate"])
	}
	if eff, _ := v["effective"].(map[string]any); eff["internal_api_base_derived"] == nil || eff["api_mount_path"] != "/api" {
		t.Errorf("verbose effective %v", eff)
	}
	// A project file's root_path: fluxlit applies it, Python FluxLit 0.13 did not.
	_, _, rows = doctorPyJSON(t, py, map[string]string{"app.py": doctorTestFluxLitApp, "fluxlit.toml": "root_path = \"/x\"\n"}, ui)
	if r := rows["project_file_mount"]; r.Status != doctorWarn || !strings.Contains(r.Detail, `root_path "/x" (fluxlit.toml:1) is applied`) {
		t.Errorf("project_file_mount %+v; want a WARN naming root_path", r)
	}
}

// TestDoctorMigrationRows: the rows that tell a Python FluxLit user where fluxlit differs,
// and Python's rows that need no interpreter.
func TestDoctorMigrationRows(t *testing.T) {
	env := append(doctorExternalEnv(t), "FLUXLIT_GATEWAY_HOST=127.0.0.2", "FLUXLIT_GATEWAY_WS_PING_INTERVAL_S=20",
		"FLUXLIT_ENABLE_GATEWAY_PROMETHEUS_METRICS=1", "FLUXLIT_STREAMLIT_UPSTREAM_FILE=/nonexistent/upstream.txt", "FLUXLIT_ASYNC_PAGE_DEPENDS=1")
	dir := doctorProject(t, map[string]string{"fluxlit.toml": "gateway_host = \"127.0.0.3\"\n"})
	code, out := doctorCase{dir: dir, env: env, args: []string{"--json"}}.run(t)
	var rep struct{ Checks []doctorRow }
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	rows := map[string]doctorRow{}
	for _, r := range rep.Checks {
		rows[r.Name] = r
	}
	for name, want := range map[string]struct{ status, detail string }{
		"binding_precedence":       {doctorWarn, "gateway_host: env FLUXLIT_GATEWAY_HOST (127.0.0.2) wins over fluxlit.toml:1 (127.0.0.3), which Python FluxLit 0.13 used"},
		"python_settings":          {doctorWarn, "env FLUXLIT_GATEWAY_WS_PING_INTERVAL_S: gateway_ws_ping_interval_s is accepted for Python FluxLit and has no effect: fluxlit relays WebSocket frames"},
		"fluxlit_metrics_extra":    {doctorPass, "prometheus-client is not needed"},
		"streamlit_upstream_state": {doctorFail, "state file missing: /nonexistent/upstream.txt"},
		"async_depends_streamlit":  {doctorWarn, "Async Depends enabled"},
		"config.url_session":       {doctorPass, "param='fluxlit_sid'; tests=False; disabled=False"},
	} {
		if r := rows[name]; r.Status != want.status || !strings.Contains(r.Detail, want.detail) {
			t.Errorf("%s: got %+v; want %s with %q", name, r, want.status, want.detail)
		}
	}
	if code != 1 {
		t.Errorf("exit %d; want 1 (streamlit_upstream_state FAILs, as in Python)", code)
	}
}
