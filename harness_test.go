// harness_test.go owns the integration-test harness: gating (skip, or fail under
// FLUXLIT_REQUIRE_INTEGRATION=1), the real Streamlit and uvicorn children started from the
// pinned venvs that scripts/python-envs.sh creates, free ports, and the fluxlit binary built once
// per `go test` run. Children run in their own process group and die at t.Cleanup.

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// harnessDefaultPython is the newest environment's interpreter (requirements/newest.txt: the
// newest Streamlit, FastAPI, uvicorn[standard], Python FluxLit), made by scripts/python-envs.sh.
// FLUXLIT_TEST_PYTHON overrides it.
const harnessDefaultPython = "/opt/fluxlit-venvs/newest/bin/python"

// harnessOldestPython is the oldest-supported environment's interpreter (requirements/oldest.txt:
// Streamlit 1.36, the floor doctor's streamlit_version row enforces). FLUXLIT_TEST_PYTHON_OLDEST
// overrides it.
const harnessOldestPython = "/opt/fluxlit-venvs/oldest/bin/python"

const (
	// harnessStartTimeout bounds a child's start. Streamlit is healthy in about 3-5 s on an
	// idle machine; -race runs with many parallel tests can be several times slower.
	harnessStartTimeout = 90 * time.Second
	// harnessPollInterval is how often readiness is probed: short next to the start time.
	harnessPollInterval = 100 * time.Millisecond
	// harnessStopGrace is how long a child gets after SIGTERM before SIGKILL. Streamlit needs
	// about 1-2 s to run its shutdown hooks.
	harnessStopGrace = 5 * time.Second
	// harnessStartAttempts retries a start whose child exited early: freePort closes its
	// listener before the child binds, so another process can take the port in between.
	harnessStartAttempts = 3
	// harnessLogTail is how much of a child's log is printed when a test fails: enough for a
	// Python traceback, short enough to read.
	harnessLogTail = 8 << 10
)

// requireIntegration skips the test unless `what` is available, or fails it when
// FLUXLIT_REQUIRE_INTEGRATION=1 (skipTest). `what` is "streamlit", "uvicorn" or "fastapi"
// (the launcher must import them), or the name of an executable looked up in PATH ("nginx",
// "wrk", "caddy", "chromium", "openssl", ...). `go test -short` skips every integration test.
func requireIntegration(t *testing.T, what string) {
	t.Helper()
	skipInShortMode(t, "integration test ("+what+")")
	if err := harnessAvailable(what); err != nil {
		harnessUnavailable(t, "%s: %v", what, err)
	}
}

// harnessUnavailable skips, or fails when integration tests are required.
func harnessUnavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	skipTest(t, "integration prerequisite missing: %s (run scripts/ci-install.sh as root)", fmt.Sprintf(format, args...))
}

// harnessAvailable reports why `what` cannot be used, or nil.
func harnessAvailable(what string) error {
	switch what {
	case "streamlit", "uvicorn", "fastapi":
		_, err := harnessCheckPython(harnessPythonPath())
		return err
	case "":
		return errors.New("requireIntegration needs a prerequisite name")
	}
	_, err := exec.LookPath(what)
	return err
}

// harnessPythonPath is the interpreter to use: FLUXLIT_TEST_PYTHON, else the newest venv.
func harnessPythonPath() string {
	if p := os.Getenv("FLUXLIT_TEST_PYTHON"); p != "" {
		return p
	}
	return harnessDefaultPython
}

// harnessOldestPythonPath is the oldest-supported interpreter: FLUXLIT_TEST_PYTHON_OLDEST, else
// the oldest venv.
func harnessOldestPythonPath() string {
	if p := os.Getenv("FLUXLIT_TEST_PYTHON_OLDEST"); p != "" {
		return p
	}
	return harnessOldestPython
}

// harnessPythonChecks caches, per launcher path, whether it imports everything the tests use;
// the check costs about a second, so it runs once per `go test` process.
var harnessPythonChecks sync.Map // path -> *harnessPythonCheck

type harnessPythonCheck struct {
	once sync.Once
	err  error
}

func harnessCheckPython(path string) (string, error) {
	v, _ := harnessPythonChecks.LoadOrStore(path, &harnessPythonCheck{})
	c := v.(*harnessPythonCheck)
	c.once.Do(func() {
		if _, err := os.Stat(path); err != nil {
			c.err = fmt.Errorf("launcher %s: %w", path, err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, path, "-c",
			"import streamlit, fastapi, uvicorn").CombinedOutput()
		if err != nil {
			c.err = fmt.Errorf("%s cannot import streamlit/fastapi/uvicorn: %v: %s",
				path, err, bytes.TrimSpace(out))
		}
	})
	return path, c.err
}

// streamlitPython returns the newest interpreter's path (FLUXLIT_TEST_PYTHON overrides the
// default), or skips/fails the test when it is missing or broken.
func streamlitPython(t *testing.T) string {
	t.Helper()
	p, err := harnessCheckPython(harnessPythonPath())
	if err != nil {
		harnessUnavailable(t, "%v", err)
	}
	return p
}

// oldestStreamlitPython is streamlitPython for the oldest-supported environment.
func oldestStreamlitPython(t *testing.T) string {
	t.Helper()
	p, err := harnessCheckPython(harnessOldestPythonPath())
	if err != nil {
		harnessUnavailable(t, "%v", err)
	}
	return p
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("freePort: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeFile writes content to path, creating parent directories.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatalf("writeFile %s: %v", path, err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatalf("writeFile %s: %v", path, err)
	}
}

// startStreamlit runs the real Streamlit on 127.0.0.1 with script, optional baseURLPath ("" or
// "/ui") and extra `--section.option value` flags, waits for <base>/_stcore/health and returns
// the base URL without a trailing slash ("http://127.0.0.1:PORT/ui"). The working directory is
// the script's directory (so a .streamlit/config.toml there applies); HOME is a temp dir and
// inherited STREAMLIT_* variables are dropped, so the user's config cannot leak in.
func startStreamlit(t *testing.T, script string, baseURLPath string, extra ...string) (baseURL string) {
	t.Helper()
	py := streamlitPython(t)
	abs, err := filepath.Abs(script)
	if err != nil {
		t.Fatalf("startStreamlit: %v", err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("startStreamlit: script: %v", err)
	}
	base := strings.Trim(baseURLPath, "/")
	home := t.TempDir()
	for attempt := 1; ; attempt++ {
		port := freePort(t)
		args := []string{"-m", "streamlit", "run", abs,
			"--server.port", strconv.Itoa(port), "--server.address", "127.0.0.1",
			"--server.headless", "true", "--browser.gatherUsageStats", "false"}
		if base != "" {
			args = append(args, "--server.baseUrlPath", "/"+base)
		}
		args = append(args, extra...)
		cmd := exec.Command(py, args...)
		cmd.Dir = filepath.Dir(abs)
		cmd.Env = append(harnessEnvWithout("STREAMLIT_", "HOME="), "HOME="+home)
		url := "http://127.0.0.1:" + strconv.Itoa(port)
		if base != "" {
			url += "/" + base
		}
		health := url + "/_stcore/health"
		ready := func() bool { return harnessHTTPStatus(health) == http.StatusOK }
		if harnessStart(t, fmt.Sprintf("streamlit-%d", port), cmd, ready, attempt == harnessStartAttempts) {
			return url
		}
	}
}

// startUvicorn runs the real uvicorn with --app-dir appDir and target ("app:app") on a free
// loopback port, plus extra flags ("--root-path", "/api", ...), waits until it answers HTTP and
// returns "http://127.0.0.1:PORT".
func startUvicorn(t *testing.T, appDir, target string, extra ...string) (baseURL string) {
	t.Helper()
	py := streamlitPython(t)
	dir, err := filepath.Abs(appDir)
	if err != nil {
		t.Fatalf("startUvicorn: %v", err)
	}
	for attempt := 1; ; attempt++ {
		port := freePort(t)
		args := append([]string{"-m", "uvicorn", "--app-dir", dir, target,
			"--host", "127.0.0.1", "--port", strconv.Itoa(port)}, extra...)
		cmd := exec.Command(py, args...)
		cmd.Dir = dir
		url := "http://127.0.0.1:" + strconv.Itoa(port)
		ready := func() bool { return harnessHTTPStatus(url+"/") != 0 }
		if harnessStart(t, fmt.Sprintf("uvicorn-%d", port), cmd, ready, attempt == harnessStartAttempts) {
			return url
		}
	}
}

// harnessStart starts cmd in its own process group with output to a log file, registers the
// kill at t.Cleanup, and polls ready. It returns false when the child exited before becoming
// ready because its port was taken and last is false (the caller retries on a new port);
// otherwise it fails the test. The log is printed at cleanup when the test failed.
func harnessStart(t *testing.T, name string, cmd *exec.Cmd, ready func() bool, last bool) bool {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	cmd.Stdin = nil
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	done := make(chan struct{})
	var waitErr error
	err = harnessRun(cmd, func(err error) {
		waitErr = err
		close(done)
	})
	logFile.Close() // the child holds its own descriptor
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	stop := func() { harnessStop(cmd.Process.Pid, done) }
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("%s log (%s):\n%s", name, logPath, harnessTail(logPath))
		}
	})

	deadline := time.Now().Add(harnessStartTimeout)
	for {
		select {
		case <-done:
			if !last && harnessPortTaken(logPath) {
				t.Logf("%s: port taken before the child bound it; retrying on another port", name)
				return false
			}
			t.Fatalf("%s exited before it was ready: %v (log below)", name, waitErr)
		default:
		}
		if ready() {
			return true
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("%s not ready after %v (log below)", name, harnessStartTimeout)
		}
		time.Sleep(harnessPollInterval)
	}
}

// harnessRun starts cmd so that it cannot outlive this test binary, and calls exited with
// cmd.Wait's error once it has ended. A test binary that ends without its cleanups (a panic,
// go test's -timeout, kill -9) would leave its children to PID 1, serving on and holding
// ports; on Linux the kernel SIGKILLs a child when the thread that forked it ends
// (Pdeathsig), so the fork happens on a thread locked to a goroutine that lives until the
// child is reaped: the thread ends with the test binary, or after the child. Grandchildren
// are the child's to stop (fluxlit's have Pdeathsig of their own).
func harnessRun(cmd *exec.Cmd, exited func(error)) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	harnessDieWithTest(cmd.SysProcAttr)
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited(cmd.Wait())
	}()
	return <-started
}

// harnessStop sends SIGTERM to the process group, then SIGKILL after harnessStopGrace. Once the
// leader has been reaped its id may be reused, so a finished child's group is left alone.
func harnessStop(pid int, done <-chan struct{}) {
	select {
	case <-done:
		return
	default:
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-done:
		return
	case <-time.After(harnessStopGrace):
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(harnessStopGrace):
	}
}

// harnessPortTaken reports whether a child's log says its port was in use: Streamlit prints
// "Port N is already in use", uvicorn "[Errno 98] ... address already in use".
func harnessPortTaken(logPath string) bool {
	return strings.Contains(strings.ToLower(harnessTail(logPath)), "already in use")
}

// harnessHTTPStatus GETs url and returns the status, or 0 when nothing answered.
func harnessHTTPStatus(url string) int {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// harnessTail returns the last harnessLogTail bytes of a log file.
func harnessTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	if len(b) > harnessLogTail {
		b = append([]byte("...\n"), b[len(b)-harnessLogTail:]...)
	}
	return string(b)
}

// harnessEnvWithout returns the environment minus variables starting with any prefix.
func harnessEnvWithout(prefixes ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}

// harnessBuild holds the one fluxlit build of this `go test` process.
var harnessBuild struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// fluxlitBinary builds the fluxlit binary (CGO_ENABLED=0, like a release) once per `go test`
// run and returns its path. TestMain calls harnessRemoveBuild after m.Run to delete it.
func fluxlitBinary(t *testing.T) string {
	t.Helper()
	harnessBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "fluxlit-test-bin-")
		if err != nil {
			harnessBuild.err = err
			return
		}
		harnessBuild.dir = dir
		bin := filepath.Join(dir, "fluxlit")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		// `go test` puts its own GOROOT/bin first in PATH, so this is the same toolchain.
		args := []string{"build", "-o", bin}
		if !fastEngineBuilt {
			args = append(args, "-tags", "nofastpath") // the same build as this test binary
		}
		cmd := exec.CommandContext(ctx, "go", append(args, ".")...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			harnessBuild.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		harnessBuild.path = bin
	})
	if harnessBuild.err != nil {
		t.Fatalf("fluxlitBinary: %v", harnessBuild.err)
	}
	return harnessBuild.path
}

// harnessRemoveBuild deletes the directory fluxlitBinary built into, if any.
func harnessRemoveBuild() {
	if harnessBuild.dir != "" {
		os.RemoveAll(harnessBuild.dir)
	}
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (net.Conn, net.Conn) { return connPair(t, "tcp") }

// localListener listens on a free loopback TCP port, or ("unix") on a Unix socket in the
// test's temporary directory.
func localListener(t testing.TB, network string) net.Listener {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// connPair returns the two ends of a loopback TCP or ("unix") Unix stream connection.
func connPair(t testing.TB, network string) (net.Conn, net.Conn) {
	t.Helper()
	ln := localListener(t, network)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	a, err := net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}
