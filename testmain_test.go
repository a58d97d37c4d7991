// testmain_test.go owns what holds for the whole test binary: the one rule for skips (under
// FLUXLIT_REQUIRE_INTEGRATION=1, as in CI and the README's test command, a test that would
// skip fails instead), the check that every skip in the tree goes through that rule, and
// TestMain, which runs the helper processes some tests start from this binary.

package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// testRequireAll reports whether every test must run: FLUXLIT_REQUIRE_INTEGRATION=1.
func testRequireAll() bool { return os.Getenv("FLUXLIT_REQUIRE_INTEGRATION") == "1" }

// skipTest is the only way a test skips. Under FLUXLIT_REQUIRE_INTEGRATION=1 it fails the
// test instead, so that a green run there means that every test ran; without it the test
// skips with the reason. TestSkipsFollowTheRule keeps other skips out of the tree.
func skipTest(t testing.TB, format string, args ...any) {
	t.Helper()
	why := fmt.Sprintf(format, args...)
	if testRequireAll() {
		t.Fatalf("this test would skip, and FLUXLIT_REQUIRE_INTEGRATION=1 requires every test to run: %s", why)
	}
	t.Skip(why)
}

// skipInShortMode skips under `go test -short`, which runs the unit tests only. Under
// FLUXLIT_REQUIRE_INTEGRATION=1 the test runs even with -short: that setting means all.
func skipInShortMode(t testing.TB, what string) {
	t.Helper()
	if testing.Short() && !testRequireAll() {
		t.Skipf("%s: skipped in -short mode", what)
	}
}

// testHelpers are the helper processes tests start from this binary (testHelperCommand):
// name -> what the process does. Each file registers its own in an init function.
var testHelpers = map[string]func(){}

// testHelperEnv names the helper a process of this binary runs instead of the tests.
const testHelperEnv = "FLUXLIT_TEST_HELPER"

// testHelperCommand is a command that runs this test binary as the helper process name.
func testHelperCommand(name string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), testHelperEnv+"="+name), env...)
	return cmd
}

func TestMain(m *testing.M) {
	if name := os.Getenv(testHelperEnv); name != "" {
		helper, ok := testHelpers[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "no test helper named %q\n", name)
			os.Exit(2)
		}
		helper()
		os.Exit(0)
	}
	code := m.Run()
	harnessRemoveBuild()
	os.Exit(code)
}

// TestSkipsFollowTheRule reads every test file in the module: a t.Skip, t.Skipf or t.SkipNow
// may only be called by skipTest and skipInShortMode, and testing.Short only by
// skipInShortMode, so that no skip can pass CI unseen.
func TestSkipsFollowTheRule(t *testing.T) {
	allowed := map[string]bool{"skipTest": true, "skipInShortMode": true}
	var bad []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if ok && allowed[fn.Name.Name] && f.Name.Name == "main" {
				continue
			}
			ast.Inspect(decl, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				switch name := sel.Sel.Name; {
				case name == "Skip" || name == "Skipf" || name == "SkipNow":
					bad = append(bad, fmt.Sprintf("%s: %s (use skipTest)", fset.Position(sel.Pos()), name))
				case name == "Short" && isIdent(sel.X, "testing"):
					bad = append(bad, fmt.Sprintf("%s: testing.Short (use skipInShortMode)", fset.Position(sel.Pos())))
				}
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Errorf("%s", b)
	}
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}
