package main

import (
	"os"
	"strings"
	"testing"
)

// TestDocMatchesUsage: the package documentation (doc.go) and "fluxlit help" are one manual.
func TestDocMatchesUsage(t *testing.T) {
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
	if got, want := trimmed(b.String()), trimmed(usage); got != want {
		t.Errorf("doc.go and the usage text differ; regenerate doc.go from main.go's usage\n--- doc.go\n%s\n--- usage\n%s", got, want)
	}
}
