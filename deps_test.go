package main

import (
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
	mods, err := exec.Command("go", "list", "-m", "all").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(mods)), "\n")[1:] {
		if m := strings.Fields(line)[0]; !allowedModules[m] {
			t.Errorf("go.mod reaches module %s", m)
		}
	}
}
