// testmain_test.go owns what holds for the whole test binary: the one rule for skips (under
// FLUXLIT_REQUIRE_INTEGRATION=1, as in CI and the README's test command, a test that would
// skip fails instead), the check that every skip in the tree goes through that rule, and
// TestMain, which runs the helper processes some tests start from this binary and, after the
// tests, fails the run when a process they started is still alive (an orphan).

package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
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
	os.Setenv(testRunEnv, testRunID())
	code := m.Run()
	harnessRemoveBuild()
	if left := testLeftovers(testLeftoverGrace); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d process(es) started by these tests outlived them (%s=%s in their environment), killed now:\n", len(left), testRunEnv, os.Getenv(testRunEnv))
		for _, p := range left {
			fmt.Fprintf(os.Stderr, "  %s\n", p)
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// testRunEnv marks every process this test run starts: TestMain sets it, with a value of its
// own, in the test binary's environment before the tests run, so children, grandchildren and
// whatever they start inherit it (fluxlit passes its environment on to its children, and the
// harness's environments derive from os.Environ). The name has no FLUXLIT_ prefix, so neither
// fluxlit nor Python FluxLit reads it as a setting and no test's env filter drops it.
const testRunEnv = "FLUXLITTEST_RUN"

// testLeftoverGrace is how long processes get, after the last test's cleanup, to finish
// exiting: a SIGTERMed fluxlit is reaped at once, but its children's groups get SIGKILL
// only after their own grace, and a busy machine slows every exit.
const testLeftoverGrace = 15 * time.Second

// testRunID is a value no other test run on this machine has.
func testRunID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return fmt.Sprintf("%d-%x", os.Getpid(), b)
}

// testLeftover is a live process that carries this run's testRunEnv.
type testLeftover struct {
	pid, ppid int
	cwd, cmd  string
}

func (p testLeftover) String() string {
	return fmt.Sprintf("pid %d (parent %d, cwd %s): %s", p.pid, p.ppid, p.cwd, p.cmd)
}

// testLeftovers waits up to grace for every process carrying this run's marker (other than
// this one) to end, and returns those still alive then. Zombies count as ended: their
// environment is gone, and their parent is the one to reap them. A program that rewrites
// its own environment area (nginx and Chromium set their process titles there) cannot be
// seen; fluxlit, Python, Streamlit and uvicorn can.
func testLeftovers(grace time.Duration) []testLeftover {
	marker := []byte(testRunEnv + "=" + os.Getenv(testRunEnv) + "\x00")
	deadline := time.Now().Add(grace)
	for {
		var left []testLeftover
		dirs, _ := filepath.Glob("/proc/[0-9]*")
		for _, dir := range dirs {
			pid, err := strconv.Atoi(filepath.Base(dir))
			if err != nil || pid == os.Getpid() {
				continue
			}
			env, err := os.ReadFile(filepath.Join(dir, "environ"))
			if err != nil || !bytes.HasPrefix(env, marker) && !bytes.Contains(env, append([]byte{0}, marker...)) {
				continue
			}
			p := testLeftover{pid: pid}
			p.ppid, p.cmd, _ = procParentAndCommand(dir)
			p.cwd, _ = os.Readlink(filepath.Join(dir, "cwd"))
			left = append(left, p)
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(100 * time.Millisecond)
	}
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

// TestLeftoversNamesAMarkedProcess: a process this run started is what the end-of-run check
// reports while it lives, and is not once it has ended. Its end is waited for by pid, so
// the check never depends on what the other tests still run.
func TestLeftoversNamesAMarkedProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		skipTest(t, "no /proc: the orphan check reads Linux's /proc")
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	has := func(left []testLeftover) bool {
		return slices.ContainsFunc(left, func(p testLeftover) bool { return p.pid == cmd.Process.Pid })
	}
	if left := testLeftovers(0); !has(left) {
		t.Errorf("a live `sleep 60` started by this test is not among the leftovers %v", left)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if left := testLeftovers(0); has(left) {
		t.Errorf("the reaped `sleep 60` (pid %d) is still reported: %v", cmd.Process.Pid, left)
	}
}

// procParentAndCommand reads the parent pid and the command line (its arguments joined by
// spaces) of the process whose /proc directory is dir; ok is false when it has ended.
func procParentAndCommand(dir string) (ppid int, cmd string, ok bool) {
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return 0, "", false
	}
	// pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
	if f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:])); len(f) > 1 {
		ppid, _ = strconv.Atoi(f[1])
	}
	line, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
	return ppid, strings.TrimSpace(strings.ReplaceAll(string(line), "\x00", " ")), true
}
