package main

// Integration tests of doctor against what a person runs it on (issue #19): an app that
// imports slowly, and the project's own fluxlit already running. The real binary and the
// newest venv's interpreter.

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func runDoctor(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(fluxlitBinary(t), append([]string{"doctor"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(cleanFluxlitEnv(), "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

// doctorRowLine returns the "STATUS  name: detail" line of a row.
func doctorRowLine(out, name string) string {
	m := regexp.MustCompile(`(?m)^(PASS|WARN|FAIL|SKIP)\s+` + regexp.QuoteMeta(name) + `:.*$`).FindString(out)
	return strings.Join(strings.Fields(m), " ")
}

// TestIntegrationDoctorSlowImport: an app whose import takes 8 s starts under the default
// child_ready_timeout_s (60 s), so doctor passes it and says the import is slow. Before #19
// the probe gave up after a fixed 5 s: python FAIL (now the python_version row), exit 1, and a hint that blamed the code.
func TestIntegrationDoctorSlowImport(t *testing.T) {
	requireIntegration(t, "fastapi")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.py"), "import time\ntime.sleep(8)\n"+raisingApp)
	writeFile(t, filepath.Join(dir, "streamlit_app.py"), "import streamlit as st\n")
	// A free port: gateway_bind must not FAIL because another test holds 8000.
	writeFile(t, filepath.Join(dir, "fluxlit.toml"), fmt.Sprintf("python = %q\ngateway_port = %d\n", streamlitPython(t), freePort(t)))
	start := time.Now()
	code, out := runDoctor(t, dir)
	if code != 0 {
		t.Fatalf("doctor exit %d; want 0\n%s", code, out)
	}
	row := doctorRowLine(out, "import_target")
	if !regexp.MustCompile(`^PASS import_target: app:app \(imports in [89]\.\ds; a start waits up to child_ready_timeout_s = 60\)$`).MatchString(row) {
		t.Errorf("import_target row %q; want PASS with the import time", row)
	}
	if row := doctorRowLine(out, "python_version"); !strings.HasPrefix(row, "PASS python_version: ") {
		t.Errorf("python_version row %q; want PASS", row)
	}
	t.Logf("doctor took %v", time.Since(start).Round(time.Millisecond))
}

// TestIntegrationDoctorLiveInstance: doctor in the folder of a running fluxlit reports that
// instance and its readyz, and exits 0. Before #19 gateway_bind FAILed on the instance's own
// port (exit 1) and the pidfile row told the user to shut it down.
func TestIntegrationDoctorLiveInstance(t *testing.T) {
	dir := devProject(t, "")
	port := freePort(t)
	writeFile(t, filepath.Join(dir, "fluxlit.toml"), fmt.Sprintf("python = %q\ngateway_port = %d\n", streamlitPython(t), port))
	p := launchFluxlit(t, dir, nil, "run", "--port", strconv.Itoa(port)) // the port the file names, which doctor reads
	waitStatus(t, p.base+"/api/readyz", 200, 90*time.Second)
	code, out := runDoctor(t, dir)
	if code != 0 {
		t.Fatalf("doctor exit %d; want 0\n%s", code, out)
	}
	pid := strconv.Itoa(p.cmd.Process.Pid)
	want := "PASS gateway_bind: 127.0.0.1:" + strconv.Itoa(port) + " is served by this project's running fluxlit (pid " + pid +
		", " + filepath.Join(dir, ".fluxlit.pid") + "); http://127.0.0.1:" + strconv.Itoa(port) + "/api/readyz: 200 ready"
	if row := doctorRowLine(out, "gateway_bind"); row != want {
		t.Errorf("gateway_bind row\n%q; want\n%q", row, want)
	}
	if row := doctorRowLine(out, "pidfile"); !strings.HasPrefix(row, "PASS pidfile: ") || !strings.Contains(row, "pid "+pid+", this project's running fluxlit") {
		t.Errorf("pidfile row %q; want PASS naming the instance", row)
	}
}
