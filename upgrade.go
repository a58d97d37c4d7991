// upgrade.go owns the binary upgrade ("fluxlit upgrade", SIGUSR2): the running fluxlit starts
// the binary now on disk as a new process that inherits its listening socket, as nginx and
// tableflip do; the new process starts its own children and, once they are ready, takes over
// (pidfile, systemd's MAINPID, accepting) and says so; the old one stops accepting, keeps the
// connections it has for reload_drain_s, then drains and stops its own children. The socket
// never closes, so no connection is refused: until the new process accepts, the old one does.
// A new process that does not become ready is stopped and the old one keeps serving.
//
// The hand-over, in order:
//
//	old: SIGUSR2 → fork+exec os.Executable() with the same arguments, the listener as fd 3,
//	     a pipe's write end as fd 4, FLUXLIT_UPGRADE=<old pid>:3:4[:5 the metrics listener]
//	new: loads the configuration, starts its children (not accepting yet)
//	new: children ready → pidfile := new pid, sd_notify MAINPID=<new pid> + READY=1,
//	     starts accepting, writes "ready" on fd 4
//	old: reads "ready" → closes its listener copy, serves its open connections and tunnels
//	     for reload_drain_s, then stops as on SIGTERM (1001 to WebSockets, children stopped)
//	     but sends no STOPPING=1: the service is the new process now
//	new, on failure: writes "error: <reason>" on fd 4 and exits 1; old logs the line, keeps on
//
// Under systemd the unit's ExecReload runs "fluxlit upgrade --pid $MAINPID" (deploy.go) and
// NotifyAccess=all lets the new process name itself the main process.

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// upgradeEnv carries the hand-over to the new process: "<old pid>:<listener fd>:<ready fd>"
// and, with metrics_listen, ":<metrics listener fd>".
const upgradeEnv = "FLUXLIT_UPGRADE"

// upgradeStartMargin is how long past child_ready_timeout_s the old process waits for the new
// one: the new one also loads its configuration (a FluxLit project's probe imports app.py)
// and starts a Go process. With the command's 5 s more it stays within the systemd unit's
// TimeoutStartSec (child_ready_timeout_s + 30), which also bounds ExecReload.
const upgradeStartMargin = 20 * time.Second

// inheritance is what a new process got from the one it replaces.
type inheritance struct {
	from    int          // the old process
	ln      net.Listener // the public listener
	metrics net.Listener // the metrics_listen listener, or nil
	ready   *os.File     // "ready" or "error: ..." goes here
}

// inheritedFromEnv reads the hand-over, if this process is a new one in an upgrade, and drops
// the variable from env (the children must not see it, nor a later upgrade inherit it).
func inheritedFromEnv(env *[]string) (*inheritance, error) {
	var value string
	kept := (*env)[:0]
	for _, kv := range *env {
		if v, ok := strings.CutPrefix(kv, upgradeEnv+"="); ok {
			value = v
			continue
		}
		kept = append(kept, kv)
	}
	*env = kept
	if value == "" {
		return nil, nil
	}
	os.Unsetenv(upgradeEnv)
	parts := strings.Split(value, ":")
	nums := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%s=%q: not <pid>:<fd>:<fd>", upgradeEnv, value)
		}
		nums[i] = n
	}
	if len(nums) < 3 || len(nums) > 4 {
		return nil, fmt.Errorf("%s=%q: not <pid>:<fd>:<fd>", upgradeEnv, value)
	}
	in := &inheritance{from: nums[0], ready: os.NewFile(uintptr(nums[2]), "upgrade-ready")}
	// systemd named the old process in WATCHDOG_PID; this one becomes the main process and
	// pings the watchdog from now on.
	for i, kv := range *env {
		if kv == "WATCHDOG_PID="+strconv.Itoa(in.from) {
			(*env)[i] = "WATCHDOG_PID=" + strconv.Itoa(os.Getpid())
			os.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid())) // for the next upgrade
		}
	}
	var err error
	if in.ln, err = fileListener(nums[1], "listener"); err != nil {
		return nil, err
	}
	if len(nums) == 4 {
		if in.metrics, err = fileListener(nums[3], "metrics listener"); err != nil {
			return nil, err
		}
	}
	return in, nil
}

func fileListener(fd int, what string) (net.Listener, error) {
	f := os.NewFile(uintptr(fd), what)
	defer f.Close() // FileListener made its own copy
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("upgrade: the inherited %s (fd %d): %v", what, fd, err)
	}
	return ln, nil
}

// upgradeFailedEarly tells the old process of an upgrade why this new one stops before it
// could read the hand-over (a configuration error, an app that does not import); a no-op in
// any other run. The ready descriptor is still the pipe: nothing has closed it yet.
func upgradeFailedEarly(reason string) {
	parts := strings.Split(os.Getenv(upgradeEnv), ":")
	if len(parts) < 3 {
		return
	}
	fd, err := strconv.Atoi(parts[2])
	if err != nil || fd <= 2 {
		return
	}
	(&inheritance{ready: os.NewFile(uintptr(fd), "upgrade-ready")}).tell("error: " + strings.TrimPrefix(reason, "fluxlit: "))
}

// lastLineWriter passes writes on and keeps the last line written.
type lastLineWriter struct {
	w    io.Writer
	last string
}

func (l *lastLineWriter) Write(p []byte) (int, error) {
	if line := strings.TrimSpace(string(p)); line != "" {
		l.last = line[strings.LastIndexByte(line, '\n')+1:]
	}
	return l.w.Write(p)
}

// tell writes the outcome to the old process.
func (in *inheritance) tell(line string) {
	io.WriteString(in.ready, line+"\n")
	in.ready.Close()
}

// takeOver makes this new process the instance once its children are ready: the pidfile
// names it, systemd's main process is it, and it accepts; then the old one is told.
func (r *runner) takeOver() error {
	if r.pid != "" {
		if err := writePidfileOver(r.pid, r.inherit.from); err != nil {
			return pidfileError(r.pid, err)
		}
	}
	r.notify.Notify("MAINPID=" + strconv.Itoa(os.Getpid()))
	r.startServing()
	r.inherit.tell("ready")
	r.log.Info(fmt.Sprintf("upgrade: serving; pid %d drains", r.inherit.from))
	return nil
}

// upgradeResult is what the old process learned.
type upgradeResult struct {
	pid int   // the new process
	err error // nil: it serves
}

// upgrade starts the binary on disk as the new process and waits until it serves or fails.
func (r *runner) upgrade(ctx context.Context) upgradeResult {
	exe, err := os.Executable()
	if err != nil {
		return upgradeResult{err: fmt.Errorf("cannot find this program's binary: %v", err)}
	}
	lnFile, err := listenerFile(r.rawLn)
	if err != nil {
		return upgradeResult{err: err}
	}
	defer lnFile.Close()
	readR, readW, err := os.Pipe()
	if err != nil {
		return upgradeResult{err: err}
	}
	defer readR.Close()
	files := []*os.File{lnFile, readW}
	value := fmt.Sprintf("%d:3:4", os.Getpid())
	if r.metricsLn != nil {
		mf, err := listenerFile(r.metricsLn)
		if err != nil {
			readW.Close()
			return upgradeResult{err: err}
		}
		defer mf.Close()
		files = append(files, mf)
		value += ":5"
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), upgradeEnv+"="+value)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	cmd.ExtraFiles = files
	cmd.SysProcAttr = upgradeSysProcAttr()
	r.log.Info("upgrade: starting " + exe)
	err = cmd.Start()
	// Start put each of ExtraFiles in blocking mode (os.File.Fd does), and the mode belongs
	// to the socket, which this process's listeners share: Accept would then wait inside the
	// accept syscall, where Close cannot interrupt it, and after a rolled-back upgrade
	// SIGTERM hung in Shutdown until the next connection came (the process never exited).
	for _, ln := range []net.Listener{r.rawLn, r.metricsLn} {
		if ln != nil {
			if err := listenerNonblocking(ln); err != nil {
				r.log.Warn("upgrade: cannot put the listener back in non-blocking mode; a stop may wait for a connection", "error", err)
			}
		}
	}
	if err != nil {
		readW.Close()
		return upgradeResult{err: fmt.Errorf("cannot start %s: %v", exe, err)}
	}
	readW.Close()
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(readR).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	fail := func(err error) upgradeResult {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(childStopGrace + 5*time.Second):
			cmd.Process.Kill()
		}
		return upgradeResult{pid: pid, err: err}
	}
	timeout := seconds(r.cfg.ChildReadyTimeoutS) + upgradeStartMargin
	select {
	case s := <-line:
		if s == "ready" {
			go func() { <-exited }() // reaped when it ends, after this process is gone or not
			return upgradeResult{pid: pid}
		}
		if s == "" {
			<-exited
			return upgradeResult{pid: pid, err: fmt.Errorf("the new process (pid %d) exited before it was ready: %s", pid, cmd.ProcessState)}
		}
		return fail(errors.New(strings.TrimPrefix(s, "error: ")))
	case <-time.After(timeout):
		return fail(fmt.Errorf("the new process (pid %d) was not ready within %s", pid, timeout))
	case <-ctx.Done():
		return fail(errors.New("stopping"))
	}
}

// listenerFile is a duplicate of ln's socket for a child process.
func listenerFile(ln net.Listener) (*os.File, error) {
	fl, ok := ln.(interface{ File() (*os.File, error) })
	if !ok {
		return nil, fmt.Errorf("the listener %T cannot be handed over", ln)
	}
	f, err := fl.File()
	if err != nil {
		return nil, fmt.Errorf("cannot hand over the listener: %v", err)
	}
	return f, nil
}

// handOver ends this process's part after the new one took over: it stops accepting, keeps
// serving the connections and tunnels it has for reload_drain_s (a browser's kept-alive
// connections carry its session's media and uploads), and returns for the usual stop.
func (r *runner) handOver() {
	r.handedOver = true
	r.rawLn.Close()
	if r.metricsLn != nil {
		r.metricsLn.Close()
	}
	deadline := time.Now().Add(seconds(r.childCfg.ReloadDrainS))
	for time.Now().Before(deadline) {
		if r.gw.tunnels.count.Load() == 0 && r.inflight() == 0 {
			return
		}
		time.Sleep(reloadPoll)
	}
}

// inflight is the number of proxied HTTP exchanges in progress, over every generation.
func (r *runner) inflight() int64 {
	var n int64
	for _, gen := range r.gw.gens.all() {
		n += gen.inflight()
	}
	return n
}

// upgradeMain is "fluxlit upgrade [--pidfile PATH | --pid PID] [--wait SECONDS]". The default
// wait covers the new process's children starting and its own start margin.
func upgradeMain(args []string, stdout, stderr io.Writer) int {
	return signalCommandMain("upgrade", signalUpgrade, upgradeStartMargin.Seconds()+5, args, stdout, stderr)
}
