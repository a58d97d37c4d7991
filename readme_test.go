package main

// Tests that the README says what the binary does (issue #19): its quick start, followed in a
// clean folder, works as written; its install section names the files "make release" makes;
// its table of settings is the settings table's.

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeBlock returns the command lines of the fenced block that follows marker in README.md
// (comments after "#" and blank lines dropped).
func readmeBlock(t *testing.T, marker string) []string {
	t.Helper()
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(data), marker)
	if !ok {
		t.Fatalf("README.md has no %q", marker)
	}
	_, block, _ := strings.Cut(after, "```sh\n")
	block, _, _ = strings.Cut(block, "```")
	var lines []string
	for _, l := range strings.Split(block, "\n") {
		if i := strings.Index(l, " #"); i >= 0 {
			l = l[:i]
		}
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestIntegrationReadmeQuickStart follows the README's quick start in an empty folder, command
// by command, and opens what the banner says to open. "fluxlit" is looked up on PATH as a
// shell does, with the binary installed as README's install section puts it and no virtualenv
// active: the project's .venv is found by fluxlit itself (with "source .venv/bin/activate", as
// the quick start once said, a venv holding the Python FluxLit package put that package's own
// "fluxlit" first on PATH, and "fluxlit dev" ran Python FluxLit: seen on a fresh clone, a
// TypeError traceback). Two stand-ins, and only these: the virtualenv is the test's pinned
// newest venv (the network is loopback only; its versions are the ones requirements.txt pins,
// TestScaffoldRequirementsPinned; it also holds the Python FluxLit package, as a FluxLit
// project's would), and the port is a free one (FLUXLIT_GATEWAY_PORT, since this machine
// runs other tests on 8000).
func TestIntegrationReadmeQuickStart(t *testing.T) {
	requireIntegration(t, "streamlit")
	lines := readmeBlock(t, "<!-- TestIntegrationReadmeQuickStart runs these commands -->")
	want := []string{"fluxlit new myapp", "cd myapp",
		"python3 -m venv .venv && .venv/bin/pip install -r requirements.txt", "fluxlit dev"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("README's quick start:\n%s\nthe test runs:\n%s\n(teach the test, or change README)", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	dir := t.TempDir()
	bin := fluxlitBinary(t)
	var env []string
	for _, kv := range cleanFluxlitEnv() {
		if !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "VIRTUAL_ENV=") {
			env = append(env, kv)
		}
	}
	env = append(env, "PATH="+filepath.Dir(bin)+":/usr/local/bin:/usr/bin:/bin")
	shell := func(dir, command string) *exec.Cmd {
		cmd := exec.Command("/bin/sh", "-c", "exec "+command)
		cmd.Dir, cmd.Env = dir, env
		return cmd
	}
	out, err := shell(dir, "fluxlit new myapp").CombinedOutput()
	if err != nil {
		t.Fatalf("fluxlit new myapp: %v\n%s", err, out)
	}
	if next := "\n  " + strings.Join(lines[1:], "\n  ") + "\n"; !strings.HasSuffix(string(out), next) {
		t.Errorf("fluxlit new myapp's next steps:\n%s\nwant the README's:%s", out, next)
	}
	dir = filepath.Join(dir, "myapp")
	venv := filepath.Dir(filepath.Dir(streamlitPython(t)))
	if err := os.Symlink(venv, filepath.Join(dir, ".venv")); err != nil {
		t.Fatal(err)
	}
	if out, err := shell(dir, "fluxlit config").CombinedOutput(); err != nil ||
		!regexp.MustCompile(`(?m)^python += `+regexp.QuoteMeta(filepath.Join(dir, ".venv", "bin", "python"))+` +\(default\)$`).Match(out) {
		t.Errorf("fluxlit config: %v; want python = the project's .venv/bin/python (default):\n%s", err, out)
	}
	port := freePort(t)
	p := &fluxlitProc{port: port, base: "http://127.0.0.1:" + strconv.Itoa(port), log: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = shell(dir, "fluxlit dev") // as written; the port comes from the environment
	p.cmd.Env = append(env, "FLUXLIT_GATEWAY_PORT="+strconv.Itoa(port))
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		<-p.done
		if t.Failed() {
			t.Logf("fluxlit dev:\n%s", p.log.String())
		}
	})
	ready := waitReadyRecord(t, p, 90*time.Second)
	for _, key := range []string{"app", "api_docs", "health"} {
		url, _ := ready[key].(string)
		if code := statusOf(t, url); code != 200 {
			t.Errorf("%s %s: %d; want 200", key, url, code)
		}
	}
	if seen := sessionThrough(t, p); !containsAll(seen, "script_finished") {
		t.Errorf("the new project's page: %q", seen)
	}
}

func runIn(dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	return cmd.CombinedOutput()
}

// waitReadyRecord returns the "fluxlit ready" record of a JSON-mode run.
func waitReadyRecord(t *testing.T, p *fluxlitProc, within time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(p.log.String()))
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == "fluxlit ready" {
				return rec
			}
		}
		select {
		case <-p.done:
			t.Fatalf("fluxlit exited before it was ready: %v", p.err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("no \"fluxlit ready\" within %v", within)
	return nil
}

// TestReadmeInstall: the install section downloads the files "make release" writes and
// checks them against its sha256sums.
func TestReadmeInstall(t *testing.T) {
	mk, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	arches := regexp.MustCompile(`(?m)^RELEASE_ARCHES := (.+)$`).FindStringSubmatch(string(mk))
	if arches == nil || !strings.Contains(string(mk), "sha256sum $(addprefix fluxlit-linux-,$(RELEASE_ARCHES)) > sha256sums") {
		t.Fatalf("Makefile: the release target no longer writes fluxlit-linux-<arch> and sha256sums as the test knows it")
	}
	lines := strings.Join(readmeBlock(t, "<!-- TestReadmeInstall checks these commands -->"), "\n")
	for _, w := range []string{"sha256sum --check --ignore-missing sha256sums", "install -m 0755 fluxlit-linux-amd64 /usr/local/bin/fluxlit", "fluxlit version"} {
		if !strings.Contains(lines, w) {
			t.Errorf("README's install commands lack %q:\n%s", w, lines)
		}
	}
	data, _ := os.ReadFile("README.md")
	_, section, _ := strings.Cut(string(data), "\n## Install\n")
	section, _, _ = strings.Cut(section, "\n## ")
	for _, arch := range strings.Fields(arches[1]) {
		if !strings.Contains(section, "fluxlit-linux-"+arch) {
			t.Errorf("README's install section does not name fluxlit-linux-%s, which make release writes", arch)
		}
	}
	if !strings.Contains(section, "go install") || !strings.Contains(section, "make release") {
		t.Errorf("README's install section lacks the build from a checkout (go install, make release)")
	}
}

// TestReadmeTestCommand: README states the test command, which .ci/run reads from it (after
// the same marker) and runs: one line, with the race detector, FLUXLIT_REQUIRE_INTEGRATION=1
// and a -timeout the whole suite fits in (go test's default 10 minutes does not: seen at
// load 10, "panic: test timed out after 10m0s"); CONTRIBUTING.md and "make test" say the same.
func TestReadmeTestCommand(t *testing.T) {
	const marker = "<!-- .ci/run runs this command -->"
	lines := readmeBlock(t, marker)
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "FLUXLIT_REQUIRE_INTEGRATION=1 go test -race ") ||
		!strings.HasSuffix(lines[0], " ./...") || !strings.Contains(lines[0], " -timeout 25m ") {
		t.Fatalf("README's test command %q; want one line: FLUXLIT_REQUIRE_INTEGRATION=1 go test -race … -timeout 25m ./...", lines)
	}
	command := lines[0]
	ci, err := os.ReadFile(".ci/run")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ci), strings.ReplaceAll(marker, ".ci/run", `\.ci\/run`)) || !strings.Contains(string(ci), `eval "$test_command"`) {
		t.Errorf(".ci/run does not read and run the command after README's %q", marker)
	}
	for file, want := range map[string]string{"CONTRIBUTING.md": command, "Makefile": "$(GO) " + strings.TrimPrefix(command, "FLUXLIT_REQUIRE_INTEGRATION=1 go ")} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), want) {
			t.Errorf("%s does not say README's test command %q", file, want)
		}
	}
}

// TestReadmeSettings: the README's table of settings is the one settingsTable renders
// (go test -run TestReadmeSettings -update rewrites it).
func TestReadmeSettings(t *testing.T) {
	const begin, end = "<!-- settings: begin (TestReadmeSettings; go test -run TestReadmeSettings -update) -->\n", "<!-- settings: end -->"
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	head, rest, ok1 := strings.Cut(string(data), begin)
	got, tail, ok2 := strings.Cut(rest, end)
	if !ok1 || !ok2 {
		t.Fatalf("README.md lacks the settings markers")
	}
	want := settingsMarkdown()
	if *update {
		if err := os.WriteFile("README.md", []byte(head+begin+want+end+tail), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != want {
		t.Errorf("README's settings table differs from settingsTable (go test -run TestReadmeSettings -update rewrites it)")
	}
}

// TestReadmeExamples: every "fluxlit …" line in the README's shell blocks names a command the
// binary has, and only flags its page lists; the command table names every command.
func TestReadmeExamples(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	pages := map[string]string{}
	for _, c := range commands {
		pages[c.name] = commandPage(c)
	}
	var inSh bool
	n := 0
	for i, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "```"):
			inSh = line == "```sh"
			continue
		case !inSh:
			continue
		}
		if j := strings.Index(line, " #"); j >= 0 {
			line = line[:j]
		}
		for _, cmdline := range regexp.MustCompile(`&&|\|`).Split(line, -1) {
			f := strings.Fields(cmdline)
			for len(f) > 0 && (f[0] == "sudo" || strings.Contains(f[0], "=")) {
				f = f[1:]
			}
			if len(f) < 2 || f[0] != "fluxlit" {
				continue
			}
			n++
			page, ok := pages[f[1]]
			if !ok && f[1] != "--version" && f[1] != "-v" && f[1] != "help" {
				t.Errorf("README.md:%d: %q: no command %q", i+1, strings.TrimSpace(cmdline), f[1])
				continue
			}
			for _, a := range f[2:] {
				name, _, _ := strings.Cut(a, "=")
				if strings.HasPrefix(name, "-") && !regexp.MustCompile(`(^|[\s,])`+regexp.QuoteMeta(name)+`([\s,=]|$)`).MatchString(page) {
					t.Errorf("README.md:%d: %q: %s is not a flag of fluxlit %s", i+1, strings.TrimSpace(cmdline), name, f[1])
				}
			}
		}
	}
	if n < 20 {
		t.Errorf("found %d fluxlit command lines in the README; the parser is broken", n)
	}
	_, section, _ := strings.Cut(string(data), "\n## The command line\n")
	section, _, _ = strings.Cut(section, "\n## ")
	for _, c := range commands {
		if c.name != "help" && !strings.Contains(section, "`fluxlit "+c.name) {
			t.Errorf("the command line section does not list fluxlit %s", c.name)
		}
	}
}
