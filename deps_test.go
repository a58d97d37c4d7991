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
	for _, m := range strings.Fields(string(out)) {
		if !allowedModules[m] {
			t.Errorf("dependency on module %s; only the standard library, golang.org/x/net and golang.org/x/sync are allowed", m)
		}
	}
	// The whole module graph, indirect requirements included, stays inside the allowed set:
	// x/net's own requirements (x/crypto, x/sys, x/term, x/text) are why fluxlit writes its
	// connection limit itself (limitlisten.go) instead of importing x/net/netutil.
	mods, err := exec.Command("go", "list", "-m", "-f", "{{if not .Main}}{{.Path}}{{end}}", "all").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	for _, m := range strings.Fields(string(mods)) {
		if !allowedModules[m] {
			t.Errorf("the module graph holds %s", m)
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
