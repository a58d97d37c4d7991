package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// allowedModules are the only modules fluxlit may depend on, tests included (the user's
// constraint): the standard library, golang.org/x/net and golang.org/x/sync.
var allowedModules = map[string]bool{"fluxlit": true, "golang.org/x/net": true, "golang.org/x/sync": true}

func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test", "-f", "{{if not .Standard}}{{with .Module}}{{.Path}}{{end}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := map[string]bool{}
	for _, m := range strings.Fields(string(out)) {
		seen[m] = true
		if !allowedModules[m] {
			t.Errorf("dependency on module %s; only the standard library, golang.org/x/net and golang.org/x/sync are allowed", m)
		}
	}
	if !seen["golang.org/x/sync"] || !seen["golang.org/x/net"] {
		t.Logf("modules in use: %v", seen)
	}
	// go.mod itself names only the two allowed modules. (The module graph, "go list -m all",
	// also lists x/net's own requirements — x/crypto, x/sys, x/term, x/text — which no
	// fluxlit package imports; the -deps check above is what proves that.)
	mods, err := exec.Command("go", "list", "-m", "-f", "{{if not .Main}}{{if not .Indirect}}{{.Path}}{{end}}{{end}}", "all").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	for _, m := range strings.Fields(string(mods)) {
		if !allowedModules[m] {
			t.Errorf("go.mod requires module %s", m)
		}
	}
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(gomod), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.Contains(f[0], ".") && !allowedModules[f[0]] {
			t.Errorf("go.mod line %q names a module outside the allowed set", line)
		}
	}
}
