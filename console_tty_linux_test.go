//go:build linux

package main

// The console on a real pseudo-terminal (issue #19): "fluxlit run" as a person runs it in a
// shell. Linux only: the terminal is opened with Linux's ioctls.

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"
)

// openPTY opens a pseudo-terminal pair: the master, which the test reads and types into, and
// the terminal end a child gets as its stdin, stdout and stderr. The standard library has no
// pty package: /dev/ptmx, unlocked (TIOCSPTLCK) and named (TIOCGPTN) as posix_openpt,
// unlockpt and ptsname do in C.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		harnessUnavailable(t, "pseudo-terminal: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("TIOCSPTLCK: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("TIOCGPTN: %v", e)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the terminal end: %v", err)
	}
	t.Cleanup(func() { master.Close(); tty.Close() })
	return master, tty
}

// ttyProc is fluxlit running on a pseudo-terminal, as a person runs it in a shell.
type ttyProc struct {
	cmd    *exec.Cmd
	master *os.File
	out    *syncBuffer
	done   chan struct{}
}

func startOnTTY(t *testing.T, dir string, env []string, args ...string) *ttyProc {
	t.Helper()
	master, tty := openPTY(t)
	p := &ttyProc{master: master, out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(fluxlitBinary(t), args...)
	p.cmd.Dir = dir
	p.cmd.Env = append(append(cleanFluxlitEnv(), "TERM=xterm", "NO_COLOR="), env...)
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = tty, tty, tty
	// Its own session with the pty as controlling terminal: Ctrl-C typed into the master is
	// a SIGINT from the terminal, as in a shell.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	go io.Copy(p.out, master) // ends with EIO once the last holder of the terminal exits
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("terminal:\n%s", p.out.String())
		}
	})
	return p
}

// waitFor returns the output once it contains s.
func (p *ttyProc) waitFor(t *testing.T, s string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if out := p.out.String(); strings.Contains(out, s) {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("terminal did not show %q within %v", s, within)
	return ""
}

// ttyMasks make a terminal transcript comparable: times, durations, ports, pids, sizes, the
// request id and the version vary from run to run.
var ttyMasks = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\x1b\[[0-9;]*m`), ""},
	{regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d `), "hh:mm:ss "},
	{regexp.MustCompile(`(?m), version \S+$`), ", version VERSION"},
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:PORT"},
	{regexp.MustCompile(`\[\d+\]`), "[PID]"},
	{regexp.MustCompile(`\d+(\.\d+)?(ms|s)\b`), "DUR"},
	{regexp.MustCompile(` \d+(\.\d+)?(B|kB) `), " SIZE "},
	{regexp.MustCompile(`id=\S+`), "id=ID"},
}

func maskTTY(out string) string {
	out = strings.ReplaceAll(out, "\r\n", "\n")
	out = strings.ReplaceAll(out, "^C", "") // the terminal echoes the Ctrl-C it turned into SIGINT
	for _, m := range ttyMasks {
		out = m.re.ReplaceAllString(out, m.with)
	}
	// A start slower than 5 s (a busy machine) says so; that line is not part of the golden.
	var kept []string
	for _, l := range strings.Split(out, "\n") {
		if !strings.Contains(l, "INFO  still starting ") {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "\n")
}

// TestIntegrationConsoleRunOnTTY is the start-up and stop of "fluxlit run" as a person sees
// it in a terminal, against testdata/console/run_tty.golden. Before #19 the same run printed
// 19 key=value lines of up to 215 columns, "child state ... pid=0" among them, Streamlit's
// blank lines as msg="", its internal "URL: http://127.0.0.1:<port>" as the only URL, and
// nothing to open.
func TestIntegrationConsoleRunOnTTY(t *testing.T) {
	dir := superviseProject(t, "")
	// The test app's Streamlit script fetches users on each session; none is opened here.
	port := freePort(t)
	p := startOnTTY(t, dir, nil, "run", "--port", strconv.Itoa(port), "--no-pidfile", "--debug=false")
	p.waitFor(t, "Health:", 90*time.Second)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	if res, body := httpDo(t, "GET", base+"/api/users", nil, nil); res.StatusCode != 200 {
		t.Fatalf("/api/users: %d %s", res.StatusCode, body)
	}
	p.waitFor(t, "GET /api/users 200", 10*time.Second)
	p.master.Write([]byte{3}) // Ctrl-C
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("fluxlit still running 30 s after Ctrl-C")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after Ctrl-C; want 0", code)
	}
	time.Sleep(100 * time.Millisecond) // the last bytes through the terminal
	raw := strings.ReplaceAll(p.out.String(), "\r\n", "\n")
	if !strings.Contains(raw, "\x1b[32mINFO\x1b[0m") {
		t.Errorf("no coloured INFO on a terminal:\n%q", raw)
	}
	for i, l := range strings.Split(raw, "\n") {
		plain := ttyMasks[0].re.ReplaceAllString(l, "")
		if n := utf8.RuneCountInString(plain); n > consoleWidth {
			t.Errorf("line %d is %d columns: %q", i+1, n, plain)
		}
		if strings.Contains(plain, "pid=0") {
			t.Errorf("line %d: pid=0 noise: %q", i+1, plain)
		}
	}
	got := maskTTY(raw)
	golden := filepath.Join("testdata", "console", "run_tty.golden")
	if *update {
		writeFile(t, golden, got)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("terminal transcript differs from %s (go test -run %s -update rewrites it):\n%s", golden, t.Name(), got)
	}
	if n := strings.Count(got, "App:       http://127.0.0.1:PORT/"); n != 1 {
		t.Errorf("the app's URL is printed %d times; want once", n)
	}
}
