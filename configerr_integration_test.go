package main

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// TestConfigErrorsExit2 runs the real binary with each bad configuration and compares its one
// line of stderr with testdata/config_errors.golden (rewrite with -update).
func TestConfigErrorsExit2(t *testing.T) {
	cases := []struct {
		name string
		toml string
		env  []string
		args []string
	}{
		{"file bad int (strict)", "strict_config = true\ngateway_port = \"80a\"\n", nil, nil},
		{"file unknown key (strict)", "strict_config = true\n# comment\ngateway_prot = 8000\n", nil, nil},
		{"file syntax", "gateway_port = 80\nforwarded_allow_ips = [\"10.0.0.1\",\n", nil, nil},
		{"file date", "shutdown_timeout_s = 1979-05-27\n", nil, nil},
		{"file port range", "gateway_port = 70000\n", nil, nil},
		{"file mount bad character", "api_mount_path = \"/a pi\"\n", nil, nil},
		{"file mount dot segment", "api_mount_path = \"/api/../x\"\n", nil, nil},
		{"file root collides", "root_path = \"/api\"\n", nil, nil},
		{"file upstream not http", "api_upstream = \"ftp://x\"\n", nil, nil},
		{"file streamlit upstream path", "streamlit_upstream = \"http://127.0.0.1:8501/ui\"\n", nil, nil},
		{"file list type", "forwarded_allow_ips = [1, 2]\n", nil, nil},
		{"file bad cidr", "trust_proxy = true\nforwarded_allow_ips = [\"10.0.0.300\"]\n", nil, nil},
		{"env bad int", "", []string{"FLUXLIT_GATEWAY_PORT=80a"}, nil},
		{"env bad bool", "", []string{"FLUXLIT_TRUST_PROXY=maybe"}, nil},
		{"env bad timeout", "", []string{"FLUXLIT_GATEWAY_UPSTREAM_READ_TIMEOUT_S=-1"}, nil},
		{"env bad json list", "", []string{"FLUXLIT_FORWARDED_ALLOW_IPS=[\"a\""}, nil},
		{"flag bad port", "", nil, []string{"--port", "x"}},
		{"flag unknown", "", nil, []string{"--prot", "1"}},
		{"streamlit reserved arg", "streamlit_run_cli_args = [\"--server.port=1\"]\n", nil, nil},
		{"cors star credentials", "cors_allow_origins = [\"*\"]\ncors_allow_credentials = true\n", nil, nil},
		{"missing config file", "", nil, []string{"--config", "nope.toml"}},
	}
	bin := fluxlitBinary(t)
	var got strings.Builder
	for _, c := range cases {
		dir := t.TempDir()
		if c.toml != "" {
			writeFile(t, filepath.Join(dir, "fluxlit.toml"), c.toml)
		}
		cmd := exec.Command(bin, append([]string{"run", "--no-pidfile"}, c.args...)...)
		cmd.Dir = dir
		cmd.Env = append(cleanFluxlitEnv(), c.env...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != 2 {
			t.Errorf("%s: exit %d; want 2 (output %q)", c.name, code, out)
		}
		if strings.Count(string(out), "\n") != 1 {
			t.Errorf("%s: output is not one line: %q", c.name, out)
		}
		line := strings.ReplaceAll(string(out), dir, "$DIR")
		got.WriteString(c.name + ": " + line)
	}
	golden := filepath.Join("testdata", "config_errors.golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		os.WriteFile(golden, []byte(got.String()), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got.String() != string(want) {
		t.Errorf("config errors differ from %s:\n--- got\n%s--- want\n%s", golden, got.String(), want)
	}
}

// cleanFluxlitEnv is the test's environment without FLUXLIT_* settings, so a developer's own
// variables cannot change what the test sees.
func cleanFluxlitEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLUXLIT_") || strings.HasPrefix(kv, "FLUXLIT_TEST_") {
			env = append(env, kv)
		}
	}
	return env
}
