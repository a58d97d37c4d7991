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
	"regexp"
	"runtime/debug"
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

// TestVersionFromBuild: a source build names its code. Before #19 "fluxlit version" said
// "fluxlit dev" for every build without -ldflags.
func TestVersionFromBuild(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	rev := "9add1c6abcdef0123456789abcdef0123456789a"
	tests := []struct {
		name, v, c, mainVersion string
		settings                []debug.BuildSetting
		wantV, wantC            string
	}{
		{"release (-ldflags)", "v1.2.0", "abc", "(devel)", vcs(rev, "false"), "v1.2.0", "abc"},
		{"go install @version", "dev", "", "v1.2.3", nil, "v1.2.3", ""},
		{"checkout, Go's pseudo-version", "dev", "", "v0.0.0-20261205014446-9add1c6abcde", vcs(rev, "false"), "v0.0.0-20261205014446-9add1c6abcde", "9add1c6abcde"},
		{"checkout, no module version", "dev", "", "(devel)", vcs(rev, "true"), "dev-9add1c6abcde-dirty", "9add1c6abcde"},
		{"no version control information", "dev", "", "(devel)", nil, "dev", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info := &debug.BuildInfo{Main: debug.Module{Version: tc.mainVersion}, Settings: tc.settings}
			if v, c := versionFromBuild(tc.v, tc.c, info); v != tc.wantV || c != tc.wantC {
				t.Errorf("got %q, %q; want %q, %q", v, c, tc.wantV, tc.wantC)
			}
		})
	}
	for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}} {
		if code, out, _ := cliRun(t, args...); code != 0 || !strings.HasPrefix(out, "fluxlit "+version+" (commit ") {
			t.Errorf("fluxlit %s: exit %d, %q; want 0 and the version line", args[0], code, out)
		}
	}
}

// TestFlagErrors: a mistyped flag is named as the manual spells it, with the way out. Before
// #19: Go's "flag provided but not defined: -prot", one dash and no suggestion.
func TestFlagErrors(t *testing.T) {
	configTestIsolate(t, nil)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--prot", "80"}, "fluxlit: fluxlit run: unknown flag --prot (did you mean --port?)\n"},
		{[]string{"dev", "-prot", "80"}, "fluxlit: fluxlit dev: unknown flag --prot (did you mean --port?)\n"},
		{[]string{"run", "--gateway-port", "80"}, "fluxlit: fluxlit run: unknown flag --gateway-port (the flag for gateway_port is --port)\n"},
		{[]string{"config", "--api-health-path", "/h"}, "fluxlit: fluxlit config: unknown flag --api-health-path (api_health_path has no flag here: set FLUXLIT_API_HEALTH_PATH or api_health_path in fluxlit.toml)\n"},
		{[]string{"doctor", "--verbos"}, "fluxlit: fluxlit doctor: unknown flag --verbos (did you mean --verbose?)\n"},
		{[]string{"shutdown", "--forse"}, "fluxlit: fluxlit shutdown: unknown flag --forse (did you mean --force?)\n"},
		{[]string{"run", "--zzzz"}, "fluxlit: fluxlit run: unknown flag --zzzz (\"fluxlit help run\" lists its flags)\n"},
		{[]string{"shutdown", "--wait"}, "fluxlit: fluxlit shutdown: flag --wait needs a value\n"},
		{[]string{"shutdown", "--wait", "soon"}, "fluxlit: fluxlit shutdown: flag --wait: \"soon\" is not a number\n"},
		{[]string{"new", "x", "--profle", "y"}, "fluxlit: fluxlit new: unknown flag --profle (did you mean --profile?)\n"},
	}
	for _, tc := range tests {
		if code, _, errOut := cliRun(t, tc.args...); code != 2 || errOut != tc.want {
			t.Errorf("fluxlit %s: exit %d, %q; want 2, %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
}

// TestScriptArgument: the Streamlit script is a flag and the second argument, as "streamlit
// run app.py" takes it. Before #19 neither existed (streamlit_script only in the file or env).
func TestScriptArgument(t *testing.T) {
	configTestIsolate(t, nil)
	field := regexp.MustCompile(`(?m)^(target|streamlit_script)\s+= (\S+)\s+\((.+)\)$`)
	for _, args := range [][]string{{"config", "main:api", "ui.py"}, {"config", "main:api", "--streamlit-script", "ui.py"}, {"config", "--streamlit-script=ui.py", "main:api"}} {
		code, out, errOut := cliRun(t, args...)
		got := map[string]string{}
		for _, m := range field.FindAllStringSubmatch(out, -1) {
			got[m[1]] = m[2] + " (" + m[3] + ")"
		}
		if code != 0 || got["target"] != "main:api (flag)" || got["streamlit_script"] != "ui.py (flag)" {
			t.Errorf("fluxlit %s: exit %d, %v %s; want target main:api and streamlit_script ui.py, both from the command line", strings.Join(args, " "), code, got, errOut)
		}
	}
	if code, _, errOut := cliRun(t, "config", "a:app", "b.py", "c"); code != 2 || errOut != "fluxlit: fluxlit config: unexpected argument \"c\" (the arguments are TARGET and SCRIPT)\n" {
		t.Errorf("three arguments: exit %d, %q", code, errOut)
	}
}

// TestConfigDescribe: "fluxlit config --describe" names every setting with its description
// from the settings table, and needs no loadable project. Before #19 no command said what a
// setting does.
func TestConfigDescribe(t *testing.T) {
	dir := configTestIsolate(t, nil)
	writeFile(t, filepath.Join(dir, "fluxlit.toml"), "gateway_port = \"not a port\"\n")
	code, out, errOut := cliRun(t, "config", "--describe")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q; want 0", code, errOut)
	}
	for _, s := range settingsTable {
		if !strings.Contains(out, "\n"+s.name+" (") || !strings.Contains(out, "\n    "+s.doc) {
			t.Errorf("no entry for %s with its description %q", s.name, s.doc)
		}
	}
	if !strings.Contains(out, "\ngateway_port (an integer, default 8000; FLUXLIT_GATEWAY_PORT, --port)\n    public listen port") {
		t.Errorf("gateway_port's entry lacks its kind, default, variable or flag:\n%.600s", out)
	}
}
