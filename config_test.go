// config_test.go tests that a bad configuration stops fluxlit with exit 2 and one exact line
// naming where (env NAME, flag --x, fluxlit.toml:LINE), the setting, and what is wrong.

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// configTestError runs "fluxlit config ARGS" and returns its exit code and stderr.
func configTestError(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := configCommand(args, &stdout, &stderr)
	if code != 0 && stdout.Len() != 0 {
		t.Errorf("a failing config printed to stdout: %q", stdout.String())
	}
	return code, stderr.String()
}

func TestConfigEnvErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "bad int", env: map[string]string{"FLUXLIT_GATEWAY_PORT": "80a"},
			want: `fluxlit: env FLUXLIT_GATEWAY_PORT: gateway_port: expected an integer, got "80a"`},
		{name: "bad bool", env: map[string]string{"FLUXLIT_TRUST_PROXY": "maybe"},
			want: `fluxlit: env FLUXLIT_TRUST_PROXY: trust_proxy: expected a boolean (1/0, true/false, yes/no, on/off), got "maybe"`},
		{name: "bad number", env: map[string]string{"FLUXLIT_GATEWAY_UPSTREAM_READ_TIMEOUT_S": "fast"},
			want: `fluxlit: env FLUXLIT_GATEWAY_UPSTREAM_READ_TIMEOUT_S: gateway_upstream_read_timeout_s: expected a number of seconds, got "fast"`},
		{name: "bad list", env: map[string]string{"FLUXLIT_CORS_ALLOW_ORIGINS": `["https://a.example.com"`},
			want: `fluxlit: env FLUXLIT_CORS_ALLOW_ORIGINS: cors_allow_origins: expected a JSON array of strings, got "[\"https://a.example.com\""`},
		{name: "mount path bad character", env: map[string]string{"FLUXLIT_API_MOUNT_PATH": "/a?b"},
			want: `fluxlit: env FLUXLIT_API_MOUNT_PATH: api_mount_path: "/a?b" may contain only letters, digits and / - . _ ~`},
		{name: "mount path root", env: map[string]string{"FLUXLIT_API_MOUNT_PATH": "/"},
			want: `fluxlit: env FLUXLIT_API_MOUNT_PATH: api_mount_path: "/" must not end with /`},
		{name: "root path empty segment", env: map[string]string{"FLUXLIT_ROOT_PATH": "/apps//x"},
			want: `fluxlit: env FLUXLIT_ROOT_PATH: root_path: "/apps//x" has an empty, "." or ".." segment`},
		{name: "root path collides with mount", env: map[string]string{"FLUXLIT_ROOT_PATH": "/api"},
			want: `fluxlit: env FLUXLIT_ROOT_PATH: root_path: "/api" collides with api_mount_path "/api" (api_mount_path is relative to root_path: use "/api")`},
		{name: "non-http public URL", env: map[string]string{"FLUXLIT_PUBLIC_BASE_URL": "ftp://files.example.com"},
			want: `fluxlit: env FLUXLIT_PUBLIC_BASE_URL: public_base_url: "ftp://files.example.com" is not an absolute http(s) URL`},
		{name: "non-http fallback URL", env: map[string]string{"PUBLIC_BASE_URL": "example.com"},
			want: `fluxlit: env PUBLIC_BASE_URL: public_base_url: "example.com" is not an absolute http(s) URL`},
		{name: "non-http upstream", env: map[string]string{"FLUXLIT_STREAMLIT_UPSTREAM": "tcp://127.0.0.1:8501"},
			want: `fluxlit: env FLUXLIT_STREAMLIT_UPSTREAM: streamlit_upstream: "tcp://127.0.0.1:8501" is not an absolute http(s) URL`},
		{name: "port out of range", env: map[string]string{"FLUXLIT_GATEWAY_PORT": "70000"},
			want: `fluxlit: env FLUXLIT_GATEWAY_PORT: gateway_port: 70000 is out of range [0, 65535]`},
		{name: "negative port", env: map[string]string{"FLUXLIT_API_PORT": "-1"},
			want: `fluxlit: env FLUXLIT_API_PORT: api_port: -1 is out of range [0, 65535]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			configTestIsolate(t, nil)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, got := configTestError(t)
			if code != 2 || got != tt.want+"\n" {
				t.Errorf("got %v %q; want 2 %q", code, got, tt.want+"\n")
			}
		})
	}
}

func TestConfigFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "bad port", args: []string{"--port", "80a"}, want: `fluxlit: flag --port: gateway_port: expected an integer, got "80a"`},
		{name: "root path", args: []string{"--root-path", "/a b"}, want: `fluxlit: flag --root-path: root_path: "/a b" may contain only letters, digits and / - . _ ~`},
		{name: "unknown flag", args: []string{"--prot", "80"}, want: `fluxlit: fluxlit config: unknown flag --prot (did you mean --port?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			configTestIsolate(t, nil)
			code, got := configTestError(t, tt.args...)
			if code != 2 || got != tt.want+"\n" {
				t.Errorf("got %v %q; want 2 %q", code, got, tt.want+"\n")
			}
		})
	}
}

// TestConfigFileErrors needs the TOML reader (toml.go): errors in fluxlit.toml name the file
// and line (and column, for syntax), the setting and what is wrong.
func TestConfigFileErrors(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		want   string // exact line
		prefix string // or: the line starts with this (syntax messages belong to the reader)
	}{
		{name: "unknown key with suggestion (strict)", file: "strict_config = true\ngateway_prot = 8000\n",
			want: `fluxlit: fluxlit.toml:2: unknown setting "gateway_prot" (did you mean "gateway_port"?)`},
		{name: "unknown key without suggestion (strict)", file: "colour_scheme = \"dark\"\n[tool.fluxlit]\nstrict_config = true\n",
			want: `fluxlit: fluxlit.toml:1: unknown setting "colour_scheme"`},
		{name: "string for an integer (strict)", file: "strict_config = true\ngateway_port = \"8000\"\n",
			want: `fluxlit: fluxlit.toml:2: gateway_port: expected an integer, got "8000"`},
		{name: "string for an integer setting Python did not read", file: "\napi_port = \"8000\"\n",
			want: `fluxlit: fluxlit.toml:2: api_port: expected an integer, got "8000"`},
		{name: "integer for a boolean", file: "debug = 1\n",
			want: `fluxlit: fluxlit.toml:1: debug: expected a boolean, got 1`},
		{name: "port out of range", file: "# ports\n\ngateway_port = 70_000\n",
			want: `fluxlit: fluxlit.toml:3: gateway_port: 70000 is out of range [0, 65535]`},
		{name: "mount path dot segment", file: "api_mount_path = \"/api/./x\"\n",
			want: `fluxlit: fluxlit.toml:1: api_mount_path: "/api/./x" has an empty, "." or ".." segment`},
		{name: "root path collides", file: "api_mount_path = \"/api\"\nroot_path = \"/api\"\n",
			want: `fluxlit: fluxlit.toml:2: root_path: "/api" collides with api_mount_path "/api" (api_mount_path is relative to root_path: use "/api")`},
		{name: "non-http URL", file: "public_base_url = \"ws://app.example.com\"\n",
			want: `fluxlit: fluxlit.toml:1: public_base_url: "ws://app.example.com" is not an absolute http(s) URL`},
		{name: "list of non-strings", file: "cors_allow_origins = [\"https://a.example.com\", 3]\n",
			want: `fluxlit: fluxlit.toml:1: cors_allow_origins: expected a list of strings, got an item 3`},
		{name: "syntax error has line and column", file: "gateway_host = \"127.0.0.1\"\n\ngateway_port = 80 80\n",
			prefix: "fluxlit: fluxlit.toml:3:"},
		{name: "unterminated string", file: "api_mount_path = \"/api\n",
			prefix: "fluxlit: fluxlit.toml:1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			configTestIsolate(t, map[string]string{"fluxlit.toml": tt.file})
			code, got := configTestError(t)
			if code != 2 {
				t.Errorf("exit: got %v; want 2 (%q)", code, got)
			}
			if strings.Count(got, "\n") != 1 {
				t.Errorf("got %q; want one line", got)
			}
			if tt.want != "" && got != tt.want+"\n" {
				t.Errorf("got %q; want %q", got, tt.want+"\n")
			}
			if tt.prefix != "" && !strings.HasPrefix(got, tt.prefix) {
				t.Errorf("got %q; want a line starting with %q", got, tt.prefix)
			}
		})
	}
}

// TestConfigMissingExplicitFile: --config naming a missing file is an error; a missing
// default fluxlit.toml is not.
func TestConfigMissingExplicitFile(t *testing.T) {
	dir := configTestIsolate(t, nil)
	code, got := configTestError(t, "--config", "nope.toml")
	want := "fluxlit: " + filepath.Join(dir, "nope.toml") + ": cannot read configuration file: no such file or directory\n"
	if code != 2 || got != want {
		t.Errorf("got %v %q; want 2 %q", code, got, want)
	}
	if code, got := configTestError(t); code != 0 {
		t.Errorf("no fluxlit.toml: got %v %q; want 0", code, got)
	}
}

// TestDefaultPythonFindsProjectVenv: without python set, an active virtualenv wins, then the
// project's .venv (the quick start creates it and does not activate it), then python3.
func TestDefaultPythonFindsProjectVenv(t *testing.T) {
	dir := t.TempDir()
	if got := defaultPython(map[string]string{}, dir); got != "python3" {
		t.Errorf("no venv: %q; want python3", got)
	}
	if err := os.MkdirAll(filepath.Join(dir, ".venv", "bin", "python"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := defaultPython(map[string]string{}, dir); got != "python3" {
		t.Errorf(".venv/bin/python is a directory: %q; want python3", got)
	}
	os.Remove(filepath.Join(dir, ".venv", "bin", "python"))
	writeFile(t, filepath.Join(dir, ".venv", "bin", "python"), "")
	if got, want := defaultPython(map[string]string{}, dir), filepath.Join(dir, ".venv", "bin", "python"); got != want {
		t.Errorf("with .venv: %q; want %q", got, want)
	}
	if got := defaultPython(map[string]string{"VIRTUAL_ENV": "/opt/v"}, dir); got != "/opt/v/bin/python" {
		t.Errorf("VIRTUAL_ENV set: %q; want /opt/v/bin/python", got)
	}
}
