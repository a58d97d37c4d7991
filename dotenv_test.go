// dotenv_test.go checks the .env reader: exact bindings for the shapes python-dotenv reads,
// agreement with python-dotenv itself (the reader Python FluxLit uses) over the same documents,
// and a fuzz target that no input panics or puts a binding outside the document.

package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

var dotenvCases = []struct {
	name string
	in   string
	want map[string]string
}{
	{"plain", "FLUXLIT_DEBUG=1\n", map[string]string{"FLUXLIT_DEBUG": "1"}},
	{"export and spaces", "export  FLUXLIT_A = x y  \n", map[string]string{"FLUXLIT_A": "x y"}},
	{"comments", "# c\nA=1 # note\nB=2#not a comment\nC= # empty\n", map[string]string{"A": "1", "B": "2#not a comment", "C": ""}},
	{"single quotes literal", `A='x\ny ${HOME} \'q\''`, map[string]string{"A": `x\ny /home/u 'q'`}},
	{"double quotes escapes", `A="x\ny\t\"q\" \\"`, map[string]string{"A": "x\ny\t\"q\" \\"}},
	{"multi-line quoted", "A=\"line1\nline2\"\nB=2", map[string]string{"A": "line1\nline2", "B": "2"}},
	{"expansion", "A=${HOME}/x\nB=${A}-${MISSING:-def}-${EMPTY:-def}\n", map[string]string{"A": "/home/u/x", "B": "/home/u/x-def-"}},
	{"not expanded", "A=$HOME ${ ${a:b}\n", map[string]string{"A": "$HOME ${ ${a:b}"}},
	{"key without value", "A\nB=1\n", map[string]string{"B": "1"}},
	{"empty value", "A=\nB=''\n", map[string]string{"A": "", "B": ""}},
	{"quoted key", "'A B'=1\n", map[string]string{"A B": "1"}},
	{"crlf", "A=1\r\nB=\"2\"\r\n", map[string]string{"A": "1", "B": "2"}},
	{"bad line skipped", "A=1\nthis is bad\nB=2\n", map[string]string{"A": "1", "B": "2"}},
	{"unterminated quote skipped", "A=\"x\nB=2\n", map[string]string{"B": "2"}},
	{"junk after quoted", "A=\"x\" y\nB=2\n", map[string]string{"B": "2"}},
	{"lower-case name", "fluxlit_gateway_port=9001\n", map[string]string{"fluxlit_gateway_port": "9001"}},
	{"bom", "\uFEFFA=1", map[string]string{"A": "1"}},
	{"later wins", "A=1\nA=2\n", map[string]string{"A": "2"}},
	{"key alone takes back", "A=1\nB=x\nA\nC=${A}${HOME}\n", map[string]string{"B": "x", "C": "/home/u"}},
	{"key alone hides the environment", "HOME\nC=[${HOME}]\n", map[string]string{"C": "[]"}},
}

// dotenvTestEnv is the environment expansion sees in these tests.
var dotenvTestEnv = map[string]string{"HOME": "/home/u", "EMPTY": ""}

func dotenvMap(f dotenvFile) map[string]string {
	m := map[string]string{}
	for _, b := range f.bindings {
		m[b.Key] = b.Value
	}
	return m
}

func TestParseDotEnv(t *testing.T) {
	for _, tt := range dotenvCases {
		t.Run(tt.name, func(t *testing.T) {
			got := dotenvMap(parseDotEnv(tt.in, dotenvTestEnv))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseDotEnv(%q)\ngot  %q;\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseDotEnvLinesAndSkips(t *testing.T) {
	f := parseDotEnv("\n# c\nA=1\nbad line\nB=\"x\ny\"\nC=3\n", nil)
	var lines []int
	for _, b := range f.bindings {
		lines = append(lines, b.Line)
	}
	if !reflect.DeepEqual(lines, []int{3, 5, 7}) {
		t.Errorf("binding lines: got %v; want [3 5 7]", lines)
	}
	want := []string{".env:4: python-dotenv could not parse this line; it is ignored"}
	if !reflect.DeepEqual(f.skipped, want) {
		t.Errorf("skipped: got %q; want %q", f.skipped, want)
	}
}

// TestDotEnvAgreesWithPythonDotenv reads every case above with python-dotenv's dotenv_values
// (as pydantic-settings does for Python FluxLit) and compares the results.
func TestDotEnvAgreesWithPythonDotenv(t *testing.T) {
	py := fluxlitPython(t)
	var docs []string
	for _, c := range dotenvCases {
		docs = append(docs, c.in)
	}
	docs = append(docs, dotenvFuzzSeeds...)
	payload, _ := json.Marshal(map[string]any{"docs": docs, "env": dotenvTestEnv})
	script := `
import io, json, os, sys
from dotenv import dotenv_values
req = json.load(sys.stdin)
os.environ.clear()
os.environ.update(req["env"])
out = []
for d in req["docs"]:
    vals = dotenv_values(stream=io.StringIO(d.removeprefix("\ufeff")))
    out.append({k: v for k, v in vals.items() if v is not None})
print(json.dumps(out))
`
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = bytes.NewReader(payload)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python-dotenv: %v: %s", err, stderr.String())
	}
	var want []map[string]string
	if err := json.Unmarshal(out, &want); err != nil || len(want) != len(docs) {
		t.Fatalf("python-dotenv answer %q: %v", out, err)
	}
	for i, d := range docs {
		if !utf8.ValidString(d) {
			continue
		}
		got := dotenvMap(parseDotEnv(d, dotenvTestEnv))
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("document %q:\nfluxlit       %q\npython-dotenv %q", d, got, want[i])
		}
	}
}

var dotenvFuzzSeeds = []string{
	"", "A=1", "export A=1", "A='x'", `A="x\n"`, "A=${B:-c}", "'A'=1", "A=1 #c", "#A=1", "A=\"\n",
	"A B=1", "=1", "A==1", "A=\"x\"y", "A=x\r\nB=y\rC=z", "export\n", "exportA=1", "A=${}", "A=${B:-${C}}",
	"A=\"a\\\"b\"", "A='a\\'b'", "A='a\\b'", " \t A=1", "A=\t1\t", "A=\"x\" # c",
}

func FuzzParseDotEnv(f *testing.F) {
	for _, s := range dotenvFuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		parsed := parseDotEnv(doc, dotenvTestEnv)
		lines := strings.Count(doc, "\n") + strings.Count(doc, "\r") + 1
		for _, b := range parsed.bindings {
			if b.Line < 1 || b.Line > lines {
				t.Fatalf("binding %s at line %d of a %d-line document", b.Key, b.Line, lines)
			}
			if b.Key == "" {
				t.Fatalf("binding with an empty key at line %d", b.Line)
			}
		}
	})
}
