package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pidfileTestProcess starts this test binary as a long-running helper (pidfileHelperSleep)
// and reaps it in the background, so a stopped helper does not linger as a zombie.
// ignoreTerm makes it ignore SIGTERM.
func pidfileTestProcess(t *testing.T, ignoreTerm bool) (pid int, exited <-chan struct{}) {
	t.Helper()
	helper := "pidfile-sleep"
	if ignoreTerm {
		helper = "pidfile-ignore-term"
	}
	cmd := testHelperCommand(helper)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the helper says it is ready (its signal handling is in place).
	buf := make([]byte, 0, 256)
	deadline := time.Now().Add(10 * time.Second)
	for !bytes.Contains(buf, []byte("helper ready")) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("helper not ready: %q", buf)
		}
		chunk := make([]byte, 256)
		n, err := out.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if err != nil {
			t.Fatalf("helper output: %v (%q)", err, buf)
		}
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	return cmd.Process.Pid, done
}

func init() {
	testHelpers["pidfile-sleep"] = func() { pidfileHelperSleep(false) }
	testHelpers["pidfile-ignore-term"] = func() { pidfileHelperSleep(true) }
}

// pidfileHelperSleep is the process pidfileTestProcess starts: one for the tests to stop.
func pidfileHelperSleep(ignoreTerm bool) {
	if ignoreTerm {
		signal.Ignore(syscall.SIGTERM)
	}
	os.Stdout.WriteString("helper ready\n")
	time.Sleep(60 * time.Second) // the test stops us long before
}

// pidfileDeadPID returns the pid of a process that has exited and been reaped.
func pidfileDeadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func pidfileWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParsePidfile(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr bool
	}{
		{"plain", "123\n", 123, false},
		{"spaces", "  42  \r\n", 42, false},
		{"no newline", "7", 7, false},
		{"empty", "", 0, true},
		{"zero", "0\n", 0, true},
		{"negative", "-5\n", 0, true},
		{"text", "fluxlit\n", 0, true},
		{"two numbers", "1 2\n", 0, true},
		{"too long", strings.Repeat("1", 100), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePidfile([]byte(tt.in))
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("got %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, errPidfileInvalid) {
				t.Errorf("error %v does not wrap errPidfileInvalid", err)
			}
		})
	}
}

func FuzzParsePidfile(f *testing.F) {
	for _, seed := range []string{"123\n", "", "-1", "0", " 9 ", "99999999999999999999999", "\x00"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		pid, err := parsePidfile(in)
		// Accepted input is a positive decimal number, possibly with '+' and leading zeros.
		if err == nil && (pid <= 0 || strings.TrimLeft(strings.TrimSpace(string(in)), "+0") != strconv.Itoa(pid)) {
			t.Fatalf("parsePidfile(%q) = %d", in, pid)
		}
	})
}

func TestWritePidfile(t *testing.T) {
	self := strconv.Itoa(os.Getpid()) + "\n"

	t.Run("fresh, creating directories", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "run", "fluxlit")
		path := filepath.Join(dir, ".fluxlit.pid")
		if err := writePidfile(path); err != nil {
			t.Fatalf("writePidfile: %v", err)
		}
		b, _ := os.ReadFile(path)
		if string(b) != self {
			t.Errorf("content %q; want %q", b, self)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("directory holds %d entries; want only the pidfile (no temporary left)", len(entries))
		}
		if fi, err := os.Stat(path); runtime.GOOS != "windows" && (err != nil || fi.Mode().Perm() != 0o644) {
			t.Errorf("mode %v, %v; want 0644", fi.Mode().Perm(), err)
		}
	})
	for _, tt := range []struct{ name, content string }{
		{"stale pid replaced", strconv.Itoa(pidfileDeadPID(t)) + "\n"},
		{"invalid content replaced", "garbage\n"},
		{"our own pid rewritten", self},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ".fluxlit.pid")
			pidfileWrite(t, path, tt.content)
			if err := writePidfile(path); err != nil {
				t.Fatalf("writePidfile: %v", err)
			}
			if b, _ := os.ReadFile(path); string(b) != self {
				t.Errorf("content %q; want %q", b, self)
			}
		})
	}
	t.Run("live process refused", func(t *testing.T) {
		pid, _ := pidfileTestProcess(t, false)
		path := filepath.Join(t.TempDir(), ".fluxlit.pid")
		pidfileWrite(t, path, strconv.Itoa(pid)+"\n")
		err := writePidfile(path)
		want := "another fluxlit (pid " + strconv.Itoa(pid) + `) is running; run "fluxlit shutdown"`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("writePidfile = %v; want an error containing %q", err, want)
		}
		if got, _ := readPidfile(path); got != pid {
			t.Errorf("pidfile now names %d; want it untouched (%d)", got, pid)
		}
	})
}

func TestRemovePidfile(t *testing.T) {
	tests := []struct {
		name       string
		content    string // "" = no file
		pid        int
		wantExists bool
	}{
		{"names us", "100\n", 100, false},
		{"names another", "101\n", 100, true},
		{"invalid kept", "junk", 100, true},
		{"missing", "", 100, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ".fluxlit.pid")
			if tt.content != "" {
				pidfileWrite(t, path, tt.content)
			}
			if err := removePidfile(path, tt.pid); err != nil {
				t.Fatalf("removePidfile: %v", err)
			}
			_, err := os.Stat(path)
			if got := err == nil; got != tt.wantExists {
				t.Errorf("file exists %v; want %v", got, tt.wantExists)
			}
		})
	}
}

func TestReadPidfileMissing(t *testing.T) {
	_, err := readPidfile(filepath.Join(t.TempDir(), "nope.pid"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v; want fs.ErrNotExist", err)
	}
}

func TestShutdownCommand(t *testing.T) {
	t.Run("no pidfile", func(t *testing.T) {
		var out bytes.Buffer
		if got := shutdownCommand(filepath.Join(t.TempDir(), "x.pid"), false, time.Second, &out); got != 2 {
			t.Errorf("got %v; want 2 (%s)", got, out.String())
		}
		if !strings.Contains(out.String(), "No pid file at") {
			t.Errorf("output %q; want it to say there is no pid file", out.String())
		}
	})
	for _, tt := range []struct{ name, content, want string }{
		{"stale", strconv.Itoa(pidfileDeadPID(t)) + "\n", "Removed stale pid file"},
		{"invalid", "not-a-pid\n", "Removed invalid pid file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.pid")
			pidfileWrite(t, path, tt.content)
			var out bytes.Buffer
			if got := shutdownCommand(path, false, time.Second, &out); got != 0 {
				t.Errorf("got %v; want 0 (%s)", got, out.String())
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("output %q; want %q", out.String(), tt.want)
			}
			if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("pidfile still there (%v); want removed", err)
			}
		})
	}
	t.Run("stops a live process", func(t *testing.T) {
		pid, exited := pidfileTestProcess(t, false)
		path := filepath.Join(t.TempDir(), "x.pid")
		pidfileWrite(t, path, strconv.Itoa(pid)+"\n")
		var out bytes.Buffer
		if got := shutdownCommand(path, false, 5*time.Second, &out); got != 0 {
			t.Fatalf("got %v; want 0 (%s)", got, out.String())
		}
		if want := "Stopped process " + strconv.Itoa(pid); !strings.Contains(out.String(), want) {
			t.Errorf("output %q; want %q", out.String(), want)
		}
		select {
		case <-exited:
		case <-time.After(2 * time.Second):
			t.Errorf("process %d still running", pid)
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("pidfile still there (%v); want removed", err)
		}
	})
	t.Run("still running, then forced", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			skipTest(t, "SIGTERM handling is Unix")
		}
		pid, exited := pidfileTestProcess(t, true)
		path := filepath.Join(t.TempDir(), "x.pid")
		pidfileWrite(t, path, strconv.Itoa(pid)+"\n")
		var out bytes.Buffer
		if got := shutdownCommand(path, false, 300*time.Millisecond, &out); got != 1 {
			t.Fatalf("got %v; want 1 (%s)", got, out.String())
		}
		if want := "Process " + strconv.Itoa(pid) + " still running after 0.3s (try --force)"; !strings.Contains(out.String(), want) {
			t.Errorf("output %q; want %q", out.String(), want)
		}
		out.Reset()
		if got := shutdownCommand(path, true, 5*time.Second, &out); got != 0 {
			t.Fatalf("forced: got %v; want 0 (%s)", got, out.String())
		}
		if want := "Killed process " + strconv.Itoa(pid); !strings.Contains(out.String(), want) {
			t.Errorf("output %q; want %q", out.String(), want)
		}
		select {
		case <-exited:
		case <-time.After(2 * time.Second):
			t.Errorf("process %d still running", pid)
		}
	})
}
