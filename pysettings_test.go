// pysettings_test.go is the table test of Python FluxLit 0.13's settings: every one of them is
// accepted from the environment (any case), .env, fluxlit.toml and [tool.fluxlit] in
// pyproject.toml, with a value Python accepts, and has its meaning in fluxlit: a gateway
// setting, an app setting passed to the children, or a WARN that says why it does nothing.
// The Python package itself confirms the names and that it accepts the same values.

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pythonSettingCase is one Python setting: a value in the environment's syntax (as Python
// FluxLit reads env and .env), the same value in TOML, and what fluxlit makes of it.
type pythonSettingCase struct {
	name  string
	env   string
	toml  string
	want  string // fmt.Sprint of the effective value ("" with check)
	check func(c *Config) string
}

// Effects other than "the setting holds the value".
func pyWantWarn(c *Config, name string) string {
	for _, w := range c.Warnings {
		if w.Code == "python_setting_ignored" && strings.Contains(w.Msg, name+" is accepted for Python FluxLit and has no effect: ") {
			return ""
		}
	}
	return fmt.Sprintf("no WARN saying why %s has no effect (warnings %q)", name, c.warningLines())
}

func pyWantField(c *Config, name, want string) string {
	if got := fmt.Sprint(settingFieldValue(c, name)); got != want {
		return fmt.Sprintf("%s = %s; want %s", name, got, want)
	}
	return ""
}

var pythonSettingCases = []pythonSettingCase{
	{name: "title", env: "My App", toml: `"My App"`, want: "My App"},
	{name: "gateway_host", env: "0.0.0.0", toml: `"0.0.0.0"`, want: "0.0.0.0"},
	{name: "gateway_port", env: "8_001", toml: "8001", want: "8001"},
	{name: "streamlit_host", env: "127.0.0.2", toml: `"127.0.0.2"`, check: func(c *Config) string { return pyWantWarn(c, "streamlit_host") }},
	{name: "streamlit_port", env: "8601", toml: "8601", want: "8601"},
	{name: "log_level", env: "CRITICAL", toml: `"CRITICAL"`, want: "critical"},
	{name: "api_mount_path", env: "v1/", toml: `"v1/"`, want: "/v1"},
	{name: "streamlit_public_path", env: "st/", toml: `"st/"`, check: func(c *Config) string { return pyWantField(c, "root_path", "/st") }},
	{name: "root_path", env: "apps/x/", toml: `"apps/x/"`, want: "/apps/x"},
	{name: "trust_proxy", env: "t", toml: "true", want: "true"},
	{name: "forwarded_allow_ips", env: "10.0.0.1,10.0.0.2", toml: `"10.0.0.1,10.0.0.2"`, check: func(c *Config) string {
		l, err := parseAllowIPs(c.ForwardedAllowIPs)
		if err != nil || len(l.prefixes) != 2 {
			return fmt.Sprintf("forwarded_allow_ips %q: %v; want two addresses", c.ForwardedAllowIPs, err)
		}
		return ""
	}},
	{name: "enable_request_logging", env: "yes", toml: "true", want: "true"},
	{name: "enable_gateway_access_log", env: "off", toml: "false", want: "false"},
	{name: "debug", env: "Y", toml: "true", want: "true"},
	{name: "url_session_query_param", env: "sid", toml: `"sid"`, want: "sid"},
	{name: "enable_gateway_prometheus_metrics", env: "1", toml: "true", want: "true"},
	{name: "gateway_prometheus_metrics_path", env: "/m", toml: `"/m"`, want: "/m"},
	{name: "gateway_upstream_connect_timeout_s", env: "0", toml: "0", want: "0"},
	{name: "gateway_upstream_read_timeout_s", env: "1e3", toml: "1e3", want: "1000"},
	{name: "gateway_max_proxy_request_body_bytes", env: "1048576", toml: "1048576", want: "1048576"},
	{name: "gateway_max_concurrent_upstream_http", env: "10", toml: "10", check: func(c *Config) string { return pyWantWarn(c, "gateway_max_concurrent_upstream_http") }},
	{name: "gateway_httpx_max_connections", env: "12", toml: "12", check: func(c *Config) string { return pyWantWarn(c, "gateway_httpx_max_connections") }},
	{name: "gateway_httpx_max_keepalive_connections", env: "4", toml: "4", check: func(c *Config) string { return pyWantWarn(c, "gateway_httpx_max_keepalive_connections") }},
	{name: "gateway_ws_open_timeout_s", env: "12.5", toml: "12.5", want: "12.5"},
	{name: "gateway_ws_ping_interval_s", env: "20", toml: "20", check: func(c *Config) string { return pyWantWarn(c, "gateway_ws_ping_interval_s") }},
	{name: "gateway_ws_ping_timeout_s", env: "20", toml: "20", check: func(c *Config) string { return pyWantWarn(c, "gateway_ws_ping_timeout_s") }},
	{name: "gateway_ws_close_timeout_s", env: "5", toml: "5", check: func(c *Config) string { return pyWantWarn(c, "gateway_ws_close_timeout_s") }},
	{name: "gateway_ws_max_message_bytes", env: "65536", toml: "65536", want: "65536"},
	{name: "gateway_forward_client_headers_to_streamlit", env: `["traceparent"]`, toml: `["traceparent"]`, want: "[traceparent]"},
	{name: "uvicorn_graceful_shutdown_timeout_s", env: "7.5", toml: "7.5", check: func(c *Config) string { return pyWantField(c, "shutdown_timeout_s", "7.5") }},
	{name: "enable_security_headers", env: "true", toml: "true", want: "true"},
	{name: "cors_allow_origins", env: `["https://a.example"]`, toml: `["https://a.example"]`, want: "[https://a.example]"},
	{name: "cors_allow_credentials", env: "true", toml: "true", want: "true"},
	{name: "cors_middleware_kwargs", env: `{"max_age": 42}`, toml: "{ max_age = 42 }", check: func(c *Config) string { return pyWantField(c, "cors_max_age_s", "42") }},
	{name: "streamlit_run_cli_args", env: `["--theme.base", "dark"]`, toml: `["--theme.base", "dark"]`, want: "[--theme.base dark]"},
	{name: "streamlit_page_config", env: `{"layout": "wide"}`, toml: `{ layout = "wide" }`, want: "map[layout:wide]"},
	{name: "public_base_url", env: "https://app.example", toml: `"https://app.example"`, want: "https://app.example"},
	{name: "strict_public_base_url", env: "true", toml: "true", want: "true"},
	{name: "strict_page_signatures", env: "true", toml: "true", want: "true"},
	{name: "strict_startup", env: "true", toml: "true", want: "true"},
	{name: "experimental_yield_pages", env: "1", toml: "true", want: "true"},
	{name: "async_page_depends", env: "1", toml: "true", want: "true"},
	{name: "jwt_issuer", env: "https://issuer.example", toml: `"https://issuer.example"`, want: "https://issuer.example"},
	{name: "jwt_audience", env: "api://default", toml: `"api://default"`, want: "[api://default]"},
	{name: "jwt_hs256_secret", env: "s3cret-value", toml: `"s3cret-value"`, want: "s3cret-value"},
	{name: "jwt_jwks_url", env: "https://issuer.example/jwks", toml: `"https://issuer.example/jwks"`, want: "https://issuer.example/jwks"},
	{name: "jwt_leeway_seconds", env: "5", toml: "5", want: "5"},
	{name: "oidc_bff_secret", env: "bff-secret", toml: `"bff-secret"`, want: "bff-secret"},
}

// pySources are the places a Python FluxLit user may have put a setting.
var pySources = []struct {
	name  string
	files func(c pythonSettingCase) map[string]string
	env   func(c pythonSettingCase) []string
	where string // the Sources prefix fluxlit reports
}{
	{"env", nil, func(c pythonSettingCase) []string {
		return []string{"FLUXLIT_" + strings.ToUpper(c.name) + "=" + c.env}
	}, "env FLUXLIT_"},
	{"env lower-case", nil, func(c pythonSettingCase) []string { return []string{"fluxlit_" + c.name + "=" + c.env} }, "env fluxlit_"},
	{".env", func(c pythonSettingCase) map[string]string {
		return map[string]string{".env": "# from Python FluxLit\nexport FLUXLIT_" + strings.ToUpper(c.name) + "='" + c.env + "'\n"}
	}, nil, ".env:2"},
	{"fluxlit.toml", func(c pythonSettingCase) map[string]string {
		return map[string]string{"fluxlit.toml": c.name + " = " + c.toml + "\n"}
	}, nil, "fluxlit.toml:1"},
	{"pyproject.toml", func(c pythonSettingCase) map[string]string {
		return map[string]string{"pyproject.toml": "[project]\nname = \"demo\"\nauthors = [{name = \"Ada\"}]\n\n[tool.fluxlit]\n" + c.name + " = " + c.toml + "\n\n[[tool.other]]\nx = 1\n"}
	}, nil, "pyproject.toml:6"},
}

func TestPythonSettingsTable(t *testing.T) {
	if len(pythonSettingCases) != len(pythonSettingNames()) {
		t.Errorf("%d cases for %d Python settings", len(pythonSettingCases), len(pythonSettingNames()))
	}
	for _, c := range pythonSettingCases {
		s := settingsByName[c.name]
		if s == nil || !s.py {
			t.Errorf("%s: not a Python setting in settingsTable", c.name)
			continue
		}
		for _, src := range pySources {
			t.Run(c.name+"/"+src.name, func(t *testing.T) {
				dir := t.TempDir()
				if src.files != nil {
					for name, content := range src.files(c) {
						writeFile(t, filepath.Join(dir, name), content)
					}
				}
				in := loadInput{WorkDir: dir, Env: []string{"PATH=/usr/bin"}}
				if src.env != nil {
					in.Env = append(in.Env, src.env(c)...)
				}
				cfg, err := loadConfig(in)
				if err != nil {
					t.Fatalf("%s from %s: %v", c.name, src.name, err)
				}
				if got := cfg.Sources[c.name]; !strings.HasPrefix(got, src.where) {
					t.Errorf("source: got %q; want %s…", got, src.where)
				}
				if c.check != nil {
					if msg := c.check(cfg); msg != "" {
						t.Error(msg)
					}
				} else if msg := pyWantField(cfg, c.name, c.want); msg != "" {
					t.Error(msg)
				}
				// An app setting reaches the children: from the environment and .env directly
				// (the app reads them), from a project file through fluxlit.
				if s.role == roleApp && !s.secret {
					_, passed := cfg.appSettingsEnv()["FLUXLIT_"+strings.ToUpper(c.name)]
					fromFile := strings.HasSuffix(src.name, ".toml")
					if passed != fromFile {
						t.Errorf("passed on to the children as FLUXLIT_%s: %v; want %v", strings.ToUpper(c.name), passed, fromFile)
					}
				}
			})
		}
	}
}

// TestPythonSettingsMatchThePackage asks the installed Python FluxLit for its settings and
// checks that the names are fluxlit's Python settings and that Python accepts every value the
// table above gives (in the environment's syntax), so "accepted" means accepted by both.
func TestPythonSettingsMatchThePackage(t *testing.T) {
	py := fluxlitPython(t)
	values := map[string]string{}
	for _, c := range pythonSettingCases {
		values[c.name] = c.env
	}
	payload, _ := json.Marshal(values)
	script := `
import json, os, sys, warnings
warnings.simplefilter("ignore")
from fluxlit.config import FluxlitSettings
values = json.load(sys.stdin)
errors = {}
for name, value in values.items():
    env = "FLUXLIT_" + name.upper()
    os.environ[env] = value
    try:
        FluxlitSettings(_env_file=None)
    except Exception as e:
        errors[name] = str(e).splitlines()[-1]
    del os.environ[env]
print(json.dumps({"names": sorted(FluxlitSettings.model_fields), "errors": errors}))
`
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = bytes.NewReader(payload)
	cmd.Dir = t.TempDir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v: %s", py, err, stderr.String())
	}
	var got struct {
		Names  []string          `json:"names"`
		Errors map[string]string `json:"errors"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("answer %q: %v", out, err)
	}
	if !slices.Equal(got.Names, pythonSettingNames()) {
		t.Errorf("Python FluxLit's settings:\n%q\nfluxlit's Python settings:\n%q", got.Names, pythonSettingNames())
	}
	for name, msg := range got.Errors {
		t.Errorf("Python FluxLit refuses the table's value for %s: %s", name, msg)
	}
}

// pyLoad loads a configuration from files in a fresh directory and an environment.
func pyLoad(t *testing.T, files map[string]string, env ...string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		writeFile(t, filepath.Join(dir, name), content)
	}
	return loadConfig(loadInput{WorkDir: dir, Env: append([]string{"PATH=/usr/bin"}, env...)})
}

func pyWarningWith(c *Config, part string) bool {
	for _, w := range c.warningLines() {
		if strings.Contains(w, part) {
			return true
		}
	}
	return false
}

// TestProjectFileAsPythonReadsIt: what Python FluxLit 0.13 did with its project file, fluxlit
// does by default: unknown keys and values of the wrong type are ignored with a warning
// (strict_config turns both into errors, config_test.go), gateway_port = "8000" is 8000, and
// fluxlit.toml wins over pyproject.toml.
func TestProjectFileAsPythonReadsIt(t *testing.T) {
	cfg, err := pyLoad(t, map[string]string{"fluxlit.toml": "gateway_prot = 8000\ngateway_port = \"9_001\"\nlog_level = 3\n"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`fluxlit.toml:1: unknown setting "gateway_prot" (did you mean "gateway_port"?) is ignored, as Python FluxLit ignored it (strict_config = true makes it an error)`,
		`fluxlit.toml:3: log_level: expected a string, got 3; the value is ignored, as Python FluxLit ignored it (strict_config = true makes it an error)`,
	} {
		if !slices.Contains(cfg.warningLines(), want) {
			t.Errorf("warnings %q; want %q", cfg.warningLines(), want)
		}
	}
	if cfg.GatewayPort != 9001 || cfg.LogLevel != "info" || cfg.Sources["log_level"] != "default" {
		t.Errorf("gateway_port %d log_level %s (%s); want 9001, info (default)", cfg.GatewayPort, cfg.LogLevel, cfg.Sources["log_level"])
	}
	cfg, err = pyLoad(t, map[string]string{"fluxlit.toml": "gateway_port = 9002\n", "pyproject.toml": "[tool.fluxlit]\ngateway_port = 9003\n"})
	if err != nil || cfg.GatewayPort != 9002 || filepath.Base(cfg.ConfigFile) != "fluxlit.toml" {
		t.Errorf("both files: %v, port %d from %s; want 9002 from fluxlit.toml", err, cfg.GatewayPort, cfg.ConfigFile)
	}
	cfg, err = pyLoad(t, map[string]string{"pyproject.toml": "[project]\nname = \"x\"\n[tool.black]\nline-length = 100\n"})
	if err != nil || cfg.ConfigFile != "" || len(cfg.Warnings) != 0 {
		t.Errorf("pyproject.toml without [tool.fluxlit]: %v, file %q, warnings %q; want no project file, no warning", err, cfg.ConfigFile, cfg.warningLines())
	}
	if _, err := pyLoad(t, map[string]string{"pyproject.toml": "[tool.fluxlit]\ngateway_port = 80 80\n"}); err == nil || err.Error() != "pyproject.toml:2:19: unexpected '8' after value" {
		t.Errorf("broken pyproject.toml: %v; want pyproject.toml:2:19: unexpected '8' after value", err)
	}
}

// TestEnvironmentSourcesPrecedence: flag > environment > .env > project file > default, and
// the environment's name is matched without regard to case.
func TestEnvironmentSourcesPrecedence(t *testing.T) {
	files := map[string]string{"fluxlit.toml": "gateway_port = 9001\ndebug = false\ntitle = \"file\"\n", ".env": "FLUXLIT_GATEWAY_PORT=9002\nfluxlit_debug=true\nFLUXLIT_NOPE=1\n"}
	cfg, err := pyLoad(t, files)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GatewayPort != 9002 || cfg.Sources["gateway_port"] != ".env:1" || !cfg.Debug || cfg.Sources["debug"] != ".env:2" {
		t.Errorf(".env over the file: port %d (%s), debug %v (%s)", cfg.GatewayPort, cfg.Sources["gateway_port"], cfg.Debug, cfg.Sources["debug"])
	}
	if !slices.Contains(cfg.UnknownEnv, ".env:3: FLUXLIT_NOPE is not a fluxlit setting") {
		t.Errorf("unknown env %q; want the .env line named", cfg.UnknownEnv)
	}
	cfg, err = pyLoad(t, files, "FLUXLIT_GATEWAY_PORT=9003", "Fluxlit_Debug=0", "FLUXLIT_DEBUG=1")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GatewayPort != 9003 || cfg.Sources["gateway_port"] != "env FLUXLIT_GATEWAY_PORT" || !cfg.Debug || cfg.Sources["debug"] != "env FLUXLIT_DEBUG" {
		t.Errorf("env over .env: port %d (%s), debug %v (%s); the upper-case name wins", cfg.GatewayPort, cfg.Sources["gateway_port"], cfg.Debug, cfg.Sources["debug"])
	}
	// Python FluxLit let fluxlit.toml win for gateway_port: recorded for doctor.
	want := shadowedValue{FileValue: "9001", FileWhere: "fluxlit.toml:1", Winner: "env FLUXLIT_GATEWAY_PORT"}
	if got := cfg.Shadowed["gateway_port"]; got != want {
		t.Errorf("shadowed: got %+v; want %+v", got, want)
	}
	// The app reads .env and its environment itself; the file's title is passed on.
	if got := cfg.appSettingsEnv(); got["FLUXLIT_TITLE"] != "file" || len(got) != 1 {
		t.Errorf("app settings for the children: %q; want FLUXLIT_TITLE=file only", got)
	}
}

// TestPythonSettingAliases: streamlit_public_path, uvicorn_graceful_shutdown_timeout_s and
// cors_middleware_kwargs.max_age give their value to fluxlit's setting only when that one was
// not set itself; unsupported CORS keys warn.
func TestPythonSettingAliases(t *testing.T) {
	cfg, err := pyLoad(t, nil, "FLUXLIT_STREAMLIT_PUBLIC_PATH=/st", "FLUXLIT_ROOT_PATH=/own",
		"FLUXLIT_UVICORN_GRACEFUL_SHUTDOWN_TIMEOUT_S=0", `FLUXLIT_CORS_MIDDLEWARE_KWARGS={"max_age": 7, "expose_headers": ["X-A"], "allow_methods": ["*"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RootPath != "/own" || cfg.ShutdownTimeoutS != 0.1 || cfg.CORSMaxAgeS != 7 {
		t.Errorf("root_path %q shutdown %v max_age %d; want /own 0.1 7", cfg.RootPath, cfg.ShutdownTimeoutS, cfg.CORSMaxAgeS)
	}
	for _, part := range []string{"cors_middleware_kwargs allow_methods ignored, as in Python FluxLit", "cors_middleware_kwargs expose_headers has no effect"} {
		if !pyWarningWith(cfg, part) {
			t.Errorf("warnings %q; want one with %q", cfg.warningLines(), part)
		}
	}
}

// TestStrictStartup: Python FluxLit's strict_startup refuses what doctor --strict fails.
func TestStrictStartup(t *testing.T) {
	tests := []struct {
		env  []string
		want string
	}{
		{[]string{"FLUXLIT_TRUST_PROXY=1"}, "env FLUXLIT_STRICT_STARTUP: strict_startup: set forwarded_allow_ips to your proxy's addresses (not empty, not \"*\") when trust_proxy is on (forwarded_allow_ips)"},
		{[]string{"FLUXLIT_TRUST_PROXY=1", "FLUXLIT_FORWARDED_ALLOW_IPS=10.0.0.1"}, "env FLUXLIT_STRICT_STARTUP: strict_startup: set gateway_max_proxy_request_body_bytes when trust_proxy is on (unlimited bodies are refused) (gateway_max_proxy_body)"},
		{[]string{"FLUXLIT_ROOT_PATH=/x"}, "env FLUXLIT_STRICT_STARTUP: strict_startup: set public_base_url when using a subpath (root_path) (oauth_public_base_url)"},
		{[]string{"FLUXLIT_GATEWAY_FORWARD_CLIENT_HEADERS_TO_STREAMLIT=cookie"}, "env FLUXLIT_STRICT_STARTUP: strict_startup: remove the rejected names cookie from gateway_forward_client_headers_to_streamlit (gateway_forward_rejected_names)"},
		{nil, ""},
	}
	for _, tt := range tests {
		_, err := pyLoad(t, nil, append(tt.env, "FLUXLIT_STRICT_STARTUP=true")...)
		if got := fmt.Sprint(err); tt.want == "" && err != nil || tt.want != "" && got != tt.want {
			t.Errorf("%v: got %v; want %q", tt.env, err, tt.want)
		}
	}
}
