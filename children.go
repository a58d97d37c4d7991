// children.go owns turning the Config into the children fluxlit runs: their argv (uvicorn
// and streamlit, or api_command / streamlit_command), ports, working directory, environment
// contract and readiness probes. supervise.go runs them.

package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Supervision constants. Five failed starts in a minute is the point where a restart loop
// only burns CPU: fluxlit then exits non-zero so systemd or Kubernetes decides. The stop
// grace is the Python package's 5 s, well inside systemd's default 90 s stop timeout.
const (
	childCrashLimit  = 5
	childCrashWindow = 60 * time.Second
	childStopGrace   = 5 * time.Second
)

// childPlan is what run needs to know about the children: their specs and the upstream URLs
// the gateway proxies to.
type childPlan struct {
	specs   []childSpec
	apiURL  string
	uiURLs  []string // one per Streamlit replica
	sockDir string   // private directory of the API child's Unix socket, removed at stop
}

// cleanup removes what the plan created on disk.
func (p *childPlan) cleanup() {
	if p != nil && p.sockDir != "" {
		os.RemoveAll(p.sockDir)
	}
}

// planChildren decides which children generation gen starts: an upstream without a URL is
// run by fluxlit, Streamlit as streamlit_replicas children of their own. Each child gets its
// own free port (a generation starts beside the one it replaces), its ID "<gen>.<n>".
func planChildren(cfg *Config, gatewayPort int, environ []string, gen int) (*childPlan, error) {
	plan := &childPlan{}
	if cfg.APIUpstream == "" {
		if apiOverUnixSocket(cfg) {
			dir, err := makeSockDir()
			if err != nil {
				return nil, err
			}
			plan.sockDir = dir
		}
		spec, url, err := apiChildSpec(cfg, gatewayPort, environ, plan.sockDir)
		if err != nil {
			plan.cleanup()
			return nil, err
		}
		spec.ID = childID(gen, 1)
		plan.specs = append(plan.specs, spec)
		plan.apiURL = url
	}
	if cfg.StreamlitUpstream == "" {
		for i := range cfg.replicaCount() {
			spec, url, err := streamlitChildSpec(cfg, gatewayPort, environ, i)
			// A free port is found by binding port 0 and closing it: with many replicas the
			// kernel may hand the same one out twice.
			for try := 0; err == nil && slices.Contains(plan.uiURLs, url) && try < 10; try++ {
				spec, url, err = streamlitChildSpec(cfg, gatewayPort, environ, i)
			}
			if err != nil {
				plan.cleanup()
				return nil, err
			}
			spec.ID = childID(gen, i+1)
			plan.specs = append(plan.specs, spec)
			plan.uiURLs = append(plan.uiURLs, url)
		}
	}
	return plan, nil
}

func pickPort(fixed int) (int, error) {
	if fixed > 0 {
		return fixed, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("cannot find a free loopback port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// substituteArgv fills {host}, {port} and {root_path} in a user-given command.
func substituteArgv(argv []string, port int, rootPath string) []string {
	r := strings.NewReplacer("{host}", "127.0.0.1", "{port}", itoa(port), "{root_path}", rootPath)
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = r.Replace(a)
	}
	return out
}

// apiOverUnixSocket decides how the default uvicorn child listens. A Unix socket is the
// default where it exists: bench/ measured fluxlit in front of uvicorn at 0.88 of uvicorn
// alone over a socket against 0.78 over loopback TCP (BENCHMARKS.md). A fixed api_port or a
// custom api_command (which gets {port}) means TCP, as does api_child_transport = "tcp".
func apiOverUnixSocket(cfg *Config) bool {
	return cfg.APIChildTransport == "unix" && cfg.APIPort == 0 && len(cfg.APICommand) == 0 && runtime.GOOS != "windows"
}

func apiChildSpec(cfg *Config, gatewayPort int, environ []string, sockDir string) (childSpec, string, error) {
	env := childEnv(environ, appChildEnv(cfg, childContract(cfg, gatewayPort)), func(string) bool { return false })
	// uvicorn TARGET, or for a FluxLit project its API entry, which passes the uvicorn flags
	// on and sets the root path itself (fluxlitapp.go).
	head := []string{cfg.Python, "-m", "uvicorn", cfg.Target, "--root-path", cfg.publicAPIMount()}
	if cfg.App != nil {
		head = []string{cfg.Python, "-c", appAPIEntry, cfg.Target, cfg.publicAPIMount()}
	}
	// fluxlit logs every request once, with its request id: uvicorn's own access log would
	// say it again without one.
	common := []string{"--app-dir", cfg.ProjectDir, "--no-server-header", "--no-access-log"}
	if cfg.APIWorkers > 1 {
		// uvicorn's own workers, not N children balanced by fluxlit: they share the one socket
		// (the kernel spreads connections), so there is one upstream, one pool and one probe;
		// API requests carry no session to keep on a worker; and uvicorn restarts a worker
		// that dies while the others serve.
		if cfg.App != nil {
			// Its workers would import the entry module by name, and it exists only in the
			// memory of the process that made it.
			return childSpec{}, "", fmt.Errorf("api_workers %d: a FluxLit project's API child runs one uvicorn worker (its entry is built in memory); set api_workers = 1, or run uvicorn yourself with api_command", cfg.APIWorkers)
		}
		common = append(common, "--workers", itoa(cfg.APIWorkers))
	}
	if sockDir != "" {
		sock := filepath.Join(sockDir, "api.sock")
		argv := append(append(head, "--uds", sock), common...)
		spec := childSpec{Name: dispatchAPI, Argv: argv, Dir: cfg.ProjectDir, Env: env, Ready: unixReadyProbe(sock, cfg.APIHealthPath)}
		return spec, "unix:" + sock, nil
	}
	port, err := pickPort(cfg.APIPort)
	if err != nil {
		return childSpec{}, "", err
	}
	argv := append(append(head, "--host", "127.0.0.1", "--port", itoa(port)), common...)
	if len(cfg.APICommand) > 0 {
		argv = substituteArgv(cfg.APICommand, port, cfg.publicAPIMount())
	}
	base := "http://127.0.0.1:" + itoa(port)
	spec := childSpec{Name: dispatchAPI, Argv: argv, Dir: cfg.ProjectDir, Env: env, Ready: apiReadyProbe(base, cfg.APIHealthPath)}
	return spec, base, nil
}

// unixReadyProbe is apiReadyProbe over the API child's Unix socket.
func unixReadyProbe(sock, healthPath string) func(ctx context.Context) error {
	if healthPath == "" {
		return dialReadyProbe("unix", sock)
	}
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		d := net.Dialer{Timeout: childProbeTimeout}
		return d.DialContext(ctx, "unix", sock)
	}
	return httpReadyProbe("http://api.sock"+healthPath, dial)
}

// streamlitChildSpec is Streamlit replica i (from 0). A fixed streamlit_port is replica 0's;
// replica i listens on the port i above it.
func streamlitChildSpec(cfg *Config, gatewayPort int, environ []string, i int) (childSpec, string, error) {
	fixed := cfg.StreamlitPort
	if fixed > 0 {
		fixed += i
	}
	port, err := pickPort(fixed)
	if err != nil {
		return childSpec{}, "", err
	}
	script := cfg.StreamlitScript
	if appUsesPageEntry(cfg) {
		script = cfg.App.StreamlitMain
	}
	argv := []string{cfg.Python, "-m", "streamlit", "run", script,
		"--server.headless", "true", "--server.port", itoa(port), "--server.address", "127.0.0.1"}
	if cfg.App != nil {
		argv = append(argv, appStreamlitFlags...)
	}
	argv = append(argv, "--browser.gatherUsageStats", "false")
	if cfg.RootPath != "" {
		argv = append(argv, "--server.baseUrlPath", cfg.RootPath)
	}
	argv = append(argv, cfg.StreamlitRunCLIArgs...)
	if len(cfg.StreamlitCommand) > 0 {
		argv = substituteArgv(cfg.StreamlitCommand, port, cfg.RootPath)
	}
	base := "http://127.0.0.1:" + itoa(port)
	deny := streamlitEnvDenied(cfg.ChildEnvDeny)
	if cfg.App != nil {
		// The page entry imports app.py, which may read its JWT/OIDC settings at import:
		// the child gets what Python FluxLit gives it, less child_env_deny (doctor's
		// streamlit_child_secrets row names what that exposes).
		deny = func(name string) bool { return slices.Contains(cfg.ChildEnvDeny, name) }
	}
	env := appChildEnv(cfg, childContract(cfg, gatewayPort))
	for _, o := range streamlitLogOptions {
		if streamlitOptionFree(cfg, environ, o) {
			env[o.env] = o.value
		}
	}
	spec := childSpec{
		Name:  dispatchStreamlit,
		Argv:  argv,
		Dir:   cfg.ProjectDir,
		Env:   childEnv(environ, env, deny),
		Ready: httpReadyProbe(base+cfg.RootPath+"/_stcore/health", nil),
	}
	return spec, base, nil
}

// streamlitScriptExists catches a missing script before Streamlit starts: Streamlit itself
// would print its usage text and exit, which reads like a fluxlit bug.
func streamlitScriptExists(cfg *Config) error {
	if cfg.StreamlitUpstream != "" || len(cfg.StreamlitCommand) > 0 || appUsesPageEntry(cfg) {
		return nil // fluxlit runs no script of its own
	}
	p := cfg.StreamlitScript
	if !filepath.IsAbs(p) {
		p = filepath.Join(cfg.ProjectDir, p)
	}
	if st, err := os.Stat(p); err != nil || st.IsDir() {
		if cfg.ConfigFile == "" && !hasPythonFile(cfg.ProjectDir) {
			// The commonest first mistake: the command run outside the project.
			return fmt.Errorf("no project in %s (no fluxlit.toml, no Python file): cd to your project, or start one with \"fluxlit new myapp\"", cfg.ProjectDir)
		}
		return fmt.Errorf("streamlit_script %s: no such file in %s (create it, set streamlit_script or --streamlit-script, or set streamlit_upstream to run without one)", cfg.StreamlitScript, cfg.ProjectDir)
	}
	return nil
}

// hasPythonFile reports whether dir holds a *.py file.
func hasPythonFile(dir string) bool {
	matches, _ := filepath.Glob(filepath.Join(dir, "*.py"))
	return len(matches) > 0
}

// streamlitLogOption is a Streamlit option fluxlit sets through the child's environment so
// that Streamlit's log reads as fluxlit's (childlog.go), unless the user set it.
type streamlitLogOption struct{ env, flag, value string }

var streamlitLogOptions = []streamlitLogOption{
	// uvicorn's level prefix ("WARNING: ..."), so that fluxlit logs each line at its level.
	// Streamlit's default format starts with a timestamp and has no level; fluxlit's own
	// record has the time.
	{"STREAMLIT_LOGGER_MESSAGE_FORMAT", "--logger.messageFormat", "%(levelname)s: %(message)s"},
	// Plain tracebacks. With rich installed (FastAPI's standard extras install it) Streamlit
	// draws a script's uncaught exception with colour codes and box characters on a forced
	// terminal: some thirty INFO lines of escaped codes in fluxlit's log, none saying where it
	// failed. Plain, it is one ERROR record naming the script and line.
	{"STREAMLIT_LOGGER_ENABLE_RICH", "--logger.enableRich", "false"},
}

// streamlitOptionFree reports whether the user left option o to fluxlit: neither the
// environment nor streamlit_run_cli_args set it (a .streamlit/config.toml setting loses to
// the environment, as Streamlit ranks its sources).
func streamlitOptionFree(cfg *Config, environ []string, o streamlitLogOption) bool {
	for _, kv := range environ {
		if strings.HasPrefix(kv, o.env+"=") {
			return false
		}
	}
	for _, a := range cfg.StreamlitRunCLIArgs {
		if strings.HasPrefix(a, o.flag) {
			return false
		}
	}
	return true
}

// childContract is the environment both children receive (DESIGN §4), plus the settings
// only a FluxLit app reads when fluxlit got them from the project file or a flag.
func childContract(cfg *Config, gatewayPort int) map[string]string {
	m := cfg.appSettingsEnv()
	m["FLUXLIT_INTERNAL_API_BASE"] = cfg.internalAPIBase(gatewayPort)
	m["FLUXLIT_API_PREFIX"] = cfg.APIMountPath
	m["FLUXLIT_APP"] = cfg.Target
	return m
}

// streamlitEnvDenied returns the filter for the Streamlit child's environment: the
// gateway's secrets stay with the gateway (a Streamlit script can print its environment).
func streamlitEnvDenied(extra []string) func(string) bool {
	return func(name string) bool {
		if strings.HasPrefix(name, "FLUXLIT_JWT_") || strings.HasPrefix(name, "FLUXLIT_OIDC_") {
			return true
		}
		if s, ok := strings.CutPrefix(name, "FLUXLIT_"); ok && isSecretSetting(strings.ToLower(s)) {
			return true
		}
		for _, d := range extra {
			if d == name {
				return true
			}
		}
		return false
	}
}

// Readiness probes of children. Each attempt is short; the supervisor retries until its
// ReadyTimeout.
const childProbeTimeout = time.Second

// httpReadyProbe is ready on a 2xx from url; dial, when set, replaces the TCP dial.
func httpReadyProbe(url string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context) error {
	client := &http.Client{Timeout: childProbeTimeout, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true, DialContext: dial}}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode < 200 || res.StatusCode > 299 {
			return fmt.Errorf("GET %s: status %d", url, res.StatusCode)
		}
		return nil
	}
}

// dialReadyProbe is ready once addr accepts a connection.
func dialReadyProbe(network, addr string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		d := net.Dialer{Timeout: childProbeTimeout}
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

func apiReadyProbe(base, healthPath string) func(ctx context.Context) error {
	if healthPath != "" {
		return httpReadyProbe(base+healthPath, nil)
	}
	return dialReadyProbe("tcp", strings.TrimPrefix(base, "http://"))
}

// options are the supervisor's settings for this Config.
func (p *childPlan) options(cfg *Config, log *slog.Logger, onChange func(childStatus)) supervisorOptions {
	return supervisorOptions{
		MaxBackoff:   seconds(cfg.RestartMaxBackoffS),
		CrashLimit:   childCrashLimit,
		CrashWindow:  childCrashWindow,
		StopGrace:    childStopGrace,
		ReadyTimeout: seconds(cfg.ChildReadyTimeoutS),
		Log:          log,
		Project:      cfg.ProjectDir,
		OnChange:     onChange,
	}
}

// describe is the children part of the debug banner.
func (p *childPlan) describe() []string {
	var lines []string
	for _, s := range p.specs {
		argv := slices.Clone(s.Argv)
		for i, a := range argv {
			if a == appAPIEntry {
				argv[i] = "<fluxlit API entry>" // a script of its own; fluxlitapp.go holds it
			}
		}
		lines = append(lines, fmt.Sprintf("child %s: %s", s.Name, strings.Join(argv, " ")))
	}
	if p.apiURL != "" {
		lines = append(lines, "child api upstream: "+p.apiURL)
	}
	for _, u := range p.uiURLs {
		lines = append(lines, "child streamlit upstream: "+u)
	}
	return lines
}

func (s *supervisor) has(name string) bool {
	for _, st := range s.Status() {
		if st.Name == name {
			return true
		}
	}
	return false
}
