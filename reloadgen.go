// reloadgen.go owns the zero-downtime reload ("fluxlit reload", SIGHUP): a new generation of
// children started beside the running one with the current code and configuration, the switch
// of new requests and new sessions to it once it is ready, the drain of the old one (its HTTP
// answers finish; its WebSockets get 1001 after reload_drain_s, so Streamlit's frontend
// reconnects to the new code), the rollback of a generation that does not become ready, and
// the "fluxlit reload" command that asks a running instance for it and reports the outcome.
//
// What a reload changes: everything about the children (code, target, streamlit_script,
// python, the commands and their flags, replicas, workers, ports picked anew, timeouts of the
// children, the environment they get from fluxlit.toml). What it cannot change: the gateway
// itself (listener, routing, auth, CORS, limits, logging): those settings are reported as not
// applied, and apply at a restart, or at a binary upgrade (upgrade.go), which runs a new
// gateway on the same listener. The process environment is fluxlit's own and is kept.

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"
)

// reloadableSettings are the settings a reload applies: those of the children. Keep in sync
// with what planChildren, childPlan.options and the child specs read.
var reloadableSettings = map[string]bool{
	"target": true, "streamlit_script": true, "python": true, "api_command": true, "streamlit_command": true,
	"streamlit_run_cli_args": true, "api_port": true, "api_child_transport": true, "streamlit_port": true,
	"streamlit_replicas": true, "api_workers": true, "child_env_deny": true, "restart_max_backoff_s": true,
	"child_ready_timeout_s": true, "reload_drain_s": true, "api_health_path": true,
	// Read by fluxlit's own loop, not the gateway: they take effect too.
	"reload": true, "reload_scope": true, "shutdown_timeout_s": true,
}

// reloadPoll is how often a drain checks whether the old generation has finished.
const reloadPoll = 100 * time.Millisecond

// reloadRetireGrace is how long a retired generation waits for requests routed to it just
// before it was retired to show up in its in-flight count: far more than the microseconds
// between a plan and the start of its exchange, even on a loaded machine.
const reloadRetireGrace = 500 * time.Millisecond

// reloadResult is the outcome of one reload, for the log, the status file and the command.
type reloadResult struct {
	PID        int    `json:"pid"`
	Seq        int    `json:"seq"` // one more per reload this process answered
	OK         bool   `json:"ok"`
	Generation int    `json:"generation"` // the generation serving afterwards
	Message    string `json:"message"`
}

// reloadConfig merges a freshly loaded configuration into the running one: the children's
// settings come from fresh, the gateway's stay; changed lists the gateway settings that
// differ and so were not applied.
func reloadConfig(running, fresh *Config) (merged *Config, changed []string) {
	m := *fresh
	mv, rv := reflect.ValueOf(&m).Elem(), reflect.ValueOf(running).Elem()
	t := mv.Type()
	for i := 0; i < t.NumField(); i++ {
		name := t.Field(i).Tag.Get("setting")
		if name == "" || reloadableSettings[name] {
			continue
		}
		if !reflect.DeepEqual(mv.Field(i).Interface(), rv.Field(i).Interface()) {
			changed = append(changed, name)
		}
		mv.Field(i).Set(rv.Field(i))
	}
	return &m, changed
}

// reloadChecks refuses a reload that cannot run two generations side by side.
func reloadChecks(cfg *Config) error {
	switch {
	case cfg.APIUpstream != "" && cfg.StreamlitUpstream != "":
		return errors.New("fluxlit runs no child (api_upstream and streamlit_upstream are set): nothing to reload")
	case cfg.StreamlitPort > 0 && cfg.StreamlitUpstream == "":
		return fmt.Errorf("streamlit_port is fixed (%d): a reload runs the new generation beside the old one, on free ports; unset streamlit_port, or restart instead", cfg.StreamlitPort)
	case cfg.APIPort > 0 && cfg.APIUpstream == "":
		return fmt.Errorf("api_port is fixed (%d): a reload runs the new generation beside the old one, on free ports; unset api_port, or restart instead", cfg.APIPort)
	}
	return nil
}

// reload starts generation n+1 and switches to it once ready, or rolls it back. It runs on
// its own goroutine; stop (ctx) ends a start in progress.
func (r *runner) reload(ctx context.Context) reloadResult {
	gens := r.gw.gens
	cur := gens.current()
	next := cur.n + 1
	fail := func(format string, args ...any) reloadResult {
		msg := fmt.Sprintf("reload rolled back: "+format+"; generation %d keeps serving", append(args, cur.n)...)
		r.log.Error(msg)
		return reloadResult{OK: false, Generation: cur.n, Message: msg}
	}
	fresh, err := r.configAgain()
	if err == nil && fresh.AppErr != "" {
		err = errors.New(fresh.AppErr)
	}
	if err != nil {
		return fail("configuration: %v", err)
	}
	cfg, changed := reloadConfig(r.childCfg, fresh)
	if err := reloadChecks(cfg); err != nil {
		return fail("%v", err)
	}
	r.log.Info(fmt.Sprintf("reload: starting generation %d", next))
	plan, err := planChildren(cfg, listenPort(r.gw.listen), r.env, next)
	if err != nil {
		return fail("generation %d: %v", next, err)
	}
	gen, err := r.gw.newGeneration(next, cfg, plan)
	if err != nil {
		plan.cleanup()
		return fail("generation %d: %v", next, err)
	}
	sup := newSupervisor(plan.specs, r.supervisorOptions(plan, cfg))
	gen.attach(sup)
	if err := sup.Start(ctx); err != nil {
		plan.cleanup()
		return fail("generation %d did not become ready: %v", next, err)
	}
	r.childCfg = cfg
	old := gens.switchTo(gen)
	msg := fmt.Sprintf("reload: generation %d serving (%s); generation %d drains", next, describeGeneration(gen), old.n)
	if len(changed) > 0 {
		msg += fmt.Sprintf("; not applied (the gateway's settings; restart or run fluxlit upgrade): %s", strings.Join(changed, ", "))
	}
	r.log.Info(msg)
	r.drainWG.Go(func() { r.drain(old, cfg) })
	return reloadResult{OK: true, Generation: next, Message: msg}
}

// describeGeneration says what a generation runs: "api, 2 streamlit replicas".
func describeGeneration(gen *generation) string {
	var parts []string
	if gen.api != nil && gen.api.child != nil {
		parts = append(parts, "api")
	}
	switch n := len(gen.ui); {
	case n == 1 && gen.ui[0].up.child != nil:
		parts = append(parts, "streamlit")
	case n > 1:
		parts = append(parts, fmt.Sprintf("%d streamlit replicas", n))
	}
	return strings.Join(parts, ", ")
}

// drain retires a generation the current one replaced: its sessions keep their WebSockets for
// reload_drain_s (a rerun in progress finishes; its uploads and media still reach it), then
// get 1001 and reconnect to the current generation; its HTTP answers finish (up to
// shutdown_timeout_s); then its children stop.
func (r *runner) drain(old *generation, cfg *Config) {
	idle := func() bool { return old.sessions() == 0 && old.inflight() == 0 }
	wait := func(d time.Duration, done func() bool) bool {
		deadline := time.Now().Add(d)
		for !done() {
			if !time.Now().Before(deadline) {
				return false
			}
			select {
			case <-r.stopping:
				return false
			case <-time.After(reloadPoll):
			}
		}
		return true
	}
	wait(seconds(cfg.ReloadDrainS), idle)
	r.gw.tunnels.goAwayGeneration(old)
	ok := wait(cfg.shutdownTimeout(), idle)
	// Once retired, no plan picks it; a request planned a moment before is counted in
	// inflight within microseconds, so a short grace and a last wait catch it.
	r.gw.gens.retire(old)
	time.Sleep(reloadRetireGrace)
	if !ok || !wait(cfg.shutdownTimeout(), idle) {
		r.log.Warn(fmt.Sprintf("reload: generation %d still had %d WebSockets and %d requests after shutdown_timeout_s; closing them",
			old.n, old.sessions(), old.inflight()))
		r.gw.tunnels.abortGeneration(old)
	}
	if old.sup != nil {
		ctx, cancel := context.WithTimeout(context.Background(), childStopGrace+time.Second)
		old.sup.Stop(ctx)
		cancel()
	}
	old.closeIdle()
	old.plan.cleanup()
	r.log.Info(fmt.Sprintf("reload: generation %d stopped", old.n))
}

// writeOutcome records a reload's or upgrade's outcome next to the pidfile, for the command
// that asked for it.
func writeOutcome(path string, res reloadResult) error {
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'))
}

func readOutcome(path string) (reloadResult, error) {
	var res reloadResult
	b, err := os.ReadFile(path)
	if err != nil {
		return res, err
	}
	return res, json.Unmarshal(b, &res)
}

// outcomePath is where an instance with a pidfile records the outcome of its reloads and
// upgrades.
func outcomePath(pidfile string) string { return pidfile + ".status" }

// instance names the running fluxlit a command talks to: pid (from --pid) or the pidfile's.
type instance struct {
	pidfile string
	pid     int
}

// signalCommand sends the instance the signal for verb ("reload", "upgrade") and waits up
// to wait for the outcome it records next to its pidfile: exit 0 when it succeeded, 1 when it
// was rolled back (the one line why is printed) or no outcome came, 2 when no instance runs.
// Without a pidfile an upgrade counts as done when the old process has exited.
func signalCommand(in instance, verb string, send func(int) error, wait time.Duration, stdout io.Writer) int {
	pid := in.pid
	if pid == 0 {
		var err error
		pid, err = readPidfile(in.pidfile)
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(stdout, "No pid file at %s (is fluxlit running? see --pidfile, --pid)\n", in.pidfile)
			return 2
		}
		if err != nil {
			fmt.Fprintf(stdout, "Cannot read %v\n", err)
			return 2
		}
	}
	if !processAlive(pid) {
		fmt.Fprintf(stdout, "fluxlit (pid %d) is not running\n", pid)
		return 2
	}
	path := outcomePath(in.pidfile)
	before, _ := readOutcome(path)
	if err := send(pid); err != nil {
		fmt.Fprintf(stdout, "Cannot signal pid %d: %v\n", pid, err)
		return 1
	}
	if wait <= 0 {
		fmt.Fprintf(stdout, "Asked fluxlit (pid %d) to %s\n", pid, verb)
		return 0
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		time.Sleep(pidfilePoll)
		res, err := readOutcome(path)
		if err == nil && res.PID == pid && (before.PID != pid || res.Seq != before.Seq) {
			fmt.Fprintln(stdout, res.Message)
			if res.OK {
				return 0
			}
			return 1
		}
		if !processAlive(pid) {
			if verb == "upgrade" && err != nil {
				fmt.Fprintf(stdout, "fluxlit (pid %d) handed over and exited; its log names the new process\n", pid)
				return 0
			}
			fmt.Fprintf(stdout, "fluxlit (pid %d) exited during the %s; see its log\n", pid, verb)
			return 1
		}
	}
	fmt.Fprintf(stdout, "No outcome from fluxlit (pid %d) within %.0fs; see its log\n", pid, wait.Seconds())
	return 1
}

// reloadMain is "fluxlit reload [--pidfile PATH | --pid PID] [--wait SECONDS]". The default
// wait is long enough for every child to start: the new generation starts them all at once.
func reloadMain(args []string, stdout, stderr io.Writer) int {
	return signalCommandMain("reload", signalReload, 30, args, stdout, stderr)
}

// signalCommandMain is "fluxlit VERB [--pidfile PATH | --pid PID] [--wait SECONDS]", the command
// line of reload and upgrade: it finds the instance and signals it with send. Without --wait,
// it waits child_ready_timeout_s (from the configuration, else its default) plus margin seconds.
func signalCommandMain(verb string, send func(int) error, margin float64, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fluxlit "+verb, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	pidfile := fs.String("pidfile", "", "")
	pidFlag := fs.Int("pid", 0, "")
	wait := fs.Float64("wait", -1, "")
	if err := parseFlags(fs, args); err != nil {
		return usageError(stderr, err)
	}
	if fs.NArg() > 0 {
		return usageError(stderr, fmt.Errorf("fluxlit %s: unexpected argument %q", verb, fs.Arg(0)))
	}
	if *wait > 3600 {
		return usageError(stderr, fmt.Errorf("fluxlit %s: --wait %v is out of range [0, 3600]", verb, *wait))
	}
	path, cfg := instancePidfile(*pidfile)
	if *wait < 0 {
		*wait = defaultChildReadyTimeoutS + margin
		if cfg != nil {
			*wait = cfg.ChildReadyTimeoutS + margin
		}
	}
	return signalCommand(instance{pidfile: path, pid: *pidFlag}, verb, send, seconds(*wait), stdout)
}

// defaultChildReadyTimeoutS is child_ready_timeout_s's default, for a command that cannot
// read the configuration.
const defaultChildReadyTimeoutS = 60

// instancePidfile is the pidfile a command that talks to a running instance reads: --pidfile,
// else the project's setting (the configuration in the working directory), else .fluxlit.pid.
func instancePidfile(flagValue string) (string, *Config) {
	wd, _ := os.Getwd()
	cfg, err := loadConfig(loadInput{Env: os.Environ(), WorkDir: wd})
	if err != nil {
		cfg = nil
	}
	switch {
	case flagValue != "":
		return strings.TrimSpace(flagValue), cfg
	case cfg != nil:
		return cfg.pidfilePath(), cfg
	}
	return filepath.Join(wd, ".fluxlit.pid"), nil
}
