package main

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAppCodeLayerPrecedence: settings made in a FluxLit app's code sit between flags and the
// environment (Python: FluxlitSettings(...) arguments beat FLUXLIT_*), and are parsed like
// environment values.
func TestAppCodeLayerPrecedence(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "fluxlit.toml"), "gateway_port = 8100\nlog_level = \"error\"\ndebug = true\n")
	tests := []struct {
		name    string
		code    map[string]string
		env     []string
		flags   map[string]string
		setting string
		want    string
		source  string
	}{
		{name: "code over file", code: map[string]string{"gateway_port": "8200"}, setting: "gateway_port", want: "8200", source: "app.py"},
		{name: "code over env", code: map[string]string{"gateway_port": "8200"}, env: []string{"FLUXLIT_GATEWAY_PORT=8300"}, setting: "gateway_port", want: "8200", source: "app.py"},
		{name: "flag over code", code: map[string]string{"gateway_port": "8200"}, flags: map[string]string{"gateway_port": "8400"}, setting: "gateway_port", want: "8400", source: "flag"},
		{name: "env where code is silent", code: map[string]string{"gateway_port": "8200"}, env: []string{"FLUXLIT_LOG_LEVEL=debug"}, setting: "log_level", want: "debug", source: "env FLUXLIT_LOG_LEVEL"},
		{name: "file where code is silent", code: map[string]string{"gateway_port": "8200"}, setting: "debug", want: "true", source: "fluxlit.toml:3"},
		{name: "list from a JSON array", code: map[string]string{"cors_allow_origins": `["https://a.example","https://b.example"]`}, setting: "cors_allow_origins", want: "[https://a.example https://b.example]", source: "app.py"},
		{name: "list from one string", code: map[string]string{"jwt_audience": "api"}, setting: "jwt_audience", want: "[api]", source: "app.py"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(loadInput{WorkDir: dir, Env: tt.env, Flags: tt.flags, Code: tt.code, CodeSource: "app.py"})
			if err != nil {
				t.Fatal(err)
			}
			got := configRows(cfg)
			for _, r := range got {
				if r.Name == tt.setting {
					if v := formatValue(r.Value); v != tt.want || r.Source != tt.source {
						t.Errorf("%s = %s (%s); want %s (%s)", tt.setting, v, r.Source, tt.want, tt.source)
					}
					return
				}
			}
			t.Errorf("no %s row", tt.setting)
		})
	}
	_, err := loadConfig(loadInput{WorkDir: dir, Code: map[string]string{"gateway_port": "x"}, CodeSource: "app.py"})
	if err == nil || err.Error() != `app.py: gateway_port: expected an integer, got "x"` {
		t.Errorf("bad code value: got %v; want the app.py-located one-line error", err)
	}
}

func formatValue(v any) string {
	if s, ok := v.([]string); ok {
		return "[" + strings.Join(s, " ") + "]"
	}
	return strings.TrimSpace(strings.ReplaceAll(formatConfigValue(v), `""`, ""))
}

// TestAppEnvSyntax: Python values (decoded JSON) written as the environment carries them.
func TestAppEnvSyntax(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{"x", "x"}, {true, "true"}, {false, "false"}, {float64(8000), "8000"}, {60.5, "60.5"},
		{1e21, "1000000000000000000000"}, {[]any{"a", "b"}, `["a","b"]`},
		{map[string]any{"layout": "wide"}, `{"layout":"wide"}`},
	}
	for _, tt := range tests {
		got, err := appEnvSyntax(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("appEnvSyntax(%v) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := appEnvSyntax(struct{}{}); err == nil {
		t.Error("appEnvSyntax(struct{}{}): want an error")
	}
}

// TestAppEdgeJWT: key settings without jwt_protect are the app's own in a FluxLit project and
// a configuration error in a plain one (they used to turn edge JWT on for the whole API).
func TestAppEdgeJWT(t *testing.T) {
	dir := t.TempDir()
	load := func(env ...string) *Config {
		t.Helper()
		cfg, err := loadConfig(loadInput{WorkDir: dir, Env: env})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	secret := "FLUXLIT_JWT_HS256_SECRET=" + strings.Repeat("k", 32)
	if err := appEdgeJWT(load()); err != nil {
		t.Errorf("no key settings: %v; want none", err)
	}
	err := appEdgeJWT(load(secret))
	want := `env FLUXLIT_JWT_HS256_SECRET: jwt_hs256_secret: set without jwt_protect, and edge JWT is on only where jwt_protect says: set jwt_protect = ["/*"] to check tokens on the whole API as before, or jwt_protect = [] if the API checks its own`
	if err == nil || err.Error() != want {
		t.Errorf("plain project, key without jwt_protect:\n got %v\nwant %s", err, want)
	}
	if err := appEdgeJWT(load(secret, "FLUXLIT_JWT_PROTECT=")); err != nil {
		t.Errorf("jwt_protect = [] given: %v; want none", err)
	}
	if err := appEdgeJWT(load(secret, "FLUXLIT_JWT_PROTECT=/*")); err != nil {
		t.Errorf("jwt_protect given: %v; want none", err)
	}
	cfg := load(secret)
	cfg.App = &fluxlitApp{}
	if err := appEdgeJWT(cfg); err != nil {
		t.Errorf("FluxLit project: %v; want none (the app's own settings)", err)
	}
	_, err = loadConfig(loadInput{WorkDir: dir, Env: []string{"FLUXLIT_JWT_PROTECT=/*"}})
	if err == nil || !strings.Contains(err.Error(), "jwt_protect: edge JWT needs a key") {
		t.Errorf("jwt_protect without a key: %v; want an error naming jwt_protect", err)
	}
}

// TestAppProbe runs the probe in real interpreters: the one with Python FluxLit, and Debian's
// python3, which has no fluxlit package.
func TestAppProbe(t *testing.T) {
	py := fluxlitPython(t)
	plainPy, err := exec.LookPath("python3")
	if err != nil {
		skipTest(t, "no python3 on PATH")
	}
	const fluxlitApp = "from fluxlit import FluxLit, FluxlitSettings\napp = FluxLit(title='T', settings=FluxlitSettings(gateway_port=8765, trust_proxy=True))\n"
	tests := []struct {
		name    string
		python  string
		files   map[string]string
		target  string
		env     []string
		wantApp bool
		wantErr string
		code    []string // settings from code
	}{
		{name: "fluxlit app", python: py, files: map[string]string{"app.py": fluxlitApp}, wantApp: true,
			code: []string{"gateway_port", "title", "trust_proxy"}},
		{name: "env is not code", python: py, files: map[string]string{"app.py": "from fluxlit import FluxLit\napp = FluxLit()\n"},
			env: []string{"FLUXLIT_GATEWAY_PORT=8766"}, wantApp: true},
		{name: "re-exported app", python: py, files: map[string]string{"svc/__init__.py": "", "svc/core.py": fluxlitApp, "main.py": "from svc.core import app\n"},
			target: "main:app", wantApp: true, code: []string{"gateway_port", "title", "trust_proxy"}},
		{name: "fastapi app", python: py, files: map[string]string{"app.py": "from fastapi import FastAPI\napp = FastAPI()\n"}},
		{name: "fluxlit app's api", python: py, files: map[string]string{"app.py": fluxlitApp}, target: "app:app.api"},
		{name: "import error", python: py, files: map[string]string{"app.py": "import nosuchmodule\n"},
			wantErr: "cannot load app:app: ModuleNotFoundError: No module named 'nosuchmodule'"},
		{name: "no attribute", python: py, files: map[string]string{"app.py": "x = 1\n"},
			wantErr: "cannot load app:app: AttributeError: module 'app' has no attribute 'app'"},
		{name: "package missing", python: plainPy, files: map[string]string{"app.py": fluxlitApp},
			wantErr: "app.py imports the Python package fluxlit, which " + plainPy + " cannot import"},
		{name: "package missing, plain app", python: plainPy, files: map[string]string{"app.py": "app = object()\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tt.files {
				writeFile(t, filepath.Join(dir, name), body)
			}
			target := tt.target
			if target == "" {
				target = "app:app"
			}
			flags := map[string]string{"python": tt.python, "streamlit_script": "ui.py"}
			cfg, err := loadAppConfig(loadInput{WorkDir: dir, Env: append([]string{"PATH=/usr/bin:/bin"}, tt.env...), Flags: flags, Positional: target})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(cfg.AppErr, tt.wantErr) || (tt.wantErr == "") != (cfg.AppErr == "") {
				t.Errorf("AppErr %q; want %q", cfg.AppErr, tt.wantErr)
			}
			if (cfg.App != nil) != tt.wantApp {
				t.Fatalf("App %+v; want a FluxLit app: %v", cfg.App, tt.wantApp)
			}
			if cfg.App == nil {
				return
			}
			if strings.Join(cfg.App.CodeSettings, ",") != strings.Join(tt.code, ",") {
				t.Errorf("code settings %q; want %q", cfg.App.CodeSettings, tt.code)
			}
			for _, name := range tt.code {
				if src := cfg.Sources[name]; !strings.HasSuffix(src, ".py") {
					t.Errorf("%s source %q; want the app's module file", name, src)
				}
			}
			if !strings.HasSuffix(cfg.App.StreamlitMain, filepath.Join("fluxlit", "streamlit", "main.py")) {
				t.Errorf("StreamlitMain %q; want FluxLit's page entry", cfg.App.StreamlitMain)
			}
		})
	}
}

// TestAppProbeBounded: an app whose import never ends stops the probe at child_ready_timeout_s
// with a line that says what to do.
func TestAppProbeBounded(t *testing.T) {
	py := fluxlitPython(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.py"), "import time\nfrom fluxlit import FluxLit\ntime.sleep(600)\n")
	start := time.Now()
	cfg, err := loadAppConfig(loadInput{WorkDir: dir, Env: []string{"PATH=/usr/bin:/bin"},
		Flags: map[string]string{"python": py, "child_ready_timeout_s": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the probe took %v; want about child_ready_timeout_s (1 s)", took)
	}
	if !strings.Contains(cfg.AppErr, "took longer than 1s (child_ready_timeout_s for run)") {
		t.Errorf("AppErr %q; want the timeout line", cfg.AppErr)
	}
}

// TestDoctorJWTEdge: the jwt_edge row for each meaning the key settings can have.
func TestDoctorJWTEdge(t *testing.T) {
	dir := t.TempDir()
	secret := "FLUXLIT_JWT_HS256_SECRET=" + strings.Repeat("k", 32)
	tests := []struct {
		name    string
		env     []string
		app     bool
		status  string
		contain string
	}{
		{name: "no keys", status: doctorPass, contain: "off (jwt_protect is empty)"},
		{name: "on", env: []string{secret, "FLUXLIT_JWT_PROTECT=/admin/*"}, status: doctorPass, contain: "on: a bearer token is checked for /admin/* under /api (key: jwt_hs256_secret)"},
		{name: "FluxLit app's own keys", env: []string{secret}, app: true, status: doctorPass, contain: "configure the FluxLit app's own route checks"},
		{name: "plain, explicitly off", env: []string{secret, "FLUXLIT_JWT_PROTECT="}, status: doctorPass, contain: "jwt_protect = [] leaves jwt_hs256_secret to the API"},
		{name: "fluxlit-only key, off", env: []string{"FLUXLIT_JWT_JWKS_FILE=/etc/jwks.json"}, app: true, status: doctorWarn, contain: "off, although jwt_jwks_file is set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(loadInput{WorkDir: dir, Env: tt.env})
			if err != nil {
				t.Fatal(err)
			}
			if tt.app {
				cfg.App = &fluxlitApp{}
			}
			rows := doctorJWTEdge(cfg, nil, doctorDeps{})
			if len(rows) != 1 || rows[0].Status != tt.status || !strings.Contains(rows[0].Detail, tt.contain) {
				t.Errorf("jwt_edge: %+v; want %s containing %q", rows, tt.status, tt.contain)
			}
		})
	}
}

// TestDoctorStreamlitChildSecrets: a FluxLit app's Streamlit child is told apart from a plain one's.
func TestDoctorStreamlitChildSecrets(t *testing.T) {
	cfg, err := loadConfig(loadInput{WorkDir: t.TempDir(), Env: []string{"FLUXLIT_CHILD_ENV_DENY=FLUXLIT_OIDC_BFF_SECRET"}})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"FLUXLIT_JWT_HS256_SECRET": "x", "FLUXLIT_OIDC_BFF_SECRET": "y", "FLUXLIT_JWT_ISSUER": "z", "HOME": "/root"}
	if rows := doctorStreamlitChildSecrets(cfg, env, doctorDeps{}); rows[0].Status != doctorPass {
		t.Errorf("plain project: %+v; want PASS (secrets kept out)", rows)
	}
	cfg.App = &fluxlitApp{Source: "app.py"}
	rows := doctorStreamlitChildSecrets(cfg, env, doctorDeps{})
	if rows[0].Status != doctorWarn || !strings.Contains(rows[0].Detail, "receives FLUXLIT_JWT_HS256_SECRET, FLUXLIT_JWT_ISSUER as Python") {
		t.Errorf("FluxLit app: %+v; want WARN naming the JWT variables but not the denied OIDC secret", rows)
	}
}

// TestAppCodeValueRejected: a value made in code that fluxlit refuses is the usual one-line
// configuration error (exit 2), located at the app's module file.
func TestAppCodeValueRejected(t *testing.T) {
	py := fluxlitPython(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.py"), "from fluxlit import FluxLit, FluxlitSettings\napp = FluxLit(settings=FluxlitSettings(root_path='/api'))\n")
	_, err := loadAppConfig(loadInput{WorkDir: dir, Env: []string{"PATH=/usr/bin:/bin"}, Flags: map[string]string{"python": py}})
	want := `app.py: root_path: "/api" collides with api_mount_path "/api"`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v; want %s…", err, want)
	}
}

// TestAppChildSpecs: the children of a FluxLit project against those of a plain one, from
// the same settings: argv, the Streamlit flags Python FluxLit passes, and the environment.
func TestAppChildSpecs(t *testing.T) {
	dir := t.TempDir()
	environ := []string{"PATH=/usr/bin", "FLUXLIT_JWT_HS256_SECRET=s", "FLUXLIT_OIDC_BFF_SECRET=o", "KEEP_OUT=k"}
	load := func(flags map[string]string) *Config {
		t.Helper()
		cfg, err := loadConfig(loadInput{WorkDir: dir, Env: append(environ, "FLUXLIT_CHILD_ENV_DENY=KEEP_OUT", "FLUXLIT_JWT_PROTECT="),
			Flags: flags, Positional: "app:app"})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	has := func(list []string, s string) bool { return slices.Contains(list, s) }
	joined := func(argv []string) string { return strings.Join(argv, " ") }

	plain := load(nil)
	plan, err := planChildren(plain, 8000, environ, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer plan.cleanup()
	api, ui := plan.specs[0], plan.specs[1]
	if !strings.Contains(joined(api.Argv), "-m uvicorn app:app --root-path /api --uds ") {
		t.Errorf("plain API argv %q; want uvicorn app:app with --root-path", joined(api.Argv))
	}
	if !strings.Contains(joined(ui.Argv), "streamlit run streamlit_app.py ") || strings.Contains(joined(ui.Argv), "enableXsrfProtection") {
		t.Errorf("plain Streamlit argv %q; want streamlit_app.py and Streamlit's own XSRF default", joined(ui.Argv))
	}
	for _, kv := range []string{"FLUXLIT_JWT_HS256_SECRET=s", "FLUXLIT_OIDC_BFF_SECRET=o", "KEEP_OUT=k"} {
		if has(ui.Env, kv) {
			t.Errorf("plain Streamlit child has %s", kv)
		}
	}

	app := load(map[string]string{"debug": "true"})
	app.App = &fluxlitApp{StreamlitMain: "/venv/fluxlit/streamlit/main.py", Source: "app.py"}
	plan, err = planChildren(app, 8000, environ, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer plan.cleanup()
	api, ui = plan.specs[0], plan.specs[1]
	if api.Argv[1] != "-c" || api.Argv[2] != appAPIEntry || api.Argv[3] != "app:app" || api.Argv[4] != "/api" || has(api.Argv, "--root-path") {
		t.Errorf("FluxLit API argv %q; want the entry script with target and mount, no --root-path", joined(api.Argv[3:]))
	}
	want := "streamlit run /venv/fluxlit/streamlit/main.py --server.headless true --server.port "
	if got := joined(ui.Argv); !strings.Contains(got, want) || !strings.Contains(got, "--server.enableXsrfProtection false --server.enableCORS false") {
		t.Errorf("FluxLit Streamlit argv %q; want the page entry and Python FluxLit's flags", got)
	}
	for kv, want := range map[string]bool{"FLUXLIT_JWT_HS256_SECRET=s": true, "FLUXLIT_OIDC_BFF_SECRET=o": true, "KEEP_OUT=k": false,
		"FLUXLIT_APP=app:app": true, "FLUXLIT_API_PREFIX=/api": true, "FLUXLIT_INTERNAL_API_BASE=http://127.0.0.1:8000/api": true, "FLUXLIT_DEBUG=1": true} {
		if has(ui.Env, kv) != want {
			t.Errorf("FluxLit Streamlit child env has %s: %v; want %v", kv, !want, want)
		}
	}
	if !has(api.Env, "FLUXLIT_DEBUG=1") {
		t.Errorf("--debug given: the API child lacks FLUXLIT_DEBUG=1 (Python's flag sets it)")
	}

	own := load(map[string]string{"streamlit_script": "ui.py"})
	own.App = app.App
	plan, err = planChildren(own, 8000, environ, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer plan.cleanup()
	if got := joined(plan.specs[1].Argv); !strings.Contains(got, "streamlit run ui.py ") {
		t.Errorf("FluxLit project with its own streamlit_script: argv %q; want ui.py", got)
	}
}

// TestAppPagesUnserved: a FluxLit app with @app.page pages and a streamlit_script of its own
// (a `fluxlit new` project whose app.py became a FluxLit app) serves the script, and says so:
// a configuration warning (run's start, config) and a WARN app_model row. Without the
// setting, the pages are served and nothing is said.
func TestAppPagesUnserved(t *testing.T) {
	py := fluxlitPython(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.py"), "from fluxlit import FluxLit\napp = FluxLit()\n\n@app.page('/')\ndef home(st, client):\n    st.title('Home')\n")
	load := func(flags map[string]string) *Config {
		flags["python"] = py
		cfg, err := loadAppConfig(loadInput{WorkDir: dir, Env: []string{"PATH=/usr/bin:/bin"}, Flags: flags, Positional: "app:app"})
		if err != nil || cfg.App == nil {
			t.Fatalf("load: %v, app %v", err, cfg)
		}
		return cfg
	}
	own := load(map[string]string{"streamlit_script": "streamlit_app.py"})
	want := `app.py registers 1 @app.page page(s), which are not served: streamlit_script = "streamlit_app.py" (flag) runs instead; remove streamlit_script`
	if lines := strings.Join(own.warningLines(), "\n"); !strings.Contains(lines, want) {
		t.Errorf("warnings %q; want %q", lines, want)
	}
	if rows := doctorAppModel(own, nil, doctorDeps{}); rows[0].Status != doctorWarn || !strings.Contains(rows[0].Detail, want) {
		t.Errorf("app_model %+v; want WARN %q", rows[0], want)
	}
	served := load(map[string]string{})
	if lines := served.warningLines(); len(lines) != 0 {
		t.Errorf("warnings %q; want none (the pages are served)", lines)
	}
	if rows := doctorAppModel(served, nil, doctorDeps{}); rows[0].Status != doctorPass {
		t.Errorf("app_model %+v; want PASS", rows[0])
	}
}
