// compat_test.go runs the compatibility suite in compat/ (Python FluxLit's own tests, ported
// to start processes) against both runtimes: Python FluxLit's command line and this binary.
// A deliberate difference is a strict xfail there, so the suite fails both when fluxlit
// breaks a Python FluxLit behaviour and when a listed difference goes away unnoticed.

package main

import (
	"os"
	"os/exec"
	"regexp"
	"testing"
)

// compatSummary is pytest's last line: "98 passed, 9 xfailed in 61.02s"; compatBad finds
// the counts that must not be there ("xfailed" is fine, "failed" is not).
var (
	compatSummary = regexp.MustCompile(`(?m)^=*\s*(\d+ passed.*) in [\d.]+s`)
	compatBad     = regexp.MustCompile(`\b\d+ (failed|errors?|xpassed)\b`)
)

func TestCompatSuite(t *testing.T) {
	py := fluxlitPython(t)
	if out, err := exec.Command(py, "-c", "import pytest, websockets, httpx").CombinedOutput(); err != nil {
		harnessUnavailable(t, "%s cannot import pytest, websockets and httpx (requirements/newest.txt has them): %v: %s", py, err, out)
	}
	bin := fluxlitBinary(t)
	cmd := exec.Command(py, "-m", "pytest", "compat", "-q", "-rfxX", "-p", "no:cacheprovider", "-o", "addopts=",
		"--rootdir", "compat", "--basetemp", t.TempDir())
	cmd.Env = append(harnessEnvWithout("FLUXLIT_"), "FLUXLIT_BIN="+bin)
	out, err := cmd.CombinedOutput()
	text := string(out)
	if err != nil {
		t.Fatalf("compat suite failed (%v):\n%s", err, text)
	}
	m := compatSummary.FindStringSubmatch(text)
	if m == nil || compatBad.MatchString(m[1]) {
		t.Fatalf("compat suite: no clean summary:\n%s", text)
	}
	t.Logf("compat suite against Python FluxLit and %s: %s", bin, m[1])
	if os.Getenv("FLUXLIT_COMPAT_VERBOSE") != "" {
		t.Log(text)
	}
}
