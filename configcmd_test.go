// configcmd_test.go tests "fluxlit config": each setting's source (flag, env, file, default),
// the precedence between them, and that no secret value is ever printed. The tests change the
// process environment and working directory, so they do not run in parallel.

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// configTestIsolate gives the test an empty project directory and an environment without
// any FLUXLIT_* variable, PUBLIC_BASE_URL or VIRTUAL_ENV; both are restored afterwards.
func configTestIsolate(t *testing.T, files map[string]string) string {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "FLUXLIT_") || k == "PUBLIC_BASE_URL" || k == "VIRTUAL_ENV" {
			t.Setenv(k, "") // restores the value at cleanup
			os.Unsetenv(k)
		}
	}
	dir := t.TempDir()
	for name, content := range files {
		writeFile(t, filepath.Join(dir, name), content)
	}
	t.Chdir(dir)
	return dir
}

// configTestRun runs "fluxlit config --json ARGS" and returns the settings by name, each with
// its source (the "settings" and "sources" objects).
func configTestRun(t *testing.T, args ...string) map[string]configRow {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := configCommand(append([]string{"--json"}, args...), &stdout, &stderr); code != 0 {
		t.Fatalf("fluxlit config %v: exit %d: %s", args, code, stderr.String())
	}
	var out struct {
		Settings map[string]any    `json:"settings"`
		Sources  map[string]string `json:"sources"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("fluxlit config --json: %v\n%s", err, stdout.String())
	}
	rows := map[string]configRow{}
	for name, v := range out.Settings {
		rows[name] = configRow{Name: name, Value: v, Source: out.Sources[name]}
	}
	if len(rows) != len(settingsTable) || len(out.Sources) != len(settingsTable) {
		t.Errorf("got %d settings, %d sources; want %d", len(rows), len(out.Sources), len(settingsTable))
	}
	return rows
}

func configTestWant(t *testing.T, rows map[string]configRow, name string, value any, source string) {
	t.Helper()
	r := rows[name]
	if fmt.Sprint(r.Value) != fmt.Sprint(value) || r.Source != source {
		t.Errorf("%s: got %v (%s); want %v (%s)", name, r.Value, r.Source, value, source)
	}
}

func TestConfigCommandSourceDefault(t *testing.T) {
	configTestIsolate(t, nil)
	rows := configTestRun(t)
	configTestWant(t, rows, "gateway_port", 8000, "default")
	configTestWant(t, rows, "api_mount_path", "/api", "default")
	configTestWant(t, rows, "debug", false, "default")
	configTestWant(t, rows, "python", "python3", "default")
}

func TestConfigCommandSourceEnv(t *testing.T) {
	configTestIsolate(t, nil)
	t.Setenv("FLUXLIT_GATEWAY_PORT", "9001")
	t.Setenv("FLUXLIT_CORS_ALLOW_ORIGINS", `["https://a.example.com","https://b.example.com"]`)
	t.Setenv("PUBLIC_BASE_URL", "https://legacy.example.com")
	rows := configTestRun(t)
	configTestWant(t, rows, "gateway_port", 9001, "env FLUXLIT_GATEWAY_PORT")
	configTestWant(t, rows, "cors_allow_origins", []string{"https://a.example.com", "https://b.example.com"}, "env FLUXLIT_CORS_ALLOW_ORIGINS")
	configTestWant(t, rows, "public_base_url", "https://legacy.example.com", "env PUBLIC_BASE_URL")
	configTestWant(t, rows, "gateway_host", "127.0.0.1", "default")
}

func TestConfigCommandSourceFlag(t *testing.T) {
	configTestIsolate(t, nil)
	rows := configTestRun(t, "main:api", "--port", "9002", "--debug", "--root-path", "/apps/x")
	configTestWant(t, rows, "gateway_port", 9002, "flag")
	configTestWant(t, rows, "debug", true, "flag")
	configTestWant(t, rows, "root_path", "/apps/x", "flag")
	configTestWant(t, rows, "target", "main:api", "flag")
}

// TestConfigCommandPrecedenceEnvFlag: a flag beats the environment, which beats the default;
// FLUXLIT_PUBLIC_BASE_URL beats the PUBLIC_BASE_URL fallback.
func TestConfigCommandPrecedenceEnvFlag(t *testing.T) {
	configTestIsolate(t, nil)
	t.Setenv("FLUXLIT_GATEWAY_PORT", "9001")
	t.Setenv("FLUXLIT_GATEWAY_HOST", "0.0.0.0")
	t.Setenv("FLUXLIT_PUBLIC_BASE_URL", "https://own.example.com")
	t.Setenv("PUBLIC_BASE_URL", "https://legacy.example.com")
	rows := configTestRun(t, "--port", "9002")
	configTestWant(t, rows, "gateway_port", 9002, "flag")
	configTestWant(t, rows, "gateway_host", "0.0.0.0", "env FLUXLIT_GATEWAY_HOST")
	configTestWant(t, rows, "public_base_url", "https://own.example.com", "env FLUXLIT_PUBLIC_BASE_URL")
}

// The tests below read fluxlit.toml, so they need the TOML reader (toml.go).

func TestConfigCommandSourceFile(t *testing.T) {
	configTestIsolate(t, map[string]string{"fluxlit.toml": "# project\ngateway_port = 9003\napi_mount_path = \"/v1\"\n"})
	rows := configTestRun(t)
	configTestWant(t, rows, "gateway_port", 9003, "fluxlit.toml:2")
	configTestWant(t, rows, "api_mount_path", "/v1", "fluxlit.toml:3")
	configTestWant(t, rows, "gateway_host", "127.0.0.1", "default")
}

// TestConfigCommandPrecedenceFile: flag > env > file > default, one setting per layer.
func TestConfigCommandPrecedenceFile(t *testing.T) {
	configTestIsolate(t, map[string]string{"fluxlit.toml": "gateway_port = 9003\ngateway_host = \"127.0.0.2\"\nlog_level = \"debug\"\napi_mount_path = \"/v1\"\n"})
	t.Setenv("FLUXLIT_GATEWAY_PORT", "9001")
	t.Setenv("FLUXLIT_GATEWAY_HOST", "127.0.0.3")
	t.Setenv("FLUXLIT_LOG_LEVEL", "warn")
	rows := configTestRun(t, "--port", "9002")
	configTestWant(t, rows, "gateway_port", 9002, "flag")                            // flag > env > file
	configTestWant(t, rows, "gateway_host", "127.0.0.3", "env FLUXLIT_GATEWAY_HOST") // env > file
	configTestWant(t, rows, "log_level", "warn", "env FLUXLIT_LOG_LEVEL")
	configTestWant(t, rows, "api_mount_path", "/v1", "fluxlit.toml:4") // file > default
	configTestWant(t, rows, "debug", false, "default")
}

// TestConfigCommandFileViaEnv: FLUXLIT_CONFIG names the file; sources name that file.
func TestConfigCommandFileViaEnv(t *testing.T) {
	configTestIsolate(t, map[string]string{"deploy/prod.toml": "\n\ngateway_port = 9004\n"})
	t.Setenv("FLUXLIT_CONFIG", "deploy/prod.toml")
	rows := configTestRun(t)
	configTestWant(t, rows, "gateway_port", 9004, "prod.toml:3")
}

// TestConfigCommandNoSecrets: jwt_hs256_secret and oidc_bff_secret, from the environment and
// from fluxlit.toml, never appear in text or JSON output; "[REDACTED]" does.
func TestConfigCommandNoSecrets(t *testing.T) {
	const envSecret, fileSecret = "env-secret-Zq8Lw3", "file-secret-Pv2Kd9"
	tests := []struct {
		name string
		file string
		env  map[string]string
	}{
		{name: "jwt via env, oidc via file", file: "oidc_bff_secret = \"" + fileSecret + "\"\n",
			env: map[string]string{"FLUXLIT_JWT_HS256_SECRET": envSecret}},
		{name: "oidc via env, jwt via file", file: "jwt_hs256_secret = \"" + fileSecret + "\"\n",
			env: map[string]string{"FLUXLIT_OIDC_BFF_SECRET": envSecret}},
		{name: "both via file", file: "jwt_hs256_secret = \"" + fileSecret + "\"\noidc_bff_secret = \"" + envSecret + "\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// jwt_protect: key settings without it are refused in a plain project (appEdgeJWT).
			configTestIsolate(t, map[string]string{"fluxlit.toml": "jwt_protect = [\"/*\"]\n" + tt.file})
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			for _, args := range [][]string{nil, {"--json"}} {
				var stdout, stderr bytes.Buffer
				if code := configCommand(args, &stdout, &stderr); code != 0 {
					t.Fatalf("config %v: exit %d: %s", args, code, stderr.String())
				}
				out := stdout.String() + stderr.String()
				for _, secret := range []string{envSecret, fileSecret} {
					if strings.Contains(out, secret) {
						t.Errorf("config %v prints the secret %q", args, secret)
					}
				}
				want := 2 // both secrets read and hidden; JSON also shows the file's values in project_file
				if args != nil {
					want += strings.Count(tt.file, "secret = ")
				}
				if got := strings.Count(out, "[REDACTED]"); got != want {
					t.Errorf("config %v: got %d [REDACTED]; want %d (both secrets read and hidden)\n%s", args, got, want, out)
				}
			}
		})
	}
}

// TestConfigCommandText: the text form is "name = value  (source)", aligned.
func TestConfigCommandText(t *testing.T) {
	configTestIsolate(t, nil)
	t.Setenv("FLUXLIT_GATEWAY_PORT", "9001")
	var stdout, stderr bytes.Buffer
	if code := configCommand([]string{"--port", "9002"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	width := 0
	for _, n := range settingNames() {
		width = max(width, len(n))
	}
	for _, want := range []string{
		"gateway_port" + strings.Repeat(" ", width-len("gateway_port")) + " = 9002  (flag)\n",
		"root_path" + strings.Repeat(" ", width-len("root_path")) + " = \"\"  (default)\n",
		"cors_allow_methods" + strings.Repeat(" ", width-len("cors_allow_methods")) + " = [\"GET\",\"POST\",\"PUT\",\"PATCH\",\"DELETE\",\"OPTIONS\"]  (default)\n",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, stdout.String())
		}
	}
}
