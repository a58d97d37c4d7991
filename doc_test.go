package main

import (
	"os"
	"strings"
	"testing"
)

// TestDocMatchesUsage: the package documentation (doc.go) is the manual: the overview that
// "fluxlit help" prints and every command's page ("fluxlit help CMD"). Rewrite it with -update.
func TestDocMatchesUsage(t *testing.T) {
	if *update {
		var b strings.Builder
		b.WriteString("// Fluxlit is the manual of the fluxlit command; \"fluxlit help\" prints the overview and\n")
		b.WriteString("// \"fluxlit help CMD\" each page (TestDocMatchesUsage keeps them equal; go test -run TestDoc -update).\n//\n")
		for _, l := range strings.Split(strings.TrimRight(manual(), "\n"), "\n") {
			switch {
			case l == "":
				b.WriteString("//\n")
			case strings.HasPrefix(l, "\t"):
				b.WriteString("//" + l + "\n")
			default:
				b.WriteString("// " + l + "\n")
			}
		}
		b.WriteString("package main\n")
		if err := os.WriteFile("doc.go", []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	lines := strings.Split(string(data), "\n")
	for _, l := range lines[3:] { // after the two-line preamble and its blank comment line
		if !strings.HasPrefix(l, "//") {
			break
		}
		l = strings.TrimPrefix(l, "//")
		if !strings.HasPrefix(l, "\t") {
			l = strings.TrimPrefix(l, " ") // gofmt writes indented lines as "//\t…"
		}
		b.WriteString(l + "\n")
	}
	trimmed := func(s string) string {
		var out []string
		for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
			out = append(out, strings.TrimRight(l, " "))
		}
		return strings.Join(out, "\n")
	}
	if got, want := trimmed(b.String()), trimmed(manual()); got != want {
		t.Errorf("doc.go and the manual differ; rewrite doc.go with go test -run TestDocMatchesUsage -update\n--- doc.go\n%s\n--- manual\n%s", got, want)
	}
}
