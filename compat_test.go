// compat_test.go owns the tests that need the Python package FluxLit itself: finding an
// interpreter that imports it (the pinned venv), and running the compatibility suite in
// compat/ (Python FluxLit's own tests, black-box) against both runtimes.

package main

import (
	"context"
	"fmt"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// compatVenvPython is the pinned virtualenv with Python FluxLit, Streamlit, FastAPI, uvicorn
// and pytest (scripts install it; FLUXLIT_TEST_PYTHON may name another interpreter).
const compatVenvPython = "/opt/fluxlit-venvs/newest/bin/python"

var compatPythonOnce struct {
	sync.Once
	path string
	err  error
}

// pythonWithFluxlit returns an interpreter that imports fluxlit (the Python package), or
// skips/fails the test as requireIntegration does.
func pythonWithFluxlit(t *testing.T) string {
	t.Helper()
	skipInShortMode(t, "needs the Python FluxLit package")
	compatPythonOnce.Do(func() {
		var errs []error
		for _, p := range []string{harnessPythonPath(), compatVenvPython} {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			out, err := exec.CommandContext(ctx, p, "-c", "import fluxlit, dotenv, fastapi, uvicorn").CombinedOutput()
			cancel()
			if err == nil {
				compatPythonOnce.path = p
				return
			}
			errs = append(errs, fmt.Errorf("%s: %v: %s", p, err, out))
		}
		compatPythonOnce.err = fmt.Errorf("no interpreter imports the fluxlit package: %v", errs)
	})
	if compatPythonOnce.err != nil {
		harnessUnavailable(t, "%v", compatPythonOnce.err)
	}
	return compatPythonOnce.path
}
