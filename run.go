// run.go owns "fluxlit run", "dev" and "workbench": it builds the gateway from the Config,
// listens, starts the children when fluxlit supervises them, reports readiness (pidfile,
// systemd), and on SIGTERM/SIGINT drains requests, closes tunnels with 1001, stops the
// children and exits 0 (a second signal stops at once). What it tells a person about the
// start is in startup.go; dev's file watcher, which may restart fluxlit in place, in reload.go.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Server limits. The header phase is gateway_client_header_timeout_s; a global read or write
// timeout would cut long uploads, server-sent events and WebSockets (golang/go#18796).
const (
	serverIdleTimeout = 120 * time.Second // above common LB idle timeouts (60 s), so the LB closes first
	maxHeaderBytes    = 64 << 10          // Streamlit's cookies and a JWT fit many times over
)

// modeDefaults are the defaults a command changes (they still lose to file, env and flags).
var modeDefaults = map[string]map[string]string{
	"dev":       {"debug": "true", "reload": "true"},
	"workbench": {"trust_proxy": "true", "startup_banner": "true"},
}

func runCommand(mode string, args []string, stdout, stderr io.Writer) int {
	cf := newCommandFlags(mode, stderr)
	early := &lastLineWriter{w: stderr} // a new process of an upgrade tells the old one why it stopped
	in, err := runInput(cf, mode, args)
	if err != nil {
		return usageError(stderr, err)
	}
	// The configuration without the app layer first: its errors come before any Python
	// runs, and it decides the log format of everything after.
	base, err := loadConfig(in)
	if err != nil {
		fmt.Fprintf(early, "fluxlit: %v\n", err)
		upgradeFailedEarly(early.last)
		return 2
	}
	style := logStyleFor(base, isTerminal(stderr), envMap(in.Env))
	log := newLogger(base, stderr, style)
	cfg, err := loadAppConfigShowingProgress(in, base, log)
	if err != nil {
		printFatal(stderr, log, style, err.Error())
		upgradeFailedEarly(err.Error())
		return 2
	}
	if cfg.AppErr != "" {
		printFatal(stderr, log, style, cfg.AppErr+"; "+doctorHint)
		upgradeFailedEarly(cfg.AppErr)
		return 1
	}
	r := &runner{cfg: cfg, mode: mode, stdout: stdout, stderr: stderr, env: in.Env,
		childCfg: cfg, stopping: make(chan struct{})}
	r.configAgain = func() (*Config, error) { return loadAppConfig(in) }
	code := r.run()
	if r.reexec {
		return reexec(append([]string{os.Args[0], mode}, args...), r.env, stderr)
	}
	return code
}

// reexec replaces this process with a fresh fluxlit of the same command line, environment
// and pid, once everything was stopped and cleaned up: dev's way to apply a changed gateway
// setting, which the listener, the routes and every generation derive from. (fluxlit
// upgrade keeps the listener and starts a new process; in a terminal the shell would take
// the first one's exit for the end of the command.) It returns only on failure.
func reexec(argv, env []string, stderr io.Writer) int {
	exe, err := os.Executable()
	if err == nil {
		err = syscall.Exec(exe, argv, env)
	}
	fmt.Fprintf(stderr, "fluxlit: cannot restart itself (%v); run \"fluxlit %s\" again\n", err, strings.Join(argv[1:], " "))
	return 1
}

// runInput parses the arguments of run, dev or workbench into what the configuration is
// loaded from: the flags, TARGET, and the command's own defaults.
func runInput(cf *commandFlags, mode string, args []string) (loadInput, error) {
	// --workbench is Python FluxLit's run/dev flag for workbench mode. Like Python's, it turns
	// proxy trust on outright (a flag, not a default), and adds the banner.
	workbench := cf.fs.Bool("workbench", false, "")
	in, err := cf.parse(args)
	if err != nil {
		return in, err
	}
	in.Defaults = modeDefaults[mode]
	if *workbench && mode != "workbench" {
		in.Defaults = mergeDefaults(in.Defaults, modeDefaults["workbench"])
		if _, set := in.Flags["trust_proxy"]; !set {
			in.Flags["trust_proxy"] = "true"
		}
	}
	return in, nil
}

// mergeDefaults is a with b's entries added (b wins).
func mergeDefaults(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

type runner struct {
	cfg        *Config
	mode       string
	stdout     io.Writer
	stderr     io.Writer
	env        []string
	log        *slog.Logger
	gw         *gateway
	srv        *http.Server
	fast       *fastServer      // the fast path in front of srv; nil when gateway_fast_path is off
	overLimit  *overLimitServer // answers connections over max_connections; nil without a cap
	connEvents atomic.Uint64    // net/http's connections opened and closed (memory.go)
	sup        *supervisor
	notify     *sdNotifier
	pid        string       // pidfile path when one is written
	logOut     *bufferedLog // stderr: every log line, the banner and the final error go through it

	style    logStyle  // console or JSON (console.go)
	terminal bool      // stderr is a terminal: hints about keys are worth printing
	started  time.Time // when run began, for "ready in"
	ready    atomic.Bool

	reexec  bool   // dev: a gateway setting changed; once stopped, fluxlit runs itself again
	failure string // the error the run ends with, printed after the stop

	// configAgain loads the configuration again the way this run loaded it (a reload);
	// childCfg is the one the current generation of children was started with.
	configAgain func() (*Config, error)
	childCfg    *Config
	reloads     int            // reloads answered, for "fluxlit reload"
	reloadWG    sync.WaitGroup // a reload in progress
	drainWG     sync.WaitGroup // generations draining after a reload
	stopping    chan struct{}  // closed when the stop begins: drains and reloads end

	// The binary upgrade (upgrade.go). inherit is set in a new process that replaces an old
	// one; rawLn and metricsLn are the listeners as opened (or inherited), which a later
	// upgrade hands on; handedOver is set once a new process took over from this one.
	inherit      *inheritance
	rawLn        net.Listener
	metricsLn    net.Listener
	startServing func()
	handedOver   bool
	hup, usr2    chan os.Signal // reload, upgrade
}

// fatalf prints the one-line error a failing run ends with, after the log lines before it.
func (r *runner) fatalf(format string, args ...any) {
	printFatal(r.logOut, r.log, r.style, strings.TrimSuffix(fmt.Sprintf(format, args...), "\n"))
}

// failf records the error a run that started ends with; run prints it after the stop, so
// that it is the last line.
func (r *runner) failf(format string, args ...any) {
	if r.failure == "" {
		r.failure = fmt.Sprintf(format, args...)
	}
}

// plainOut is where lines written for people go (the [fluxlit-debug] lines): the log stream
// in the console format, one INFO record a line in JSON.
func (r *runner) plainOut() io.Writer {
	if r.style.json {
		return logLineWriter{log: r.log, level: slog.LevelInfo}
	}
	return r.logOut
}

func (r *runner) run() int {
	cfg := r.cfg
	r.started = time.Now()
	surviveSIGPIPE()
	r.logOut = newBufferedLog(r.stderr)
	defer r.logOut.Close()
	r.terminal = isTerminal(r.stderr)
	r.style = logStyleFor(cfg, r.terminal, envMap(r.env))
	r.log = newLogger(cfg, r.logOut, r.style)
	r.logOut.reportDrops(func(n uint64) {
		r.log.Warn("the log reader stalled or went away; lines were dropped", "dropped_lines", n)
	})
	applyRuntimeTuning(cfg)
	if err := streamlitScriptExists(cfg); err != nil {
		r.fatalf("%v\n", err)
		return 2
	}
	inherit, err := inheritedFromEnv(&r.env)
	if err != nil {
		r.fatalf("%v\n", err)
		return 1
	}
	r.inherit = inherit
	env := envMap(r.env)
	r.notify = newSDNotifier(env["NOTIFY_SOCKET"])
	if !cfg.NoPidfile {
		r.pid = cfg.pidfilePath()
		if pid, err := readPidfile(r.pid); err == nil && pid != os.Getpid() && processAlive(pid) && (inherit == nil || pid != inherit.from) {
			r.fatalf("another fluxlit (pid %d) is running with pidfile %s (run \"fluxlit shutdown\", or set --pidfile)\n", pid, r.pid)
			return 1
		}
	}
	var ln net.Listener
	if inherit != nil {
		ln = inherit.ln
		if ln.Addr().String() != cfg.listenAddr() {
			r.log.Warn(fmt.Sprintf("upgrade: the listener is inherited, on %s; gateway_host/gateway_port (%s) apply at a restart", ln.Addr(), cfg.listenAddr()))
		}
	} else if ln, err = listenGateway(cfg); err != nil {
		r.fatalf("%v\n", err)
		return 1
	}
	r.rawLn = ln
	if r.pid != "" && inherit == nil {
		// Written as soon as this instance holds the port, before the children start: a
		// pidfile that cannot be written must stop the run (else "fluxlit shutdown" cannot
		// find it and a second instance is not refused), and it is known within milliseconds.
		if err := writePidfile(r.pid); err != nil {
			ln.Close()
			r.fatalf("%v\n", pidfileError(r.pid, err))
			return 1
		}
		defer removePidfile(r.pid, os.Getpid())
	}
	port := ln.Addr().(*net.TCPAddr).Port
	plan, err := planChildren(cfg, port, r.env, 1)
	if err != nil {
		ln.Close()
		r.fatalf("%v\n", err)
		return 2
	}
	defer plan.cleanup()
	gw, err := newGateway(cfg, r.log, ln.Addr().String(), plan)
	if err != nil {
		ln.Close()
		r.fatalf("%v\n", err)
		return 2
	}
	r.gw = gw
	if gw.obs.metrics != nil {
		gw.obs.metrics.logDropped = r.logOut.Dropped
	}
	gw.ready.starting.Store(true)
	if len(plan.specs) > 0 {
		// Attached before the gateway serves: routing reads what attach sets per request.
		r.sup = newSupervisor(plan.specs, r.supervisorOptions(plan, r.cfg))
		gw.attachSupervisor(r.sup)
	}
	errorLog := slog.NewLogLogger(r.log.Handler(), slog.LevelDebug)
	r.srv = &http.Server{
		Handler:           gw,
		ReadHeaderTimeout: cfg.clientHeaderTimeout(),
		IdleTimeout:       serverIdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          errorLog,
	}
	r.srv.ConnState = r.connState
	if cfg.MaxConnections > 0 {
		r.overLimit = newOverLimitServer(gw, ln.Addr(), errorLog)
		lim := newLimitListener(ln, cfg.MaxConnections, r.overLimit.serve, r.log)
		ln = lim
		if gw.obs.metrics != nil {
			gw.obs.metrics.connLimit = lim.stats
		}
	}
	if cfg.Debug {
		printDebugBanner(r.plainOut(), gw, cfg.internalAPIBase(port), plan.describe())
	}
	served := make(chan error, 1)
	r.startServing = func() {
		if cfg.FastPath && fastEngineBuilt {
			r.fast = newFastServer(gw, r.srv)
			go func() { served <- r.fast.Serve(ln) }()
		} else {
			go func() { served <- r.srv.Serve(ln) }()
		}
	}
	if inherit == nil {
		// A new process of an upgrade accepts only once its children are ready (takeOver):
		// until then the old one accepts on the same socket.
		r.startServing()
	} else {
		defer r.inherit.tell("error: fluxlit stopped before it was ready") // a no-op once told
	}
	metricsSrv := r.serveMetricsListener()
	for _, w := range cfg.warningLines() {
		r.log.Warn("configuration: " + w)
	}
	if r.style.json {
		r.log.Info("fluxlit listening", "addr", ln.Addr().String(), "mode", r.mode, "version", version,
			"api", describeUpstream(gw.gens.api()), "streamlit", describeReplicas(gw.gens.current()))
		if len(plan.specs) > 0 {
			r.log.Info("project", "app", appDescribe(cfg))
		}
	} else {
		// The upstreams' addresses are private: only the gateway's is the one to open.
		// The command first: a source build's version may be "dev", and "fluxlit dev listening …
		// (run)" read as if the dev command ran.
		r.log.Info(fmt.Sprintf("fluxlit %s listening on %s, version %s", r.mode, ln.Addr(), version))
		r.log.Debug("upstreams", "api", describeUpstream(gw.gens.api()), "streamlit", describeReplicas(gw.gens.current()))
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	// Caught from the start: their default action would end the process.
	r.hup, r.usr2 = make(chan os.Signal, 1), make(chan os.Signal, 1)
	signal.Notify(r.hup, syscall.SIGHUP)
	signal.Notify(r.usr2, upgradeSignal)
	defer signal.Stop(r.hup)
	defer signal.Stop(r.usr2)
	defer signal.Stop(sigs)

	code := r.startAndWait(plan, sigs, served)
	r.stop(metricsSrv, sigs)
	if r.failure != "" {
		r.fatalf("%s", r.failure)
	}
	return code
}

// supervisorOptions are the supervisor's settings for a generation's children: the plan's,
// plus what the run adds (request ids for tracebacks; dev's Hold).
func (r *runner) supervisorOptions(plan *childPlan, cfg *Config) supervisorOptions {
	opts := plan.options(cfg, r.log, r.onChildChange)
	opts.RequestID = r.gw.obs.failures.since
	opts.Redact = newLineRedactor(r.gw.obs.redact, cfg.secretValues()).redact
	if cfg.Reload { // with a next change to wait for, a broken save is not fatal
		opts.Hold = func(e *childStartError) bool { return !setupProblem(e) }
	}
	return opts
}

// startAndWait starts the children (if any), reports readiness, then blocks until a signal,
// a supervision failure or a server error. It returns the exit code.
func (r *runner) startAndWait(plan *childPlan, sigs chan os.Signal, served chan error) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var supDone <-chan struct{}
	var watch reloadWatch
	var snap map[string]string
	if r.cfg.Reload && len(plan.specs) > 0 {
		// The first look before the children start: a save during the start is a change.
		watch = newReloadWatch(r.cfg, slices.ContainsFunc(plan.specs, func(s childSpec) bool { return s.Name == dispatchStreamlit }))
		snap = watch.snapshot()
	}
	if len(plan.specs) > 0 {
		r.log.Info("starting " + describeChildren(r.cfg, plan.specs))
		started := make(chan error, 1)
		go func() { started <- r.sup.Start(ctx) }()
		progress := time.NewTicker(startProgressInterval)
		defer progress.Stop()
	wait:
		for {
			select {
			case err := <-started:
				if err != nil {
					if r.inherit != nil {
						r.inherit.tell("error: " + err.Error())
					}
					r.failf("%v; %s\n", err, startHint(r.cfg, err))
					return 1
				}
				break wait
			case <-progress.C:
				r.logStartProgress()
			case sig := <-sigs:
				r.log.Info("signal during start-up; stopping", "signal", sig.String())
				return 0
			case err := <-served:
				r.failf("serve: %v\n", err)
				return 1
			case <-r.hup:
				if terminalHungUp(r.stderr) {
					r.log.Info("stopping: the terminal closed (SIGHUP)")
					return 0
				}
				r.reportReload(reloadResult{Generation: 1, Message: "reload ignored: fluxlit is still starting its children; they start with the current code"})
			case <-r.usr2:
				r.reportReload(reloadResult{Generation: 1, Message: "upgrade ignored: fluxlit is still starting; ask again once it is ready"})
			}
		}
		supDone = r.sup.Done()
	}
	if r.inherit != nil {
		if err := r.takeOver(); err != nil {
			r.inherit.tell("error: " + err.Error())
			r.fatalf("%v\n", err)
			return 1
		}
	}
	r.reportReady()
	configChanged := make(chan []string) // dev's watcher: a configuration file changed
	if snap != nil {
		defer r.watchReload(ctx, watch, snap, configChanged)()
	}
	watchdog := r.startWatchdog(ctx)
	defer watchdog()
	go releaseAfterBursts(ctx, func() uint64 {
		n := r.connEvents.Load()
		if r.fast != nil {
			n += r.fast.connEvents()
		}
		return n
	})
	reloaded := make(chan reloadResult, 1)
	upgraded := make(chan upgradeResult, 1)
	reloading := false // a reload or an upgrade is in progress: one at a time
	for {
		select {
		case sig := <-sigs:
			if r.terminal {
				r.log.Info("stopping (" + sig.String() + "); press Ctrl-C again to stop at once")
			} else {
				r.log.Info("stopping", "signal", sig.String())
			}
			return 0
		case <-supDone:
			r.failf("%v\n", r.sup.Err())
			return 1
		case err := <-served:
			r.failf("serve: %v\n", err)
			return 1
		case files := <-configChanged:
			switch r.configChange(files) {
			case configRestart:
				r.reexec = true
				return 0
			case configReload:
				if reloading {
					r.log.Warn("reload: a reload or upgrade is already in progress; save the file again once it is done")
					continue
				}
				reloading = true
				r.reloadWG.Go(func() { reloaded <- r.reload(ctx) })
			}
		case <-r.hup:
			if terminalHungUp(r.stderr) {
				r.log.Info("stopping: the terminal closed (SIGHUP)")
				return 0
			}
			if reloading {
				r.log.Warn("reload: a reload or upgrade is already in progress; this SIGHUP is ignored")
				continue
			}
			reloading = true
			r.reloadWG.Go(func() { reloaded <- r.reload(ctx) })
		case <-r.usr2:
			if reloading {
				r.log.Warn("upgrade: a reload or upgrade is already in progress; this SIGUSR2 is ignored")
				continue
			}
			reloading = true
			r.reloadWG.Go(func() { upgraded <- r.upgrade(ctx) })
		case res := <-upgraded:
			reloading = false
			if res.err != nil {
				msg := fmt.Sprintf("upgrade rolled back: %v; pid %d keeps serving", res.err, os.Getpid())
				r.log.Error(msg)
				r.reportReload(reloadResult{Generation: r.gw.gens.current().n, Message: msg})
				continue
			}
			msg := fmt.Sprintf("upgrade: pid %d serves; pid %d drains and stops", res.pid, os.Getpid())
			r.log.Info(msg)
			r.reportReload(reloadResult{OK: true, Generation: r.gw.gens.current().n, Message: msg})
			r.handOver()
			return 0
		case res := <-reloaded:
			reloading = false
			if res.OK {
				r.sup = r.gw.gens.current().sup
				supDone = r.sup.Done()
			}
			r.reportReload(res)
		}
	}
}

// reportReload records a reload's or upgrade's outcome for the command that asked (next to
// the pidfile) and systemd's status line.
func (r *runner) reportReload(res reloadResult) {
	r.reloads++
	res.PID, res.Seq = os.Getpid(), r.reloads
	if r.pid != "" {
		if err := writeOutcome(outcomePath(r.pid), res); err != nil {
			r.log.Warn("cannot record the outcome for fluxlit reload/upgrade", "error", err.Error())
		}
	}
	if r.sup != nil {
		r.notify.Notify("STATUS=" + statusLine(r.sup.Status()))
	}
}

// onChildChange reports a child's new state. During the start the states are DEBUG (the
// "ready" line sums them up); once fluxlit is ready, a child that is ready again is news.
func (r *runner) onChildChange(st childStatus) {
	attrs := []any{"child", st.Name, "state", string(st.State), "restarts", st.Restarts}
	if st.PID != 0 {
		attrs = append(attrs, "pid", st.PID)
	}
	if r.ready.Load() && st.State == childReady {
		r.log.Info(st.Name+" is ready again", attrs...)
	} else {
		r.log.Debug("child state", attrs...)
	}
	if r.sup != nil {
		r.notify.Notify("STATUS=" + statusLine(r.sup.Status()))
	}
}

func statusLine(children []childStatus) string {
	parts := make([]string, 0, len(children))
	for _, c := range children {
		parts = append(parts, c.Name+"="+string(c.State))
	}
	return strings.Join(parts, " ")
}

// startWatchdog pings systemd at half of WATCHDOG_USEC, and only while the gateway itself
// answers its liveness route: a wedged gateway then gets restarted by systemd.
func (r *runner) startWatchdog(ctx context.Context) (stop func()) {
	env := envMap(r.env)
	interval := watchdogInterval(env["WATCHDOG_USEC"], env["WATCHDOG_PID"], os.Getpid())
	if interval <= 0 || r.notify == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	url := "http://" + loopbackDialAddr(r.gw.listen) + r.gw.apiPrefix + "/healthz"
	client := &http.Client{Timeout: interval}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if res, err := client.Get(url); err == nil {
					res.Body.Close()
					if res.StatusCode == http.StatusOK {
						r.notify.Notify("WATCHDOG=1")
					}
				}
			}
		}
	}()
	return cancel
}

// loopbackDialAddr turns a listen address into one a local client can dial.
func loopbackDialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// stop drains and exits: no new connections, in-flight requests finish, tunnels get 1001,
// then the children are stopped (run removes the pidfile after it). A second SIGINT or
// SIGTERM meanwhile stops at once: the drain ends and the children are killed.
func (r *runner) stop(metricsSrv *http.Server, sigs <-chan os.Signal) {
	if !r.handedOver { // else the service is the new process now
		r.notify.Notify("STOPPING=1")
	}
	close(r.stopping)
	force, forceNow := context.WithCancel(context.Background())
	defer forceNow()
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case sig := <-sigs:
			r.log.Warn("second " + sig.String() + ": stopping now, without waiting for requests and children to finish")
			forceNow()
		case <-stopped:
		}
	}()
	ctx, cancel := context.WithTimeout(force, r.cfg.shutdownTimeout())
	defer cancel()
	done := make(chan struct{})
	go func() { r.gw.tunnels.closeAll(ctx); close(done) }()
	if r.fast != nil {
		if err := r.fast.Shutdown(ctx); err != nil {
			r.log.Warn("fast-path requests still in flight at shutdown_timeout_s; closing them", "error", err.Error())
		}
	}
	if err := r.srv.Shutdown(ctx); err != nil {
		r.log.Warn("requests still in flight at shutdown_timeout_s; closing them", "error", err.Error())
		r.srv.Close()
	}
	if r.overLimit != nil {
		r.overLimit.shutdown(ctx)
	}
	<-done
	if metricsSrv != nil {
		metricsSrv.Close()
	}
	// Every generation still running: the current one and any draining after a reload. A
	// reload still starting one was cancelled with the run's context: its outcome is waited
	// for, so that a generation it switched to at the last moment is stopped too.
	r.reloadWG.Wait()
	r.drainWG.Wait() // a drain ends at once when the stop begins, stopping its generation
	stopCtx, stopCancel := context.WithTimeout(force, r.cfg.shutdownTimeout()+childStopGrace+time.Second)
	for _, gen := range r.gw.gens.all() {
		if gen.sup != nil {
			gen.sup.Stop(stopCtx)
		}
		if gen.n > 1 {
			gen.plan.cleanup()
		}
	}
	stopCancel()
	r.log.Info("fluxlit stopped")
}

// listenGateway opens the public listener, with a clear line when the port is taken.
//
// It is plain TCP, as nginx's is: since Go 1.24 a listener is Multipath TCP where the kernel
// has it, and then every connection from a plain-TCP client (every browser we know of) is
// accepted through the MPTCP listener's subflow, which cost 4-9 % of the WebSocket connect
// rate in three same-run A/Bs (BENCHMARKS.md), and options set on the listener
// (gatewayListenConfig) no longer all reach the accepted sockets.
func listenGateway(cfg *Config) (net.Listener, error) {
	lc := gatewayListenConfig()
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(context.Background(), "tcp", cfg.listenAddr())
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("gateway_port %d is in use on %s (another fluxlit? run \"fluxlit shutdown\", or choose --port)", cfg.GatewayPort, cfg.GatewayHost)
		}
		return nil, fmt.Errorf("cannot listen on %s: %v", cfg.listenAddr(), errText(err))
	}
	return ln, nil
}

func (r *runner) serveMetricsListener() *http.Server {
	if !r.cfg.Metrics || r.cfg.MetricsListen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", r.cfg.MetricsListen)
	if r.inherit != nil && r.inherit.metrics != nil {
		ln, err = r.inherit.metrics, nil
	}
	if err != nil {
		r.log.Error("cannot listen for metrics", "metrics_listen", r.cfg.MetricsListen, "error", err.Error())
		return nil
	}
	r.metricsLn = ln
	mux := http.NewServeMux()
	mux.HandleFunc(r.cfg.MetricsPath, func(w http.ResponseWriter, req *http.Request) {
		r.gw.obs.serveMetrics(w, req, r.gw)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: r.cfg.clientHeaderTimeout()}
	go srv.Serve(ln)
	return srv
}

// applyRuntimeTuning sets GOGC and the soft memory limit from the settings, unless the
// operator set GOGC/GOMEMLIMIT in the environment (the Go runtime already applied those).
func applyRuntimeTuning(cfg *Config) {
	if os.Getenv("GOGC") == "" && cfg.GatewayGOGC != 0 {
		debug.SetGCPercent(cfg.GatewayGOGC)
	}
	if os.Getenv("GOMEMLIMIT") == "" && cfg.GatewayMemLimitMB > 0 {
		debug.SetMemoryLimit(int64(cfg.GatewayMemLimitMB) << 20)
	}
}

func (c *Config) pidfilePath() string {
	if filepath.IsAbs(c.Pidfile) {
		return c.Pidfile
	}
	return filepath.Join(c.ProjectDir, c.Pidfile)
}

// describeReplicas names the Streamlit upstream, or its replicas.
func describeReplicas(gen *generation) string {
	if len(gen.ui) == 0 {
		return describeUpstream(nil)
	}
	parts := make([]string, len(gen.ui))
	for i, r := range gen.ui {
		parts[i] = describeUpstream(r.up)
	}
	return strings.Join(parts, " ")
}

func describeUpstream(up *upstream) string {
	if up == nil {
		return "not configured"
	}
	if up.unixPath != "" {
		return "unix:" + up.unixPath
	}
	return up.target.String()
}

// port string helper for child planning.
func itoa(n int) string { return strconv.Itoa(n) }

// connState is net/http's ConnState hook: it counts connections for memory.go and tells
// max_connections which wait for a request (markConnState).
func (r *runner) connState(c net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew, http.StateClosed, http.StateHijacked:
		r.connEvents.Add(1)
	}
	if r.overLimit != nil {
		markConnState(c, st)
	}
}
