//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// superviseTestLog collects log records so tests can assert on child output attrs.
type superviseTestLog struct {
	mu      sync.Mutex
	records []superviseTestRecord
}

type superviseTestRecord struct{ msg, child, stream string }

func (l *superviseTestLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *superviseTestLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *superviseTestLog) WithGroup(string) slog.Handler            { return l }
func (l *superviseTestLog) Handle(_ context.Context, r slog.Record) error {
	rec := superviseTestRecord{msg: r.Message}
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "child":
			rec.child = a.Value.String()
		case "stream":
			rec.stream = a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	l.records = append(l.records, rec)
	l.mu.Unlock()
	return nil
}

func (l *superviseTestLog) find(msg string) (superviseTestRecord, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.records {
		if r.msg == msg {
			return r, true
		}
	}
	return superviseTestRecord{}, false
}

func superviseTestOptions(t *testing.T) (supervisorOptions, *superviseTestLog) {
	t.Helper()
	log := &superviseTestLog{}
	return supervisorOptions{
		MaxBackoff:   2 * time.Second,
		StopGrace:    2 * time.Second,
		ReadyTimeout: 5 * time.Second,
		Log:          slog.New(log),
	}, log
}

// superviseTestStart starts a supervisor and registers a bounded Stop as cleanup.
func superviseTestStart(t *testing.T, specs []childSpec, opts supervisorOptions) *supervisor {
	t.Helper()
	s := newSupervisor(specs, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	return s
}

func superviseWaitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func superviseStatusOf(s *supervisor, name string) childStatus {
	for _, st := range s.Status() {
		if st.Name == name {
			return st
		}
	}
	return childStatus{}
}

func superviseHasLine(st childStatus, line string) bool {
	for _, l := range st.Output {
		if l == line {
			return true
		}
	}
	return false
}

// superviseGroupGone reports whether no live process is left in group pgid. kill(-pgid, 0)
// answers ESRCH once every member is reaped; where nobody reaps orphans (a container whose
// PID 1 does not), the remaining members are zombies, which /proc shows on Linux.
func superviseGroupGone(pgid int) bool {
	if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
		return true
	}
	if runtime.GOOS != "linux" {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:])) // state ppid pgrp ...
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			return false
		}
	}
	return true
}

func TestSuperviseStartReadyOutput(t *testing.T) {
	opts, log := superviseTestOptions(t)
	probes := 0
	var changes []childState
	var mu sync.Mutex
	opts.OnChange = func(st childStatus) {
		mu.Lock()
		changes = append(changes, st.State)
		mu.Unlock()
	}
	spec := childSpec{
		Name: "api",
		Argv: []string{"sh", "-c", `echo "hello $GREETING"; echo oops >&2; exec sleep 300`},
		Env:  append(os.Environ(), "GREETING=world"),
		Ready: func(ctx context.Context) error {
			probes++ // only the probe goroutine touches it
			if probes < 3 {
				return errors.New("not yet")
			}
			return nil
		},
	}
	s := superviseTestStart(t, []childSpec{spec}, opts)
	if !s.Ready("api") {
		t.Fatalf("Ready(api) = false after Start; want true")
	}
	if s.Ready("nope") {
		t.Errorf("Ready(nope) = true; want false")
	}
	st := superviseStatusOf(s, "api")
	if st.State != childReady || st.PID <= 0 || st.StartedAt.IsZero() {
		t.Errorf("status = %+v; want ready with a pid and start time", st)
	}
	superviseWaitFor(t, 3*time.Second, "output lines", func() bool {
		st := superviseStatusOf(s, "api")
		return superviseHasLine(st, "hello world") && superviseHasLine(st, "oops")
	})
	if rec, ok := log.find("oops"); !ok || rec.child != "api" || rec.stream != "stderr" {
		t.Errorf("log record for oops = %+v, %v; want child=api stream=stderr", rec, ok)
	}
	if rec, ok := log.find("hello world"); !ok || rec.stream != "stdout" {
		t.Errorf("log record for hello = %+v, %v; want stream=stdout", rec, ok)
	}
	s.Stop(context.Background())
	if got := superviseStatusOf(s, "api").State; got != childStopped {
		t.Errorf("state after Stop = %v; want %v", got, childStopped)
	}
	mu.Lock()
	got := fmt.Sprint(changes)
	mu.Unlock()
	if !strings.HasPrefix(got, "[starting starting ready") || !strings.Contains(got, "stopping") {
		t.Errorf("OnChange states = %s; want starting…ready…stopping…stopped", got)
	}
}

func TestSuperviseRestartAfterKill(t *testing.T) {
	opts, _ := superviseTestOptions(t)
	s := superviseTestStart(t, []childSpec{{Name: "api", Argv: []string{"sleep", "300"}}}, opts)

	// Two kills in a row: the second restart waits about twice as long (backoff doubles).
	wantMin := []time.Duration{375 * time.Millisecond, 750 * time.Millisecond}
	for i, min := range wantMin {
		old := superviseStatusOf(s, "api")
		killed := time.Now()
		if err := syscall.Kill(old.PID, syscall.SIGKILL); err != nil {
			t.Fatalf("kill: %v", err)
		}
		superviseWaitFor(t, 5*time.Second, "restart", func() bool {
			st := superviseStatusOf(s, "api")
			return st.State == childReady && st.PID != 0 && st.PID != old.PID
		})
		st := superviseStatusOf(s, "api")
		if st.Restarts != i+1 {
			t.Errorf("Restarts = %d; want %d", st.Restarts, i+1)
		}
		if !strings.Contains(st.LastExit, "killed") {
			t.Errorf("LastExit = %q; want it to say killed", st.LastExit)
		}
		if got := st.StartedAt.Sub(killed); got < min {
			t.Errorf("restart %d after %v; want at least %v of backoff", i+1, got, min)
		}
		if processAlive(old.PID) {
			t.Errorf("old pid %d still alive", old.PID)
		}
	}
}

// TestSuperviseCrashLimit: with the options fluxlit run uses (childPlan.options), a child
// that crashes after every start gives up at its fifth crash within 60 s (README, Children).
func TestSuperviseCrashLimit(t *testing.T) {
	log := &superviseTestLog{}
	cfg := testConfig(t, map[string]string{"restart_max_backoff_s": "0.1", "child_ready_timeout_s": "5"})
	var mu sync.Mutex
	sawBackoff, pids := false, map[int]bool{} // the crashing child's processes
	opts := (&childPlan{}).options(cfg, slog.New(log), func(st childStatus) {
		mu.Lock()
		sawBackoff = sawBackoff || st.State == childBackoff
		if st.Name == "streamlit" && st.PID != 0 {
			pids[st.PID] = true
		}
		mu.Unlock()
	})
	spec := childSpec{Name: "streamlit", Argv: []string{"sh", "-c", `echo starting; echo "fatal: boom" >&2; sleep 0.1; exit 3`}}
	keep := childSpec{Name: "api", Argv: []string{"sleep", "300"}}
	s := superviseTestStart(t, []childSpec{keep, spec}, opts)
	apiPID := superviseStatusOf(s, "api").PID

	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("Done not closed after repeated crashes; status %+v", s.Status())
	}
	err := s.Err()
	if err == nil {
		t.Fatalf("Err() = nil after giving up")
	}
	mu.Lock()
	if len(pids) != 5 {
		t.Errorf("the child was started %d times; want 5", len(pids))
	}
	mu.Unlock()
	for _, want := range []string{"streamlit: exited 5 times in 60s", "fatal: boom"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Err() = %q; want it to contain %q", err, want)
		}
	}
	if got := superviseStatusOf(s, "streamlit"); got.State != childFailed || !strings.Contains(got.LastExit, "exit status 3") {
		t.Errorf("streamlit status = %v, %q; want failed, exit status 3", got.State, got.LastExit)
	}
	if got := superviseStatusOf(s, "api").State; got != childStopped {
		t.Errorf("api state = %v; want %v (everything stops on give-up)", got, childStopped)
	}
	if processAlive(apiPID) {
		t.Errorf("api pid %d alive after give-up", apiPID)
	}
	mu.Lock()
	defer mu.Unlock()
	if !sawBackoff {
		t.Errorf("never saw state %v between crashes", childBackoff)
	}
}

func TestSuperviseStartFailure(t *testing.T) {
	notReady := func(ctx context.Context) error { return errors.New("connection refused") }
	block := make(chan struct{})
	defer close(block)
	stuck := func(ctx context.Context) error { <-block; return nil }
	tests := []struct {
		name string
		spec childSpec
		want []string
	}{
		{"exits before ready",
			childSpec{Name: "streamlit", Argv: []string{"sh", "-c", `echo "ModuleNotFoundError: no module x" >&2; exit 1`}, Ready: notReady},
			[]string{"start streamlit: exited before it was ready (exit status 1)", "ModuleNotFoundError: no module x"}},
		{"ready timeout",
			childSpec{Name: "streamlit", Argv: []string{"sleep", "300"}, Ready: notReady},
			[]string{"start streamlit: not ready after 300ms: connection refused", "no output"}},
		{"probe ignores its context",
			childSpec{Name: "streamlit", Argv: []string{"sleep", "300"}, Ready: stuck},
			[]string{"start streamlit: not ready after 300ms: the readiness probe did not return"}},
		{"empty argv",
			childSpec{Name: "streamlit"},
			[]string{"start streamlit: empty command"}},
		{"no such program",
			childSpec{Name: "streamlit", Argv: []string{"/nonexistent/fluxlit-test-program"}},
			[]string{"start streamlit:", "no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, _ := superviseTestOptions(t)
			opts.ReadyTimeout = 300 * time.Millisecond
			api := childSpec{Name: "api", Argv: []string{"sleep", "300"}}
			s := newSupervisor([]childSpec{api, tt.spec}, opts)
			err := s.Start(context.Background())
			if err == nil {
				s.Stop(context.Background())
				t.Fatalf("Start = nil; want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Start = %q; want it to contain %q", err, w)
				}
			}
			for _, st := range s.Status() {
				if st.PID != 0 || (st.State != childStopped && st.State != childFailed) {
					t.Errorf("%s after failed Start: state %v pid %d; want stopped/failed, no pid", st.Name, st.State, st.PID)
				}
			}
		})
	}
}

func TestSuperviseStopKillsGroup(t *testing.T) {
	opts, _ := superviseTestOptions(t)
	spec := childSpec{Name: "api", Argv: []string{"sh", "-c", `sleep 300 & echo "grandchild $!"; wait`}}
	s := superviseTestStart(t, []childSpec{spec}, opts)
	pgid := superviseStatusOf(s, "api").PID
	var grandchild int
	superviseWaitFor(t, 3*time.Second, "grandchild pid", func() bool {
		for _, l := range superviseStatusOf(s, "api").Output {
			if n, err := fmt.Sscanf(l, "grandchild %d", &grandchild); n == 1 && err == nil {
				return true
			}
		}
		return false
	})
	if !processAlive(grandchild) {
		t.Fatalf("grandchild %d not running before Stop", grandchild)
	}
	s.Stop(context.Background())
	if got := superviseStatusOf(s, "api").LastExit; got != "signal: terminated" {
		t.Errorf("LastExit = %q; want %q (SIGTERM suffices, no SIGKILL after the grace)", got, "signal: terminated")
	}
	superviseWaitFor(t, 2*time.Second, "process group gone", func() bool { return superviseGroupGone(pgid) })
	if processAlive(grandchild) {
		t.Errorf("grandchild %d survived Stop", grandchild)
	}
}

func TestSuperviseStopEscalatesToKill(t *testing.T) {
	opts, _ := superviseTestOptions(t)
	opts.StopGrace = 300 * time.Millisecond
	spec := childSpec{Name: "streamlit", Argv: []string{"sh", "-c", `trap "" TERM; echo armed; while :; do sleep 0.05; done`}}
	s := superviseTestStart(t, []childSpec{spec}, opts)
	pgid := superviseStatusOf(s, "streamlit").PID
	superviseWaitFor(t, 3*time.Second, "trap armed", func() bool {
		return superviseHasLine(superviseStatusOf(s, "streamlit"), "armed")
	})
	start := time.Now()
	s.Stop(context.Background())
	// Bounded well above the grace for a busy machine, and far below a Stop that never kills.
	d := time.Since(start)
	if d < opts.StopGrace || d > 10*time.Second {
		t.Errorf("Stop took %v; want the %v grace, then SIGKILL", d, opts.StopGrace)
	}
	if got := superviseStatusOf(s, "streamlit").LastExit; got != "signal: killed" {
		t.Errorf("LastExit = %q; want %q", got, "signal: killed")
	}
	superviseWaitFor(t, 2*time.Second, "process group gone", func() bool { return superviseGroupGone(pgid) })
}

func TestSuperviseStopContextForcesKill(t *testing.T) {
	opts, _ := superviseTestOptions(t)
	opts.StopGrace = time.Minute
	spec := childSpec{Name: "api", Argv: []string{"sh", "-c", `trap "" TERM; echo armed; while :; do sleep 0.05; done`}}
	s := superviseTestStart(t, []childSpec{spec}, opts)
	superviseWaitFor(t, 3*time.Second, "trap armed", func() bool {
		return superviseHasLine(superviseStatusOf(s, "api"), "armed")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	s.Stop(ctx)
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Stop took %v; want the context (200ms) to cut the 1m grace", d)
	}
	if got := superviseStatusOf(s, "api").LastExit; got != "signal: killed" {
		t.Errorf("LastExit = %q; want %q", got, "signal: killed")
	}
}

func TestSuperviseHugeLineAndBinary(t *testing.T) {
	opts, _ := superviseTestOptions(t)
	script := `head -c 1048576 /dev/zero | tr '\0' a; head -c 65536 /dev/urandom; printf '\nafter\n'; exec sleep 300`
	s := superviseTestStart(t, []childSpec{{Name: "ui", Argv: []string{"sh", "-c", script}}}, opts)
	pid := superviseStatusOf(s, "ui").PID
	superviseWaitFor(t, 5*time.Second, `line "after"`, func() bool {
		return superviseHasLine(superviseStatusOf(s, "ui"), "after")
	})
	st := superviseStatusOf(s, "ui")
	if st.PID != pid || st.State != childReady {
		t.Errorf("child pid %d state %v; want still %d ready", st.PID, st.State, pid)
	}
	if st.Restarts != 0 {
		t.Errorf("Restarts = %d; want 0", st.Restarts)
	}
	for _, l := range st.Output {
		// 4096 bytes, each escaped to at most 4 characters (\xff), and the marker.
		if len(l) > 4*4096+len(" [fluxlit: line truncated at 4096 bytes]") || !utf8.ValidString(l) {
			t.Errorf("output line of %d bytes (valid UTF-8 %v); want capped and valid", len(l), utf8.ValidString(l))
		}
		for _, r := range l {
			if r != '\t' && (r < 0x20 || r == 0x7f) {
				t.Fatalf("output line contains control character %U: %q", r, l)
			}
		}
	}
}

func TestSuperviseRestartMethod(t *testing.T) {
	opts, _ := superviseTestOptions(t)
	s := superviseTestStart(t, []childSpec{{Name: "streamlit", Argv: []string{"sleep", "300"}}}, opts)
	old := superviseStatusOf(s, "streamlit").PID
	if err := s.Restart("streamlit"); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	st := superviseStatusOf(s, "streamlit")
	if st.State != childReady || st.PID == old || st.PID == 0 || st.Restarts != 1 {
		t.Errorf("after Restart: state %v pid %d (old %d) restarts %d; want ready, new pid, 1", st.State, st.PID, old, st.Restarts)
	}
	if processAlive(old) {
		t.Errorf("old pid %d alive after Restart", old)
	}
	if err := s.Restart("nope"); err == nil || !strings.Contains(err.Error(), `no child named "nope"`) {
		t.Errorf("Restart(nope) = %v; want no child named", err)
	}
	s.Stop(context.Background())
	if err := s.Restart("streamlit"); err == nil {
		t.Errorf("Restart after Stop = nil; want an error")
	}
}

// TestSupervisePdeathsig kills -9 a helper process (this test binary, see
// superviseHelperParent) that supervises `sleep 300`: the sleep must die with it.
func TestSupervisePdeathsig(t *testing.T) {
	if runtime.GOOS != "linux" {
		skipTest(t, "Pdeathsig is Linux-only")
	}
	out := filepath.Join(t.TempDir(), "child.pid")
	helper := testHelperCommand("supervise-parent", "FLUXLIT_SUPERVISE_HELPER_OUT="+out)
	var stderr bytes.Buffer
	helper.Stdout, helper.Stderr = &stderr, &stderr
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer helper.Process.Kill()
	var child int
	superviseWaitFor(t, 10*time.Second, "helper to write child pid", func() bool {
		b, err := os.ReadFile(out)
		if err != nil {
			return false
		}
		child, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	if !processAlive(child) {
		t.Fatalf("child %d not running", child)
	}
	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	helper.Wait()
	superviseWaitFor(t, 2*time.Second, fmt.Sprintf("child %d to die with its parent", child), func() bool {
		return !processAlive(child)
	})
}

func init() { testHelpers["supervise-parent"] = superviseHelperParent }

// superviseHelperParent is the process TestSupervisePdeathsig starts: one that supervises a
// child, writes the child's pid to FLUXLIT_SUPERVISE_HELPER_OUT and waits to be killed.
func superviseHelperParent() {
	s := newSupervisor([]childSpec{{Name: "api", Argv: []string{"sleep", "300"}}}, supervisorOptions{})
	if err := s.Start(context.Background()); err != nil {
		panic(err)
	}
	pid := strconv.Itoa(s.Status()[0].PID)
	// Start and Wait happen on a locked thread; give the runtime time to spawn and retire
	// other threads, which would kill the child early if the thread were not locked.
	runtime.GC()
	if err := os.WriteFile(os.Getenv("FLUXLIT_SUPERVISE_HELPER_OUT"), []byte(pid), 0o644); err != nil {
		panic(err)
	}
	time.Sleep(60 * time.Second) // the parent kills us long before
	s.Stop(context.Background())
}

// TestSuperviseReadLines: child output is logged line by line; a line over 4 KiB is cut at
// 4096 bytes with a marker (README, Children), control bytes and invalid UTF-8 are escaped.
func TestSuperviseReadLines(t *testing.T) {
	long := strings.Repeat("x", 5000)
	const marker = " [fluxlit: line truncated at 4096 bytes]"
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"lines", "a\nb\n", []string{"a", "b"}},
		{"crlf and no final newline", "a\r\nb", []string{"a", "b"}},
		{"empty", "", nil},
		{"blank line", "\n", []string{""}},
		{"long line cut", long + "\nnext\n", []string{long[:4096] + marker, "next"}},
		{"long line at eof", long, []string{long[:4096] + marker}},
		{"4 KiB line kept", long[:4096] + "\n", []string{long[:4096]}},
		{"4 KiB line with CRLF kept", long[:4096] + "\r\nnext", []string{long[:4096], "next"}},
		{"one byte over 4 KiB cut", long[:4097] + "\nnext", []string{long[:4096] + marker, "next"}},
		{"control characters", "\x1b[31mred\x00\ttab\x7f\n", []string{`\x1b[31mred\x00\ttab\x7f`}}, // one escaping for all logs: escapeControl
		{"invalid utf-8", "\xff\xfeok\n", []string{`\xff\xfeok`}},
		{"unicode kept", "héllo ✓\n", []string{"héllo ✓"}},
		{"c1 control and line separator", "a\u0085b\u2028c\n", []string{`a\u0085b\u2028c`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			superviseReadLines(strings.NewReader(tt.in), func(l string) { got = append(got, l) })
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

func FuzzSuperviseReadLines(f *testing.F) {
	for _, seed := range []string{"", "a\nb", "\x00\xff\n", strings.Repeat("y", 5000) + "\n", "\r\n\r", "é\u2028\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		lines := 0
		superviseReadLines(bytes.NewReader(in), func(l string) {
			lines++
			if len(l) > 4*4096+len(" [fluxlit: line truncated at 4096 bytes]") || !utf8.ValidString(l) {
				t.Fatalf("line of %d bytes, valid UTF-8 %v", len(l), utf8.ValidString(l))
			}
			for _, r := range l {
				if r != '\t' && (r < 0x20 || r == 0x7f || r == '\u2028') {
					t.Fatalf("control character %U in %q", r, l)
				}
			}
		})
		if lines > bytes.Count(in, []byte("\n"))+1 {
			t.Fatalf("%d lines from %d newlines", lines, bytes.Count(in, []byte("\n")))
		}
	})
}

func TestSuperviseBackoff(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		limit  time.Duration
		lo, hi time.Duration
	}{
		{"first", 0, 30 * time.Second, 375 * time.Millisecond, 625 * time.Millisecond},
		{"second doubles", 1, 30 * time.Second, 750 * time.Millisecond, 1250 * time.Millisecond},
		{"capped", 10, 2 * time.Second, 1500 * time.Millisecond, 2 * time.Second},
		{"cap below start", 3, 100 * time.Millisecond, 75 * time.Millisecond, 100 * time.Millisecond},
		{"huge n", 1000, 30 * time.Second, 22500 * time.Millisecond, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 50 {
				if got := superviseBackoff(tt.n, tt.limit); got < tt.lo || got > tt.hi {
					t.Fatalf("got %v; want within [%v, %v]", got, tt.lo, tt.hi)
				}
			}
		})
	}
}
