// supervise.go owns fluxlit's children (the API and the Streamlit UI): starting each in its own
// process group, logging its output line by line, waiting for readiness, restarting it with
// capped exponential backoff when it crashes, giving up after a crash burst, and stopping the
// whole group (SIGTERM, then SIGKILL). What differs per OS lives in supervise_<os>.go.

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// superviseBackoffStart is the first restart delay; it doubles per consecutive failure up
	// to MaxBackoff. Half a second lets a port held by the dead child be released and keeps a
	// crash loop from eating a CPU, yet a one-off crash costs users well under a second.
	superviseBackoffStart = 500 * time.Millisecond

	// superviseStableAfter: a child that stayed up this long started fine, so its crash is a
	// new incident, not the next round of a start loop. Its backoff goes back to
	// superviseBackoffStart (supervisord's "startsecs" idea) instead of continuing to double,
	// so a long-running service that crashes once a day is back within half a second.
	superviseStableAfter = 10 * time.Second

	// superviseOutputKeep is how many recent output lines each child keeps for Status, the
	// debug page and error messages: enough for a Python traceback's tail.
	superviseOutputKeep = 20

	// superviseErrLines is how many of those lines go into a one-line error.
	superviseErrLines = 5

	// superviseLineMax caps one output line. Longer lines are cut with superviseTruncMarker
	// and the rest is read and dropped, so a 1 MB line (or binary output) never stalls the
	// child on a full pipe (bufio.Scanner stops reading at its token limit; hivemind's bug).
	superviseLineMax = 4096

	// superviseTruncMarker ends a line cut at superviseLineMax.
	superviseTruncMarker = " [fluxlit: line truncated at 4096 bytes]"

	// superviseWaitDelay bounds how long Wait keeps reading the pipes after the child itself
	// exited: a grandchild that escaped the group kill and holds stdout must not wedge Wait.
	// Two seconds is ample for the kernel to hand over output already written.
	superviseWaitDelay = 2 * time.Second

	// superviseProbeInterval is the pause between readiness probes: fast enough that start-up
	// is not visibly delayed, slow enough that a probe loop costs nothing.
	superviseProbeInterval = 100 * time.Millisecond

	// superviseProbeGrace is how long past ReadyTimeout a readiness probe may take to return
	// its own error before the start is failed without it.
	superviseProbeGrace = time.Second

	// superviseReapTimeout bounds the wait for a SIGKILLed child to be reaped (SIGKILL cannot
	// be ignored; only an uninterruptible kernel sleep delays it), so Stop always returns.
	superviseReapTimeout = superviseWaitDelay + 5*time.Second
)

// Defaults for zero supervisorOptions fields, from the spec: 5 failed starts within 60 s give
// up; the backoff cap and stop grace match Traefik, goreman and supervisord (10 s), well below
// systemd's 90 s TimeoutStopSec; Streamlit's first start can take tens of seconds on a cold
// disk, hence the 60 s ready timeout (the Python package waits 60 s too).
const (
	superviseDefaultMaxBackoff   = 30 * time.Second
	superviseDefaultCrashLimit   = 5
	superviseDefaultCrashWindow  = 60 * time.Second
	superviseDefaultStopGrace    = 10 * time.Second
	superviseDefaultReadyTimeout = 60 * time.Second
)

// errSuperviseStopping ends a start that was interrupted by Stop.
var errSuperviseStopping = errors.New("stopping")

// errSuperviseWaiting answers a Restart whose start failed under Hold: the child waits for
// the next Restart, and has said why.
var errSuperviseWaiting = errors.New("stopped; waiting for the next change")

// superviseSpawnError is a start that failed before any process ran (no such program, no
// permission).
type superviseSpawnError struct{ error }

func (e superviseSpawnError) Unwrap() error { return e.error }

// childSpec is one child to supervise; the integrator builds it from the configuration.
type childSpec struct {
	Name  string                          // "api" or "streamlit"
	ID    string                          // "<generation>.<n>": unique among the children of every generation
	Argv  []string                        // full argv, already substituted
	Dir   string                          // working directory
	Env   []string                        // full environment
	Ready func(ctx context.Context) error // one readiness probe; nil = ready once started
}

// childState is where a child is in its life; the values appear in the debug page.
type childState string

const (
	childStarting childState = "starting"
	childReady    childState = "ready"
	childBackoff  childState = "backoff"
	childStopping childState = "stopping"
	childStopped  childState = "stopped"
	childFailed   childState = "failed"
	childWaiting  childState = "waiting" // Hold: stopped after an error until the next change
)

// why is a down child's state as the 503 answer words it.
func (s childState) why() string {
	switch s {
	case childStarting:
		return "starting"
	case childBackoff:
		return "restarting"
	case childWaiting:
		return "stopped after an error; fix it and save"
	}
	return "stopping"
}

// childStatus is a snapshot of one child for readiness, the debug page and metrics.
type childStatus struct {
	Name      string     `json:"name"`
	ID        string     `json:"id"`
	State     childState `json:"state"`
	PID       int        `json:"pid"`
	Restarts  int        `json:"restarts"` // crash restarts and Restart calls
	LastExit  string     `json:"last_exit"`
	StartedAt time.Time  `json:"started_at"`
	Output    []string   `json:"output"` // last superviseOutputKeep lines, stdout and stderr interleaved
	LastError string     `json:"last_error"`
}

// supervisorOptions tune the supervisor; zero fields take the defaults above.
type supervisorOptions struct {
	MaxBackoff   time.Duration // restart delay cap; the delay starts at 500ms and doubles
	CrashLimit   int           // this many failed starts...
	CrashWindow  time.Duration // ...within this window give up
	StopGrace    time.Duration // SIGTERM, then SIGKILL after this
	ReadyTimeout time.Duration // a start not ready by then counts as failed
	// Hold is fluxlit dev's policy (nil: none): a child that exits, or whose start fails in
	// a way Hold accepts (its code does not import, say), is not restarted in a loop and
	// never makes supervision give up; it says so once and waits for the next Restart (the
	// next saved change) or Stop. A first start held this way does not fail Start either.
	// Hold refuses what no change to the code can mend (no interpreter, no Streamlit).
	Hold func(*childStartError) bool
	Log  *slog.Logger // child output: one record per line or traceback (childlog.go)
	// Redact hides secrets in each output line before it is logged, kept for the debug page
	// or quoted in an error (lineRedactor); nil keeps lines as they are.
	Redact  func(string) string
	Project string // the project directory: tracebacks name the frame in it
	// RequestID returns the id of the one 5xx request the named child answered since a
	// time, or "" (nil: tracebacks carry no request id).
	RequestID func(child string, since time.Time) string
	// OnChange is called on every state change, from the child's own goroutine: it must be
	// quick and safe for concurrent use.
	OnChange func(childStatus)
}

// supervisor runs the children. Specs are started together and stopped in reverse order,
// so pass the API first and Streamlit second: the UI stops first (its WebSockets drop)
// while the API it may call is still up.
type supervisor struct {
	opts     supervisorOptions
	children []*supervisedChild

	mu      sync.Mutex
	started bool
	err     error

	done     chan struct{}
	giveOnce sync.Once
}

// supervisedChild is one spec plus its run-time state. Its run goroutine owns the process;
// other goroutines talk to it through the channels.
type supervisedChild struct {
	spec childSpec
	sup  *supervisor
	log  *slog.Logger

	mu     sync.Mutex
	status childStatus
	output []string
	ready  atomic.Bool // status.State == childReady, read per request without the lock

	stopReq    chan struct{}   // closed by requestStop
	stopOnce   sync.Once       //
	killNow    chan struct{}   // closed to skip the stop grace
	killOnce   sync.Once       //
	restartReq chan chan error // Restart asks; the reply is the new start's outcome
	loopDone   chan struct{}   // closed when run returns
}

// childProcess is one run of a child.
type childProcess struct {
	pid       int
	startedAt time.Time
	exited    chan struct{} // closed after Wait returned and all output was logged
	exit      string        // how it ended, e.g. "exit status 1"; set before exited closes
}

// newSupervisor prepares the children; nothing runs until Start.
func newSupervisor(specs []childSpec, opts supervisorOptions) *supervisor {
	opts = opts.withDefaults()
	s := &supervisor{opts: opts, done: make(chan struct{})}
	for _, spec := range specs {
		log := opts.Log
		if superviseNameReplicas(specs, spec) {
			log = log.With("replica", spec.ID)
		}
		c := &supervisedChild{
			spec:       spec,
			sup:        s,
			log:        log,
			status:     childStatus{Name: spec.Name, ID: spec.ID, State: childStopped},
			stopReq:    make(chan struct{}),
			killNow:    make(chan struct{}),
			restartReq: make(chan chan error),
			loopDone:   make(chan struct{}),
		}
		s.children = append(s.children, c)
	}
	return s
}

// superviseNameReplicas reports whether spec's log lines carry its replica id: when other
// children share its name, or it belongs to a generation after the first (a reload).
func superviseNameReplicas(specs []childSpec, spec childSpec) bool {
	if spec.ID == "" {
		return false
	}
	if !strings.HasPrefix(spec.ID, "1.") {
		return true
	}
	n := 0
	for _, s := range specs {
		if s.Name == spec.Name {
			n++
		}
	}
	return n > 1
}

func (o supervisorOptions) withDefaults() supervisorOptions {
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = superviseDefaultMaxBackoff
	}
	if o.CrashLimit <= 0 {
		o.CrashLimit = superviseDefaultCrashLimit
	}
	if o.CrashWindow <= 0 {
		o.CrashWindow = superviseDefaultCrashWindow
	}
	if o.StopGrace <= 0 {
		o.StopGrace = superviseDefaultStopGrace
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = superviseDefaultReadyTimeout
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Start starts every child and returns once all are ready. A first start that fails (exits,
// or is not ready within ReadyTimeout) is not retried: Start stops the others and returns an
// error naming the child and its last output lines. ctx bounds only the wait, not the
// children's lifetime; use Stop for that.
func (s *supervisor) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("supervisor: already started")
	}
	s.started = true
	s.mu.Unlock()

	type outcome struct {
		c   *supervisedChild
		err error
	}
	results := make(chan outcome, len(s.children))
	for _, c := range s.children {
		first := make(chan error, 1)
		go c.run(first)
		go func() { results <- outcome{c, <-first} }()
	}
	for range s.children {
		select {
		case r := <-results:
			if r.err != nil {
				s.stopAll(context.Background())
				return &childStartError{Child: r.c.spec.Name, Err: r.err, Output: r.c.recentOutput()}
			}
		case <-ctx.Done():
			s.stopAll(context.Background())
			return fmt.Errorf("start: %w", ctx.Err())
		}
	}
	return nil
}

// Done is closed when supervision gave up after a crash burst; everything is stopped then.
func (s *supervisor) Done() <-chan struct{} { return s.done }

// Err says why supervision gave up, or nil.
func (s *supervisor) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Ready reports whether a child of that name (any replica of it) is up and passed its
// readiness probe.
func (s *supervisor) Ready(name string) bool {
	for _, c := range s.children {
		if c.spec.Name == name && c.ready.Load() {
			return true
		}
	}
	return false
}

// childByKind is the n-th child (from 1) named name, or nil.
func (s *supervisor) childByKind(name string, n int) *supervisedChild {
	for _, c := range s.children {
		if c.spec.Name == name {
			if n--; n == 0 {
				return c
			}
		}
	}
	return nil
}

// notReady reports whether the child is not ready: routing asks it per request, so it reads
// an atomic, not the status under its lock.
func (c *supervisedChild) notReady() bool { return !c.ready.Load() }

// Status returns a snapshot of every child, in spec order.
func (s *supervisor) Status() []childStatus {
	out := make([]childStatus, 0, len(s.children))
	for _, c := range s.children {
		out = append(out, c.snapshot())
	}
	return out
}

// Restart stops the named child's process group and starts it again, returning once it is
// ready (dev --reload). A restart failure is also handled as a crash: backoff, then retry.
func (s *supervisor) Restart(name string) error {
	if s.child(name) == nil {
		return fmt.Errorf("restart: no child named %q", name)
	}
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		return fmt.Errorf("restart %s: supervisor not started", name)
	}
	// Every replica of the name, one after the other: the others serve meanwhile.
	for _, c := range s.children {
		if c.spec.Name != name {
			continue
		}
		reply := make(chan error, 1)
		select {
		case c.restartReq <- reply:
		case <-c.loopDone:
			return fmt.Errorf("restart %s: supervision has stopped", name)
		}
		if err := <-reply; err != nil {
			return fmt.Errorf("restart %s: %w%s", name, err, c.lastLines())
		}
	}
	return nil
}

// Stop stops the children in reverse spec order: SIGTERM to the process group, SIGKILL after
// StopGrace (at once when ctx is done). It returns when every child has been reaped.
func (s *supervisor) Stop(ctx context.Context) {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if started {
		s.stopAll(ctx)
	}
}

func (s *supervisor) stopAll(ctx context.Context) {
	for i := len(s.children) - 1; i >= 0; i-- {
		c := s.children[i]
		c.stopOnce.Do(func() { close(c.stopReq) })
		select {
		case <-c.loopDone:
		case <-ctx.Done():
			c.killOnce.Do(func() { close(c.killNow) })
			<-c.loopDone
		}
	}
}

// giveUp records why supervision ended, stops every child and then closes Done.
func (s *supervisor) giveUp(err error) {
	s.giveOnce.Do(func() {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		go func() {
			s.stopAll(context.Background())
			close(s.done)
		}()
	})
}

func (s *supervisor) child(name string) *supervisedChild {
	for _, c := range s.children {
		if c.spec.Name == name {
			return c
		}
	}
	return nil
}

// run is the child's supervision loop: start, wait for an event, restart or stop. first
// receives the outcome of the first start; a failed first start ends the loop (Start
// reports it) rather than entering the crash loop.
func (c *supervisedChild) run(first chan<- error) {
	defer close(c.loopDone)
	opts := c.sup.opts
	reply := first
	var failures []time.Time // recent failed starts, for the crash limit
	consecutive := 0         // failures since the last stable run, for the backoff
	launches := 0
	for {
		if launches > 0 {
			c.update(func(st *childStatus) { st.Restarts++ })
		}
		launches++
		p, err := c.launch()
		held := err != nil && opts.Hold != nil && !errors.Is(err, errSuperviseStopping) &&
			opts.Hold(&childStartError{Child: c.spec.Name, Err: err, Output: c.recentOutput()})
		if reply != nil {
			switch {
			case held && launches == 1:
				reply <- nil // Start goes on without it; it waits for a change
			case held:
				reply <- errSuperviseWaiting
			default:
				reply <- err
			}
			reply = nil
		}
		if errors.Is(err, errSuperviseStopping) {
			c.setState(childStopped, "")
			return
		}
		if held {
			if reply = c.wait(err); reply == nil {
				return
			}
			continue
		}
		if err != nil && launches == 1 {
			c.setState(childFailed, err.Error())
			return
		}
		if err == nil {
			select {
			case <-p.exited:
				if time.Since(p.startedAt) > superviseStableAfter {
					consecutive = 0
				}
				err = fmt.Errorf("exited unexpectedly (%s)", p.exit)
				if opts.Hold != nil {
					if reply = c.wait(err); reply == nil {
						return
					}
					continue
				}
				c.log.Warn("child exited", "child", c.spec.Name, "exit", p.exit)
			case <-c.stopReq:
				c.terminate(p)
				c.setState(childStopped, "")
				return
			case reply = <-c.restartReq:
				c.terminate(p)
				consecutive = 0
				continue
			}
		}

		now := time.Now()
		failures = append(superviseRecent(failures, now, opts.CrashWindow), now)
		if len(failures) >= opts.CrashLimit {
			c.setState(childFailed, err.Error())
			c.sup.giveUp(fmt.Errorf("%s: exited %d times in %gs%s",
				c.spec.Name, len(failures), opts.CrashWindow.Seconds(), c.lastLines()))
			return
		}
		delay := superviseBackoff(consecutive, opts.MaxBackoff)
		consecutive++
		c.setState(childBackoff, err.Error())
		c.log.Warn("restarting child", "child", c.spec.Name, "in", delay.Round(time.Millisecond), "err", err)
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-c.stopReq:
			timer.Stop()
			c.setState(childStopped, "")
			return
		case reply = <-c.restartReq:
			timer.Stop()
			consecutive = 0
		}
	}
}

// wait is Hold's answer to a child that stopped: one line saying so, then nothing until the
// next Restart (whose reply channel it returns) or Stop (nil).
func (c *supervisedChild) wait(err error) chan error {
	c.setState(childWaiting, err.Error())
	c.log.Warn(c.spec.Name+" "+err.Error()+"; it starts again on the next change", "child", c.spec.Name)
	select {
	case <-c.stopReq:
		c.setState(childStopped, "")
		return nil
	case reply := <-c.restartReq:
		return reply
	}
}

// superviseRecent drops the failure times that fell out of the window.
func superviseRecent(times []time.Time, now time.Time, window time.Duration) []time.Time {
	kept := times[:0]
	for _, t := range times {
		if now.Sub(t) < window {
			kept = append(kept, t)
		}
	}
	return kept
}

// superviseBackoff is the delay before restart number n+1 of a loop: 500ms doubling, ±25%
// jitter so that two crashing children (or many hosts after a shared outage) do not restart
// in lock-step, capped at limit.
func superviseBackoff(n int, limit time.Duration) time.Duration {
	d := superviseBackoffStart
	for i := 0; i < n && d < limit; i++ {
		d *= 2
	}
	d = d*3/4 + rand.N(d/2+1)
	return min(d, limit)
}

// launch starts a process and waits until it is ready. On failure the process is gone.
func (c *supervisedChild) launch() (*childProcess, error) {
	c.setState(childStarting, "")
	p, err := c.spawn()
	if err != nil {
		return nil, err
	}
	if c.spec.Ready == nil {
		c.setState(childReady, "")
		return p, nil
	}
	timeout := c.sup.opts.ReadyTimeout
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	probe := make(chan error, 1)
	go func() { probe <- superviseProbe(ctx, c.spec.Ready, timeout) }()
	select {
	case err = <-probe:
	case <-ctx.Done():
		// The probe should notice ctx itself and say why it failed; one that ignores ctx
		// must not hang the start.
		select {
		case err = <-probe:
		case <-time.After(superviseProbeGrace):
			err = fmt.Errorf("not ready after %s: the readiness probe did not return", timeout)
		}
	case <-p.exited:
		return nil, fmt.Errorf("exited before it was ready (%s)", p.exit)
	case <-c.stopReq:
		c.terminate(p)
		return nil, errSuperviseStopping
	}
	if err != nil {
		c.terminate(p)
		return nil, err
	}
	c.setState(childReady, "")
	return p, nil
}

// superviseProbe calls ready until it succeeds or ctx ends.
func superviseProbe(ctx context.Context, ready func(context.Context) error, timeout time.Duration) error {
	for {
		err := ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w", timeout, err)
		case <-time.After(superviseProbeInterval):
		}
	}
}

// spawn starts one process from a goroutine that owns it until it is reaped. That goroutine
// holds its OS thread locked because Linux sends Pdeathsig when the *thread* that forked the
// child exits, not the process (golang/go#27505): an unlocked goroutine may fork from a
// thread the runtime later retires, killing a healthy child.
func (c *supervisedChild) spawn() (*childProcess, error) {
	p := &childProcess{exited: make(chan struct{})}
	started := make(chan error, 1)
	go c.own(p, started)
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

func (c *supervisedChild) own(p *childProcess, started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if len(c.spec.Argv) == 0 || c.spec.Argv[0] == "" {
		started <- superviseSpawnError{errors.New("empty command")}
		return
	}
	cmd := exec.Command(c.spec.Argv[0], c.spec.Argv[1:]...)
	cmd.Dir = c.spec.Dir
	cmd.Env = c.spec.Env
	cmd.SysProcAttr = superviseSysProcAttr()
	cmd.WaitDelay = superviseWaitDelay
	// exec copies the OS pipes into these; the readers below split lines. Going through
	// exec's copy (rather than our own os.Pipe) is what lets WaitDelay cut a leaked pipe.
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	cmd.Stdout, cmd.Stderr = outW, errW
	var readers sync.WaitGroup
	readers.Go(func() { c.readOutput(outR, "stdout") })
	readers.Go(func() { c.readOutput(errR, "stderr") })
	closeOutput := func() {
		outW.Close()
		errW.Close()
		readers.Wait()
	}
	if err := cmd.Start(); err != nil {
		closeOutput()
		started <- superviseSpawnError{err}
		return
	}
	p.pid, p.startedAt = cmd.Process.Pid, time.Now()
	// The status gets the pid here, before the exit below can clear it: set by the caller
	// after spawn returned, it could land after a quick exit's and name a dead process.
	c.update(func(st *childStatus) { st.PID, st.StartedAt = p.pid, p.startedAt })
	started <- nil

	werr := cmd.Wait()
	// Kill what is left of the group (a uvicorn worker, a shell's background job): it would
	// hold the port and the pipe, and outlive fluxlit. A wrapper that exits on SIGTERM before
	// its own children finished their graceful stop cuts that stop short; exec the real
	// program from wrapper scripts.
	superviseKillLeftovers(p.pid)
	closeOutput()
	p.exit = superviseDescribeExit(cmd, werr)
	c.update(func(st *childStatus) { st.PID, st.LastExit = 0, p.exit })
	close(p.exited)
}

func superviseDescribeExit(cmd *exec.Cmd, err error) string {
	if cmd.ProcessState != nil {
		return cmd.ProcessState.String()
	}
	if err != nil {
		return err.Error()
	}
	return "exited"
}

// terminate stops the process group: SIGTERM, then SIGKILL after StopGrace or on killNow.
func (c *supervisedChild) terminate(p *childProcess) {
	c.setState(childStopping, "")
	if err := superviseSignalGroup(p.pid, false); err != nil {
		c.log.Warn("stop child", "child", c.spec.Name, "err", err)
	}
	grace := time.NewTimer(c.sup.opts.StopGrace)
	defer grace.Stop()
	select {
	case <-p.exited:
		return
	case <-grace.C:
		c.log.Warn("child ignored SIGTERM; killing it", "child", c.spec.Name, "grace", c.sup.opts.StopGrace)
	case <-c.killNow:
	}
	if err := superviseSignalGroup(p.pid, true); err != nil {
		c.log.Warn("kill child", "child", c.spec.Name, "err", err)
	}
	select {
	case <-p.exited:
	case <-time.After(superviseReapTimeout):
		c.log.Error("child not reaped after SIGKILL", "child", c.spec.Name, "pid", p.pid)
	}
}

// readOutput logs r until EOF, a line or a traceback a record (childlog.go), and keeps the
// last lines for Status. Lines are cut at superviseLineMax and control characters escaped,
// so neither a huge line nor binary output can stall the child or corrupt the log, and
// redacted (opts.Redact) before anything else sees them.
func (c *supervisedChild) readOutput(r io.Reader, stream string) {
	opts := childLogOptions{Log: c.log, Child: c.spec.Name, Stream: stream, Project: c.sup.opts.Project,
		Serving: func() bool { return c.state() == childReady }}
	if c.sup.opts.RequestID != nil {
		opts.RequestID = func(since time.Time) string { return c.sup.opts.RequestID(c.spec.Name, since) }
	}
	out := newChildLog(opts)
	defer out.Close()
	superviseReadLines(r, func(line string) {
		if c.sup.opts.Redact != nil {
			line = c.sup.opts.Redact(line)
		}
		out.Line(line)
		c.mu.Lock()
		c.output = append(c.output, line)
		if len(c.output) > superviseOutputKeep {
			c.output = append(c.output[:0], c.output[len(c.output)-superviseOutputKeep:]...)
		}
		c.mu.Unlock()
	})
}

// superviseReadLines calls emit for every line of r, without its line ending, with control
// characters and invalid UTF-8 escaped (one child line is one log line, and a terminal never
// sees escape sequences); a last line without newline is emitted at EOF. A line of more than
// superviseLineMax bytes is cut there, with superviseTruncMarker.
func superviseReadLines(r io.Reader, emit func(string)) {
	br := bufio.NewReaderSize(r, superviseLineMax+len("\r\n")) // a whole line and its CRLF fit
	for {
		chunk, err := br.ReadSlice('\n')
		full := errors.Is(err, bufio.ErrBufferFull)
		line := chunk
		if !full {
			line = bytes.TrimSuffix(bytes.TrimSuffix(chunk, []byte("\n")), []byte("\r"))
		}
		switch {
		case len(line) > superviseLineMax:
			emit(escapeControl(string(line[:superviseLineMax])) + superviseTruncMarker)
			for full {
				_, err = br.ReadSlice('\n')
				full = errors.Is(err, bufio.ErrBufferFull)
			}
		case len(chunk) > 0:
			emit(escapeControl(string(line)))
		}
		if err != nil {
			return
		}
	}
}

// lastLines formats the tail of the output for a one-line error: "; last output: a | b".
func (c *supervisedChild) lastLines() string {
	return formatLastLines(c.recentOutput())
}

func (c *supervisedChild) recentOutput() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.output)
}

func formatLastLines(output []string) string {
	joined := strings.Join(output[max(0, len(output)-superviseErrLines):], " | ")
	if joined == "" {
		return "; no output"
	}
	return "; last output: " + joined
}

// childStartError is a first start that failed: the child, why, and its last output lines
// (superviseOutputKeep of them), from which run words the fix (startHint).
type childStartError struct {
	Child  string
	Err    error
	Output []string
}

func (e *childStartError) Error() string {
	return fmt.Sprintf("start %s: %v%s", e.Child, e.Err, formatLastLines(e.Output))
}

func (e *childStartError) Unwrap() error { return e.Err }

// state is the child's state (readiness).
func (c *supervisedChild) state() childState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status.State
}

func (c *supervisedChild) snapshot() childStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.status
	st.Output = append([]string(nil), c.output...)
	return st
}

// setState records a state change and reports it. lastErr, when set, becomes LastError.
func (c *supervisedChild) setState(state childState, lastErr string) {
	c.update(func(st *childStatus) {
		st.State = state
		if lastErr != "" {
			st.LastError = lastErr
		}
	})
}

// update changes the status under the lock and calls OnChange outside it.
func (c *supervisedChild) update(change func(*childStatus)) {
	c.mu.Lock()
	change(&c.status)
	c.ready.Store(c.status.State == childReady)
	st := c.status
	st.Output = append([]string(nil), c.output...)
	c.mu.Unlock()
	if c.sup.opts.OnChange != nil {
		c.sup.opts.OnChange(st)
	}
}
