// cli_test.go tests the command line as Python FluxLit's users type it: every command answers
// --help, -h and "fluxlit help CMD" with its own page on stdout; every command and flag of the
// installed Python FluxLit CLI is accepted by fluxlit's same command; and the flags fluxlit
// took from it have their meaning (doctor -v, build -o/-f, run --workbench, the --no-* forms).

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func cliRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = fluxlitMain(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestEveryCommandAnswersHelp(t *testing.T) {
	configTestIsolate(t, nil)
	for _, c := range commands {
		page := commandPage(c)
		for _, args := range [][]string{{c.name, "--help"}, {c.name, "-h"}, {"help", c.name}, {c.name, "app:app", "--port", "1", "--help"}} {
			code, out, errOut := cliRun(t, args...)
			if code != 0 || out != page || errOut != "" {
				t.Errorf("fluxlit %s: exit %d, stderr %q, stdout is the page: %v; want 0, the page, nothing on stderr", strings.Join(args, " "), code, errOut, out == page)
			}
		}
		for _, want := range []string{"usage: fluxlit " + c.name, "\nFlags:\n", "-h, --help"} {
			if !strings.Contains(page, want) {
				t.Errorf("%s page lacks %q:\n%s", c.name, want, page)
			}
		}
		if c.name != "version" && c.name != "help" && !strings.Contains(page, "\nExamples:\n\n\tfluxlit "+c.name) {
			t.Errorf("%s page has no example", c.name)
		}
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}, {"-help"}} {
		if code, out, _ := cliRun(t, args...); code != 0 || out != usage {
			t.Errorf("fluxlit %v: exit %d, overview %v; want 0 and the overview", args, code, out == usage)
		}
	}
	if code, _, errOut := cliRun(t, "help", "nope"); code != 2 || errOut != "fluxlit: help: unknown command \"nope\" (run \"fluxlit help\")\n" {
		t.Errorf("help nope: %d %q", code, errOut)
	}
}

// cliPythonSurface asks the installed Python FluxLit for its commands and their options.
func cliPythonSurface(t *testing.T) map[string][]struct {
	Opts []string `json:"opts"`
	Flag bool     `json:"flag"`
} {
	py := fluxlitPython(t)
	script := `
import json, warnings
warnings.simplefilter("ignore")
import typer
from fluxlit.cli import app
out = {}
def walk(group, prefix):
    for name, cmd in group.commands.items():
        full = (prefix + " " + name).strip()
        if hasattr(cmd, "commands"):
            walk(cmd, full)
            continue
        out[full] = [{"opts": p.opts + p.secondary_opts, "flag": bool(p.is_flag)}
                     for p in cmd.params if p.param_type_name == "option"]
walk(typer.main.get_command(app), "")
print(json.dumps(out))
`
	cmd := exec.Command(py, "-c", script)
	cmd.Dir = t.TempDir()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python CLI surface: %v", err)
	}
	var surface map[string][]struct {
		Opts []string `json:"opts"`
		Flag bool     `json:"flag"`
	}
	if err := json.Unmarshal(out, &surface); err != nil {
		t.Fatal(err)
	}
	return surface
}

// cliOptionValues are values for Python FluxLit's options that take one.
var cliOptionValues = map[string]string{"--host": "127.0.0.1", "--port": "8000", "--log-level": "critical",
	"--forwarded-allow-ips": "127.0.0.1", "--reload-scope": "full", "--pidfile": "x.pid", "--wait": "1",
	"--output": "out", "-o": "out", "--profile": "minimal", "--target": "app:app"}

// TestPythonCLIFlagsAccepted: each command and option of Python FluxLit's CLI is accepted by
// fluxlit. Commands that read the configuration get a broken one (FLUXLIT_GATEWAY_PORT=x,
// FLUXLIT_RATE_LIMIT_BURST=x) so that they stop right after reading their flags, with that
// error and not a flag error.
func TestPythonCLIFlagsAccepted(t *testing.T) {
	surface := cliPythonSurface(t)
	if len(surface) < 10 {
		t.Fatalf("Python FluxLit's CLI has %d commands; want at least 10", len(surface))
	}
	for command, options := range surface {
		if _, known := helpFor(strings.Fields(command)[0]); !known {
			t.Errorf("Python FluxLit's command %q is not a fluxlit command", command)
			continue
		}
		for _, o := range options {
			for _, opt := range o.Opts {
				t.Run(command+" "+opt, func(t *testing.T) {
					dir := configTestIsolate(t, nil)
					args := append(strings.Fields(command), opt)
					if !o.Flag {
						args = append(args, cliOptionValues[opt])
					}
					switch command {
					case "shutdown":
						args = append(args, "--pidfile", filepath.Join(dir, "none.pid"))
					case "new":
						args = append(args, filepath.Join(dir, "proj"))
					default:
						// Two, as --port overrides the first one.
						t.Setenv("FLUXLIT_GATEWAY_PORT", "x")
						t.Setenv("FLUXLIT_RATE_LIMIT_BURST", "x")
					}
					code, out, errOut := cliRun(t, args...)
					configErr := strings.Contains(errOut+out, "gateway_port") || strings.Contains(errOut+out, "rate_limit_burst")
					if strings.Contains(errOut, "not defined") || strings.Contains(errOut, "unexpected argument") || code == 2 && !configErr && !strings.Contains(errOut+out, "pidfile") {
						t.Errorf("fluxlit %s: exit %d: %s%s", strings.Join(args, " "), code, errOut, out)
					}
				})
			}
		}
	}
}

// TestCLIFlagMeanings: the flags fluxlit took from Python FluxLit do what they do there.
func TestCLIFlagMeanings(t *testing.T) {
	configTestIsolate(t, nil)
	for _, tt := range []struct {
		mode string
		args []string
		want map[string]string // setting -> value
	}{
		{"run", []string{"--workbench"}, map[string]string{"trust_proxy": "true", "startup_banner": "true"}},
		{"dev", []string{"--workbench", "--no-proxy-headers"}, map[string]string{"trust_proxy": "false", "startup_banner": "true"}},
		{"dev", nil, map[string]string{"debug": "true", "reload": "true"}},
		{"dev", []string{"--no-reload", "--no-debug"}, map[string]string{"debug": "false", "reload": "false"}},
		{"run", []string{"app:app", "--proxy-headers", "--no-pidfile", "--log-level", "trace"}, map[string]string{"trust_proxy": "true", "no_pidfile": "true", "log_level": "trace"}},
	} {
		in, err := runInput(newCommandFlags(tt.mode, nil), tt.mode, tt.args)
		var cfg *Config
		if err == nil {
			cfg, err = loadConfig(in)
		}
		if err != nil {
			t.Errorf("%s %v: %v", tt.mode, tt.args, err)
			continue
		}
		for name, want := range tt.want {
			if got := envText(settingFieldValue(cfg, name)); got != want {
				t.Errorf("%s %v: %s = %s; want %s", tt.mode, tt.args, name, got, want)
			}
		}
	}
	// doctor -v is --verbose.
	_, long, _ := cliRun(t, "doctor", "--json", "--verbose", "--api-upstream", "http://127.0.0.1:9", "--streamlit-upstream", "http://127.0.0.1:9")
	_, short, _ := cliRun(t, "doctor", "--json", "-v", "--api-upstream", "http://127.0.0.1:9", "--streamlit-upstream", "http://127.0.0.1:9")
	if !strings.Contains(short, `"verbose":`) || len(short) != len(long) {
		t.Errorf("doctor -v and --verbose differ:\n%s\n%s", short, long)
	}
	// build -o DIR and --output DIR write there; -f overwrites.
	dir := t.TempDir()
	for _, args := range [][]string{{"build", "-o", filepath.Join(dir, "a")}, {"build", "--output", filepath.Join(dir, "b")}, {"build", "-o", filepath.Join(dir, "a"), "-f"}} {
		if code, _, errOut := cliRun(t, args...); code != 0 {
			t.Errorf("fluxlit %v: exit %d %s", args, code, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "b", "fluxlit.service")); err != nil {
		t.Errorf("build --output: %v", err)
	}
	if code, _, errOut := cliRun(t, "build", "-o", filepath.Join(dir, "a")); code != 1 || !strings.Contains(errOut, "use --force") {
		t.Errorf("build into an existing folder without -f: %d %q; want 1 naming --force", code, errOut)
	}
}

// TestNewProfiles: "fluxlit new NAME --profile P" writes Python FluxLit's project of that
// name; without --profile, fluxlit's plain FastAPI + Streamlit project.
func TestNewProfiles(t *testing.T) {
	dir := configTestIsolate(t, nil)
	for _, tt := range []struct {
		profile, want string
	}{{"minimal", "FluxLit Demo"}, {"auth-ready", "Auth-ready Dashboard"}, {"deploy", "Deployment Dashboard"}, {"", "FastAPI"}} {
		name := filepath.Join(dir, "p-"+tt.profile)
		args := []string{"new", name}
		if tt.profile != "" {
			args = append(args, "--profile", tt.profile)
		}
		code, out, errOut := cliRun(t, args...)
		app, _ := os.ReadFile(filepath.Join(name, "app.py"))
		toml, _ := os.ReadFile(filepath.Join(name, "fluxlit.toml"))
		if code != 0 || !strings.Contains(string(app), tt.want) || !strings.Contains(string(toml), `target = "app:app"`) || !strings.Contains(out, "Created ") {
			t.Errorf("new --profile %q: exit %d %s%s; app.py has %q: %v", tt.profile, code, out, errOut, tt.want, strings.Contains(string(app), tt.want))
		}
		if tt.profile != "" && !strings.Contains(out, "("+tt.profile+")") {
			t.Errorf("new --profile %s: stdout %q does not name the profile", tt.profile, out)
		}
	}
	if code, _, errOut := cliRun(t, "new", filepath.Join(dir, "x"), "--profile", "huge"); code != 2 || !strings.Contains(errOut, `--profile "huge" is not one of minimal, auth-ready, deploy`) {
		t.Errorf("unknown profile: %d %q", code, errOut)
	}
}

// TestPagesCommand: "fluxlit pages manifest|validate" run Python FluxLit's page tooling on the
// configured target in the project's interpreter.
func TestPagesCommand(t *testing.T) {
	py := fluxlitPython(t)
	dir := configTestIsolate(t, nil)
	if code, _, errOut := cliRun(t, "new", "proj", "--profile", "minimal"); code != 0 {
		t.Fatalf("new: %s", errOut)
	}
	t.Chdir(filepath.Join(dir, "proj"))
	t.Setenv("FLUXLIT_PYTHON", py)
	code, out, errOut := cliRun(t, "pages", "manifest")
	var manifest struct {
		Version int `json:"manifest_version"`
		Pages   []struct {
			Path string `json:"path"`
		} `json:"pages"`
	}
	if err := json.Unmarshal([]byte(out), &manifest); code != 0 || err != nil || manifest.Version != 1 || len(manifest.Pages) != 1 || manifest.Pages[0].Path != "/" {
		t.Errorf("pages manifest: exit %d %v: %s %s", code, err, out, errOut)
	}
	if code, out, errOut := cliRun(t, "pages", "validate", "--target", "app:app"); code != 0 {
		t.Errorf("pages validate: exit %d: %s%s", code, out, errOut)
	}
	writeFile(t, filepath.Join(dir, "proj", "bad.py"), "from fluxlit import FluxLit\napp = FluxLit()\n@app.page('/')\ndef home(st, client, mystery):\n    pass\n")
	if code, out, _ := cliRun(t, "pages", "validate", "bad:app", "--strict"); code != 1 || !strings.Contains(out, "mystery") {
		t.Errorf("pages validate of a page with an unknown parameter: exit %d, %q; want 1 naming it", code, out)
	}
	t.Setenv("FLUXLIT_PYTHON", "/usr/bin/python3")
	if code, _, errOut := cliRun(t, "pages", "manifest"); code != 1 || !strings.Contains(errOut, "fluxlit: pages runs the Python package FluxLit, which /usr/bin/python3 cannot import") {
		t.Errorf("without the package: exit %d %q", code, errOut)
	}
}

// TestShutdownFindsPythonPidfile: with no pidfile of fluxlit's, shutdown reads Python FluxLit's
// default .fluxlit-dev.pid (a stale one is removed, exit 0).
func TestShutdownFindsPythonPidfile(t *testing.T) {
	dir := configTestIsolate(t, nil)
	writeFile(t, filepath.Join(dir, ".fluxlit-dev.pid"), "999999999\n")
	if code, out, errOut := cliRun(t, "shutdown"); code != 0 {
		t.Errorf("shutdown with a stale .fluxlit-dev.pid: exit %d %s%s; want 0", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, ".fluxlit-dev.pid")); err == nil {
		t.Errorf(".fluxlit-dev.pid is still there")
	}
}
