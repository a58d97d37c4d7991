// main.go owns the command line: the subcommands, their flags, the usage text, and the exit
// codes (0 ok, 1 a failure the command reports, 2 usage or configuration error). main only
// calls fluxlitMain so that deferred cleanups run before os.Exit.

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set at release build time with -ldflags "-X main.version=… -X main.commit=…".
var (
	version = "dev"
	commit  = ""
)

const usage = `fluxlit serves a Streamlit UI and an HTTP API on one port.

Examples:

	fluxlit run                      # run the project in this directory (fluxlit.toml)
	fluxlit run main:app --port 8080 # uvicorn main:app + streamlit_app.py on :8080
	fluxlit dev --reload             # development: debug on, restart on change
	fluxlit doctor                   # check this deployment: PASS / WARN / FAIL rows
	fluxlit config --json            # the effective configuration and where each value came from
	fluxlit shutdown                 # stop the instance named by the pidfile
	fluxlit reload                   # new children with the current code and config, no downtime
	fluxlit upgrade                  # replace the running fluxlit binary, no connection dropped
	fluxlit new myapp                # scaffold fluxlit.toml, app.py, streamlit_app.py
	fluxlit build --out deploy       # Containerfiles, systemd unit, Kubernetes manifest
	fluxlit healthcheck              # exit 0 when /api/healthz answers 2xx (container HEALTHCHECK)

Commands:

	run [TARGET]        production run: children + gateway, pidfile, graceful stop on SIGTERM/SIGINT
	dev [TARGET]        run for development: debug on, --reload, --reload-scope gateway|full
	workbench [TARGET]  run with proxy headers trusted and a start-up banner
	doctor [TARGET]     check the deployment; --json, --verbose, --strict, --warnings-only, --build
	config [TARGET]     print the effective configuration; --json, --strict
	shutdown            stop a running instance; --pidfile, --force, --wait SECONDS
	reload              start a new generation of children, switch to it, drain the old; --pidfile, --pid, --wait
	upgrade             start the fluxlit binary on disk on the running listener, then stop the old; --pidfile, --pid, --wait
	new NAME [--fluxlit] scaffold a project in the folder NAME (--fluxlit: a Python FluxLit app)
	build               write deployment files; --out DIR, --force
	healthcheck [URL]   GET URL (default the local /api/healthz); exit 0 on 2xx
	version             print version, commit and Go version
	help                print this text

Flags of run, dev, workbench, doctor and config:

	--config PATH              fluxlit.toml to read (env FLUXLIT_CONFIG; default ./fluxlit.toml)
	--host HOST                gateway_host (default 127.0.0.1)
	--port PORT                gateway_port (default 8000)
	--debug                    debug mode: [fluxlit-debug] lines and /__fluxlit/debug
	--proxy-headers            trust_proxy: believe X-Forwarded-* from forwarded_allow_ips
	--forwarded-allow-ips LIST forwarded_allow_ips: addresses and CIDRs, comma-separated
	--api-upstream URL         api_upstream: front an API that fluxlit does not run
	--streamlit-upstream URL   streamlit_upstream: front a Streamlit that fluxlit does not run
	--root-path PATH           root_path: the prefix an edge proxy serves the app under
	--log-level LEVEL          log_level: debug, info, warn, error
	--log-format FORMAT        log_format: text, json, auto
	--pidfile PATH             pidfile (env FLUXLIT_PIDFILE; default .fluxlit.pid)
	--no-pidfile               write no pidfile (env FLUXLIT_NO_PIDFILE)
	--reload                   restart children when *.py or fluxlit.toml change (dev)
	--reload-scope SCOPE       gateway (the API child, default) or full (both children)

doctor's exit code: 1 when a row FAILs, else 0 (WARN and SKIP rows never fail).

	--strict         the strict-listed WARNs become FAILs
	--warnings-only  always 0; FAIL rows are still printed (the Python package's meaning)
	--build          for a container build step: the rows about this machine (gateway_bind,
	                 pidfile, upstream connects) are SKIP; the exit rule is unchanged

Every setting is also a fluxlit.toml key and a FLUXLIT_<NAME> environment variable.
Precedence: flag > FluxLit app code (FluxlitSettings(...) in app.py) > environment >
fluxlit.toml > default. "fluxlit config" lists them all, with where each came from.
`

// configFlags maps flag names to the settings they set.
var configFlags = map[string]string{
	"host": "gateway_host", "port": "gateway_port", "debug": "debug", "proxy-headers": "trust_proxy",
	"forwarded-allow-ips": "forwarded_allow_ips", "api-upstream": "api_upstream",
	"streamlit-upstream": "streamlit_upstream", "root-path": "root_path", "log-level": "log_level",
	"log-format": "log_format", "pidfile": "pidfile", "no-pidfile": "no_pidfile", "reload": "reload",
	"reload-scope": "reload_scope",
}

func flagNameFor(setting string) string {
	for f, s := range configFlags {
		if s == setting {
			return f
		}
	}
	return strings.ReplaceAll(setting, "_", "-")
}

func main() {
	os.Exit(fluxlitMain(os.Args[1:], os.Stdout, os.Stderr))
}

// fluxlitMain runs one command and returns its exit code.
func fluxlitMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run", "dev", "workbench":
		return runCommand(cmd, rest, stdout, stderr)
	case "doctor":
		return doctorCommand(rest, stdout, stderr)
	case "config":
		return configCommand(rest, stdout, stderr)
	case "shutdown":
		return shutdownMain(rest, stdout, stderr)
	case "reload":
		return reloadMain(rest, stdout, stderr)
	case "upgrade":
		return upgradeMain(rest, stdout, stderr)
	case "new":
		return newCommand(rest, stdout, stderr)
	case "build":
		return buildCommand(rest, stdout, stderr)
	case "healthcheck":
		return healthcheckCommand(rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionLine())
		return 0
	case "help", "--help", "-help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "fluxlit: unknown command %q (run \"fluxlit help\")\n", cmd)
	return 2
}

func versionLine() string {
	c := commit
	if c == "" {
		c = vcsRevision()
	}
	if c == "" {
		c = "unknown"
	}
	return fmt.Sprintf("fluxlit %s (commit %s, %s %s/%s)", version, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func vcsRevision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return s.Value[:12]
		}
	}
	return ""
}

// settingFlag records a flag's value as the setting's raw text; parsing and validation
// happen in loadConfig, like for every other source.
type settingFlag struct {
	setting string
	values  map[string]string
	isBool  bool
}

func (f *settingFlag) String() string { return "" }
func (f *settingFlag) Set(v string) error {
	f.values[f.setting] = v
	return nil
}
func (f *settingFlag) IsBoolFlag() bool { return f.isBool }

// commandFlags is a FlagSet with the configuration flags registered.
type commandFlags struct {
	fs         *flag.FlagSet
	values     map[string]string
	configPath string
	in         loadInput // what load read the configuration from: a reload reads it again
}

func newCommandFlags(name string, stderr io.Writer) *commandFlags {
	cf := &commandFlags{fs: flag.NewFlagSet("fluxlit "+name, flag.ContinueOnError), values: map[string]string{}}
	cf.fs.SetOutput(io.Discard)
	cf.fs.StringVar(&cf.configPath, "config", "", "fluxlit.toml to read")
	for f, s := range configFlags {
		kind := settingsByName[s].kind
		cf.fs.Var(&settingFlag{setting: s, values: cf.values, isBool: kind == kindBool}, f, "")
	}
	return cf
}

// parse reads flags and at most one positional argument (TARGET). Errors are one line.
func (cf *commandFlags) parse(args []string) (loadInput, error) {
	if err := cf.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return loadInput{}, err
		}
		return loadInput{}, fmt.Errorf("%s: %v", cf.fs.Name(), err)
	}
	pos := cf.fs.Args()
	// Flags may follow the TARGET ("fluxlit run main:app --port 9000").
	target := ""
	if len(pos) > 0 && !strings.HasPrefix(pos[0], "-") {
		target, pos = pos[0], pos[1:]
		if err := cf.fs.Parse(pos); err != nil {
			return loadInput{}, fmt.Errorf("%s: %v", cf.fs.Name(), err)
		}
		pos = cf.fs.Args()
	}
	if len(pos) > 0 {
		return loadInput{}, fmt.Errorf("%s: unexpected argument %q", cf.fs.Name(), pos[0])
	}
	wd, err := os.Getwd()
	if err != nil {
		return loadInput{}, fmt.Errorf("cannot read the working directory: %v", err)
	}
	return loadInput{Flags: cf.values, Env: os.Environ(), WorkDir: wd, ConfigPath: cf.configPath, Positional: target}, nil
}

// load parses args and loads the configuration, with a command's own defaults. On a usage
// or configuration error it has printed the one line and returns the exit code (nil Config).
func (cf *commandFlags) load(args []string, defaults map[string]string, stderr io.Writer) (*Config, int) {
	in, err := cf.parse(args)
	if err != nil {
		return nil, usageError(stderr, err)
	}
	in.Defaults = defaults
	cf.in = in
	cfg, err := loadAppConfig(in)
	if err != nil {
		fmt.Fprintf(stderr, "fluxlit: %v\n", err)
		return nil, 2
	}
	return cfg, 0
}

// usageError prints a one-line usage error and returns exit code 2.
func usageError(stderr io.Writer, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stderr, usage)
		return 0
	}
	fmt.Fprintf(stderr, "fluxlit: %v\n", err)
	return 2
}
