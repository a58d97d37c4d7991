// run.go owns "fluxlit run", "dev" and "workbench": it builds the gateway from the Config,
// listens, starts the children when fluxlit supervises them, reports readiness (pidfile,
// systemd), and on SIGTERM/SIGINT drains requests, closes tunnels with 1001, stops the
// children and exits 0.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
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
	in, err := cf.parse(args)
	if err != nil {
		return usageError(stderr, err)
	}
	in.Defaults = modeDefaults[mode]
	cfg, err := loadAppConfig(in)
	if err != nil {
		fmt.Fprintf(stderr, "fluxlit: %v\n", err)
		return 2
	}
	if cfg.AppErr != "" {
		fmt.Fprintf(stderr, "fluxlit: %s\n", cfg.AppErr)
		return 1
	}
	r := &runner{cfg: cfg, input: in, mode: mode, stdout: stdout, stderr: stderr, env: in.Env,
		restartSelf: make(chan struct{}, 1)}
	code := r.run()
	if r.reexec {
		return reexec(append([]string{os.Args[0], mode}, args...), r.env, stderr)
	}
	return code
}

// reexec replaces this process with a fresh fluxlit of the same command line, environment
// and pid, once everything was stopped and cleaned up: dev's way to apply a changed
// configuration, which every part of a run derives from. It returns only on failure.
func reexec(argv, env []string, stderr io.Writer) int {
	exe, err := os.Executable()
	if err == nil {
		err = syscall.Exec(exe, argv, env)
	}
	fmt.Fprintf(stderr, "fluxlit: cannot restart itself (%v); run \"fluxlit %s\" again\n", err, strings.Join(argv[1:], " "))
	return 1
}

type runner struct {
	cfg       *Config
	input     loadInput // what cfg was loaded from: dev re-reads it when a file changes
	mode      string
	stdout    io.Writer
	stderr    io.Writer
	env       []string
	log       *slog.Logger
	gw        *gateway
	srv       *http.Server
	fast      *fastServer      // the fast path in front of srv; nil when gateway_fast_path is off
	overLimit *overLimitServer // answers connections over max_connections; nil without a cap
	sup       *supervisor
	notify    *sdNotifier
	pid       string       // pidfile path when one is written
	logOut    *bufferedLog // stderr: every log line, the banner and the final error go through it

	style    logStyle  // console or JSON (console.go)
	terminal bool      // stderr is a terminal: hints about keys are worth printing
	started  time.Time // when run began, for "ready in"
	ready    atomic.Bool

	restartSelf chan struct{} // the configuration changed (dev): stop, then reexec
	reexec      bool
	failure     string // the error the run ends with, printed after the stop
}

// fatalf prints the one-line error a failing run ends with, after the log lines before it:
// "fluxlit: <what>" in the console format, an ERROR record in JSON.
func (r *runner) fatalf(format string, args ...any) {
	msg := strings.TrimSuffix(fmt.Sprintf(format, args...), "\n")
	if r.style.json {
		r.log.Error(msg)
		return
	}
	fmt.Fprintf(r.logOut, "fluxlit: %s\n", msg)
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
	env := envMap(r.env)
	r.notify = newSDNotifier(env["NOTIFY_SOCKET"])
	if !cfg.NoPidfile {
		r.pid = cfg.pidfilePath()
		if pid, err := readPidfile(r.pid); err == nil && pid != os.Getpid() && processAlive(pid) {
			r.fatalf("another fluxlit (pid %d) is running with pidfile %s (run \"fluxlit shutdown\", or set --pidfile)\n", pid, r.pid)
			return 1
		}
	}
	ln, err := listenGateway(cfg)
	if err != nil {
		r.fatalf("%v\n", err)
		return 1
	}
	if r.pid != "" {
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
	plan, err := planChildren(cfg, port, r.env)
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
	errorLog := slog.NewLogLogger(r.log.Handler(), slog.LevelDebug)
	r.srv = &http.Server{
		Handler:           gw,
		ReadHeaderTimeout: cfg.clientHeaderTimeout(),
		IdleTimeout:       serverIdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          errorLog,
	}
	if cfg.MaxConnections > 0 {
		r.overLimit = newOverLimitServer(gw, ln.Addr(), errorLog)
		lim := newLimitListener(ln, cfg.MaxConnections, r.overLimit.serve, r.log)
		ln = lim
		r.srv.ConnState = markConnState
		if gw.obs.metrics != nil {
			gw.obs.metrics.connLimit = lim.stats
		}
	}
	if cfg.Debug {
		printDebugBanner(r.plainOut(), gw, cfg.internalAPIBase(port), plan.describe())
	}
	served := make(chan error, 1)
	if cfg.FastPath {
		r.fast = newFastServer(gw, r.srv)
		go func() { served <- r.fast.Serve(ln) }()
	} else {
		go func() { served <- r.srv.Serve(ln) }()
	}
	metricsSrv := r.serveMetricsListener()
	for _, w := range append(append([]string{}, cfg.Warnings...), cfg.UnknownEnv...) {
		r.log.Warn("configuration: " + w)
	}
	if r.style.json {
		r.log.Info("fluxlit listening", "addr", ln.Addr().String(), "mode", r.mode, "version", version,
			"api", describeUpstream(gw.api), "streamlit", describeUpstream(gw.ui))
		if len(plan.specs) > 0 {
			r.log.Info("project", "app", appDescribe(cfg))
		}
	} else {
		// The upstreams' addresses are private: only the gateway's is the one to open.
		r.log.Info(fmt.Sprintf("fluxlit %s listening on %s (%s)", version, ln.Addr(), r.mode))
		r.log.Debug("upstreams", "api", describeUpstream(gw.api), "streamlit", describeUpstream(gw.ui))
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	code := r.startAndWait(plan, sigs, served)
	r.stop(metricsSrv, sigs)
	if r.failure != "" {
		r.fatalf("%s", r.failure)
	}
	return code
}

// startAndWait starts the children (if any), reports readiness, then blocks until a signal,
// a supervision failure or a server error. It returns the exit code.
func (r *runner) startAndWait(plan *childPlan, sigs chan os.Signal, served chan error) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var supDone <-chan struct{}
	if len(plan.specs) > 0 {
		opts := plan.options(r.cfg, r.log, r.onChildChange)
		opts.RequestID = r.gw.obs.failures.since
		if r.cfg.Reload { // with a next change to wait for, a broken save is not fatal
			opts.Hold = func(e *childStartError) bool { return !setupProblem(e) }
		}
		r.sup = newSupervisor(plan.specs, opts)
		r.gw.attachSupervisor(r.sup)
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
			}
		}
		supDone = r.sup.Done()
	}
	r.reportReady()
	var stopWatch func()
	if r.cfg.Reload && r.sup != nil {
		stopWatch = r.watchReload(ctx)
	}
	if stopWatch != nil {
		defer stopWatch()
	}
	watchdog := r.startWatchdog(ctx)
	defer watchdog()
	select {
	case sig := <-sigs:
		if r.terminal {
			r.log.Info("stopping (" + sig.String() + "); press Ctrl-C again to stop at once")
		} else {
			r.log.Info("stopping", "signal", sig.String())
		}
		return 0
	case <-r.restartSelf:
		r.reexec = true
		return 0
	case <-supDone:
		r.failf("%v\n", r.sup.Err())
		return 1
	case err := <-served:
		r.failf("serve: %v\n", err)
		return 1
	}
}

// startProgressInterval: a start that takes longer than this says what it waits for, so a
// slow import does not look like a hang. Five seconds is past a healthy start on a laptop.
const startProgressInterval = 5 * time.Second

// logStartProgress names the children still starting and how long they may take.
func (r *runner) logStartProgress() {
	var waiting []string
	for _, st := range r.sup.Status() {
		if st.State != childReady {
			waiting = append(waiting, st.Name)
		}
	}
	if len(waiting) == 0 {
		return
	}
	r.log.Info(fmt.Sprintf("still starting %s after %ds (child_ready_timeout_s = %g)",
		strings.Join(waiting, " and "), int(time.Since(r.started).Seconds()), r.cfg.ChildReadyTimeoutS))
}

// startHint is what to do about a first start that failed, read from the error and the
// child's last output: the setting or variable to change, and doctor, which checks the
// interpreter, the imports and the script without starting anything.
func startHint(cfg *Config, err error) string {
	const doctor = "\"fluxlit doctor\" checks the interpreter, the imports and the script"
	var se *childStartError
	if !errors.As(err, &se) {
		return doctor
	}
	out := strings.Join(se.Output, "\n")
	if m := missingModule.FindStringSubmatch(out); m != nil && (m[1] == "streamlit" || m[1] == "uvicorn" || m[1] == "fastapi") {
		return fmt.Sprintf("install %s into %s (pip install %s), or set python (FLUXLIT_PYTHON) to the interpreter that has it; %s", m[1], cfg.Python, m[1], doctor)
	}
	switch {
	case errors.As(se.Err, new(superviseSpawnError)):
		return fmt.Sprintf("set python (FLUXLIT_PYTHON) to your interpreter, or activate its virtualenv; %s", doctor)
	case strings.Contains(se.Err.Error(), "not ready after"):
		return fmt.Sprintf("if %s is only slow to start, raise child_ready_timeout_s (now %g; FLUXLIT_CHILD_READY_TIMEOUT_S); %s", se.Child, cfg.ChildReadyTimeoutS, doctor)
	case se.Child == dispatchAPI && len(cfg.APICommand) == 0:
		return fmt.Sprintf("fix the error above, or check target (now %q: module:attribute, imported from %s); %s", cfg.Target, cfg.ProjectDir, doctor)
	}
	return "fix the error above; " + doctor
}

// setupProblem reports a start that no change to the project's code can mend: the
// interpreter or the child's own program (uvicorn, streamlit) is missing.
func setupProblem(e *childStartError) bool {
	if errors.As(e.Err, new(superviseSpawnError)) {
		return true
	}
	m := missingModule.FindStringSubmatch(strings.Join(e.Output, "\n"))
	return m != nil && (m[1] == "streamlit" || m[1] == "uvicorn")
}

// missingModule finds Python's "No module named x" (from "python -m x", unquoted, or from an
// import, quoted).
var missingModule = regexp.MustCompile(`No module named '?([A-Za-z0-9_]+)`)

// describeChildren says what runs, briefly: "api (uvicorn app:app) and streamlit (streamlit
// run streamlit_app.py)", or the FluxLit app. The full command lines are in the
// [fluxlit-debug] lines.
func describeChildren(cfg *Config, specs []childSpec) string {
	if cfg.App != nil {
		return appDescribe(cfg)
	}
	parts := make([]string, 0, len(specs))
	for _, s := range specs {
		parts = append(parts, s.Name+" ("+shortCommand(s.Argv)+")")
	}
	return strings.Join(parts, " and ")
}

// shortCommand is argv as a person would type it: the module after "python -m", or the
// program's base name, with the arguments up to the first flag.
func shortCommand(argv []string) string {
	if len(argv) == 0 {
		return ""
	}
	words := []string{filepath.Base(argv[0])}
	rest := argv[1:]
	if len(rest) > 1 && rest[0] == "-m" {
		words, rest = []string{rest[1]}, rest[2:]
	}
	for _, a := range rest {
		if strings.HasPrefix(a, "-") {
			break
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}

// reportReady runs once every child is ready: systemd READY=1, then the URLs to open.
func (r *runner) reportReady() {
	r.gw.ready.starting.Store(false)
	r.ready.Store(true)
	r.notify.Notify("READY=1\nSTATUS=ready: serving on " + r.gw.listen)
	urls := publicURLsFor(r.cfg, r.gw)
	took := time.Since(r.started)
	if r.style.json {
		attrs := []any{"addr", r.gw.listen, "startup_s", math.Round(took.Seconds()*10) / 10}
		for _, u := range urls {
			attrs = append(attrs, u.key, u.url)
		}
		r.log.Info("fluxlit ready", attrs...)
	} else {
		r.log.Info("fluxlit ready in " + formatMS(float64(took.Milliseconds())))
		if r.log.Enabled(context.Background(), slog.LevelInfo) || r.cfg.StartupBanner {
			printURLBanner(r.logOut, r.cfg, urls, r.style.color)
		}
	}
	if r.sup != nil {
		for _, st := range r.sup.Status() {
			if st.State == childWaiting {
				r.log.Warn(st.Name+" is not running: fix the error above and save; the gateway serves the rest meanwhile", "child", st.Name)
			}
		}
	}
	if r.cfg.StartupBanner && r.cfg.TrustProxy {
		allow := "loopback only"
		if len(r.cfg.ForwardedAllowIPs) > 0 {
			allow = strings.Join(r.cfg.ForwardedAllowIPs, ", ")
		}
		r.log.Warn("X-Forwarded-* headers are trusted from " + allow + ": only expose this port behind the proxy that sets them")
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
	r.notify.Notify("STOPPING=1")
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
	if r.sup != nil {
		stopCtx, stopCancel := context.WithTimeout(force, r.cfg.shutdownTimeout()+childStopGrace+time.Second)
		r.sup.Stop(stopCtx)
		stopCancel()
	}
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
	if err != nil {
		r.log.Error("cannot listen for metrics", "metrics_listen", r.cfg.MetricsListen, "error", err.Error())
		return nil
	}
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

func describeUpstream(up *upstream) string {
	if up == nil {
		return "not configured"
	}
	if up.unixPath != "" {
		return "unix:" + up.unixPath
	}
	return up.target.String()
}

// publicURL is one address the banner and the "fluxlit ready" record name.
type publicURL struct {
	key, label, url string
}

// publicURLsFor are the URLs to open once fluxlit is ready: the app (when there is a
// Streamlit), the API docs (when there is an API) and the health route, at the public base
// URL when one is set, else at the gateway's own address.
func publicURLsFor(cfg *Config, g *gateway) []publicURL {
	base := cfg.PublicBaseURL
	if base == "" {
		base = "http://" + loopbackDialAddr(g.listen) + cfg.RootPath
	}
	base = strings.TrimSuffix(base, "/")
	var urls []publicURL
	if g.ui != nil {
		urls = append(urls, publicURL{"app", "App", base + "/"})
	}
	if g.api != nil {
		urls = append(urls, publicURL{"api_docs", "API docs", base + cfg.APIMountPath + "/docs"})
	}
	return append(urls, publicURL{"health", "Health", base + cfg.APIMountPath + "/healthz"})
}

// printURLBanner is the console's answer to "what do I open": the public URLs, set apart
// from the log lines around them.
func printURLBanner(w io.Writer, cfg *Config, urls []publicURL, color bool) {
	var b strings.Builder
	b.WriteString("\n")
	for _, u := range urls {
		v := u.url
		if color && u.key == "app" {
			v = "\x1b[1m" + v + "\x1b[0m"
		}
		fmt.Fprintf(&b, "  %-10s %s\n", u.label+":", v)
	}
	if ip := net.ParseIP(cfg.GatewayHost); ip != nil && ip.IsUnspecified() {
		fmt.Fprintf(&b, "  %-10s every interface (gateway_host = %s)\n", "Listening:", cfg.GatewayHost)
	}
	b.WriteString("\n")
	io.WriteString(w, b.String())
}

// port string helper for child planning.
func itoa(n int) string { return strconv.Itoa(n) }
