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
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
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
	cfg, code := cf.load(args, modeDefaults[mode], stderr)
	if cfg == nil {
		return code
	}
	r := &runner{cfg: cfg, mode: mode, stdout: stdout, stderr: stderr, env: os.Environ()}
	return r.run()
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
	logOut     *bufferedLog // stderr: every log line and the final error go through it
	outOut     *bufferedLog // stdout: the workbench banner
}

// fatalf prints the one-line error a failing run ends with, after the log lines before it.
func (r *runner) fatalf(format string, args ...any) {
	fmt.Fprintf(r.logOut, "fluxlit: "+format, args...)
}

func (r *runner) run() int {
	cfg := r.cfg
	surviveSIGPIPE()
	r.logOut = newBufferedLog(r.stderr)
	defer r.logOut.Close()
	r.outOut = newBufferedLog(r.stdout)
	defer r.outOut.Close()
	r.log = newLogger(cfg, r.logOut, isTerminal(r.stderr))
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
		printDebugBanner(r.logOut, gw, cfg.internalAPIBase(port), plan.describe())
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
	r.log.Info("fluxlit listening", "addr", ln.Addr().String(), "mode", r.mode, "version", version,
		"api", describeUpstream(gw.api), "streamlit", describeUpstream(gw.ui))

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	code := r.startAndWait(plan, sigs, served)
	r.stop(metricsSrv)
	return code
}

// startAndWait starts the children (if any), reports readiness, then blocks until a signal,
// a supervision failure or a server error. It returns the exit code.
func (r *runner) startAndWait(plan *childPlan, sigs chan os.Signal, served chan error) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var supDone <-chan struct{}
	if len(plan.specs) > 0 {
		r.sup = newSupervisor(plan.specs, plan.options(r.cfg, r.log, r.onChildChange))
		r.gw.attachSupervisor(r.sup)
		started := make(chan error, 1)
		go func() { started <- r.sup.Start(ctx) }()
		select {
		case err := <-started:
			if err != nil {
				r.log.Error("children did not start", "error", err.Error())
				r.fatalf("%v\n", err)
				return 1
			}
		case sig := <-sigs:
			r.log.Info("signal during start-up; stopping", "signal", sig.String())
			return 0
		case err := <-served:
			r.fatalf("serve: %v\n", err)
			return 1
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
	go releaseAfterBursts(ctx, func() uint64 {
		n := r.connEvents.Load()
		if r.fast != nil {
			n += r.fast.events.Load()
		}
		return n
	})
	select {
	case sig := <-sigs:
		r.log.Info("stopping", "signal", sig.String())
		return 0
	case <-supDone:
		err := r.sup.Err()
		r.log.Error("supervision gave up", "error", errString(err))
		r.fatalf("%v\n", err)
		return 1
	case err := <-served:
		r.fatalf("serve: %v\n", err)
		return 1
	}
}

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

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// reportReady runs once every child is ready: systemd READY=1, banner.
func (r *runner) reportReady() {
	r.gw.ready.starting.Store(false)
	r.notify.Notify("READY=1\nSTATUS=ready: serving on " + r.gw.listen)
	r.log.Info("fluxlit ready", "addr", r.gw.listen)
	if r.cfg.StartupBanner {
		printStartupBanner(r.outOut, r.cfg, r.gw)
	}
}

func (r *runner) onChildChange(st childStatus) {
	r.log.Info("child state", "child", st.Name, "state", string(st.State), "pid", st.PID, "restarts", st.Restarts)
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
// then the children are stopped (run removes the pidfile after it).
func (r *runner) stop(metricsSrv *http.Server) {
	r.notify.Notify("STOPPING=1")
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.shutdownTimeout())
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
		stopCtx, stopCancel := context.WithTimeout(context.Background(), r.cfg.shutdownTimeout()+childStopGrace+time.Second)
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

// printStartupBanner is the workbench banner: where to open the app, the API docs and the
// health URL, and a warning when proxy headers are trusted.
func printStartupBanner(w io.Writer, cfg *Config, g *gateway) {
	base := cfg.PublicBaseURL
	if base == "" {
		base = "http://" + loopbackDialAddr(g.listen) + cfg.RootPath
	}
	base = strings.TrimSuffix(base, "/")
	fmt.Fprintf(w, "\n  fluxlit %s\n\n", version)
	fmt.Fprintf(w, "  App:      %s/\n", base)
	fmt.Fprintf(w, "  API docs: %s%s/docs\n", base, cfg.APIMountPath)
	fmt.Fprintf(w, "  Health:   %s%s/healthz\n", base, cfg.APIMountPath)
	if cfg.TrustProxy {
		allow := "loopback only"
		if len(cfg.ForwardedAllowIPs) > 0 {
			allow = strings.Join(cfg.ForwardedAllowIPs, ", ")
		}
		fmt.Fprintf(w, "\n  Warning: X-Forwarded-* headers are trusted from %s.\n", allow)
		fmt.Fprintf(w, "  Only expose this port behind the proxy that sets them.\n")
	}
	fmt.Fprintln(w)
}

func newLogger(cfg *Config, w io.Writer, terminal bool) *slog.Logger {
	level := slog.LevelInfo
	switch cfg.LogLevel {
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	format := cfg.LogFormat
	if format == "auto" {
		format = "json"
		if terminal {
			format = "text"
		}
	}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// port string helper for child planning.
func itoa(n int) string { return strconv.Itoa(n) }
