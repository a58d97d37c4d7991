// compat_test.go runs the compatibility suite in compat/ (Python FluxLit's own tests, ported
// to start processes) against both runtimes: Python FluxLit's command line and this binary.
// A deliberate difference is a strict xfail there, so the suite fails both when fluxlit
// breaks a Python FluxLit behaviour and when a listed difference goes away unnoticed.

package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"testing"
)

// compatShards is how many pytest processes share the suite. It mostly waits for runtimes
// to start (a run used 100 s of CPU in 350 s alone), so three at once finish in about half the
// time on CI's two cores.
const compatShards = 3

// compatSummary is pytest's last line: "49 passed, 3 xfailed, 98 deselected in 61.02s";
// compatBad finds the counts that must not be there ("xfailed" is fine, "failed" is not).
var (
	compatSummary = regexp.MustCompile(`(?m)^=*\s*(\d+ passed.*) in [\d.]+s`)
	compatBad     = regexp.MustCompile(`\b\d+ (failed|errors?|xpassed)\b`)
	compatCount   = regexp.MustCompile(`(\d+) (passed|xfailed|skipped|deselected)`)
)

func TestCompatSuite(t *testing.T) {
	py := fluxlitPython(t)
	if out, err := exec.Command(py, "-c", "import pytest, websockets, httpx").CombinedOutput(); err != nil {
		harnessUnavailable(t, "%s cannot import pytest, websockets and httpx (requirements/newest.txt has them): %v: %s", py, err, out)
	}
	bin := fluxlitBinary(t)
	// Each shard counts what it ran and what it left to the others; together they must have
	// run every test once (compat/conftest.py splits them).
	var mu sync.Mutex
	ran, total := 0, 0
	t.Run("shards", func(t *testing.T) {
		for i := range compatShards {
			t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
				t.Parallel()
				counts := compatRun(t, py, bin, fmt.Sprintf("%d/%d", i, compatShards))
				mu.Lock()
				defer mu.Unlock()
				ran += counts["passed"] + counts["xfailed"] + counts["skipped"]
				total = counts["passed"] + counts["xfailed"] + counts["skipped"] + counts["deselected"]
			})
		}
	})
	if !t.Failed() && ran != total {
		t.Errorf("the shards ran %d tests; the suite has %d", ran, total)
	}
}

// compatRun runs one shard of the suite and returns its summary's counts.
func compatRun(t *testing.T, py, bin, shard string) map[string]int {
	cmd := exec.Command(py, "-m", "pytest", "compat", "-q", "-rfxX", "-p", "no:cacheprovider", "-o", "addopts=",
		"--rootdir", "compat", "--basetemp", t.TempDir())
	cmd.Env = append(harnessEnvWithout("FLUXLIT_"), "FLUXLIT_BIN="+bin, "COMPAT_SHARD="+shard)
	out, err := cmd.CombinedOutput()
	text := string(out)
	if err != nil {
		t.Fatalf("compat suite, shard %s, failed (%v):\n%s", shard, err, text)
	}
	m := compatSummary.FindStringSubmatch(text)
	if m == nil || compatBad.MatchString(m[1]) {
		t.Fatalf("compat suite, shard %s: no clean summary:\n%s", shard, text)
	}
	t.Logf("compat suite against Python FluxLit and %s, shard %s: %s", bin, shard, m[1])
	if os.Getenv("FLUXLIT_COMPAT_VERBOSE") != "" {
		t.Log(text)
	}
	counts := map[string]int{}
	for _, c := range compatCount.FindAllStringSubmatch(m[1], -1) {
		counts[c[2]], _ = strconv.Atoi(c[1])
	}
	return counts
}
