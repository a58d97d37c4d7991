// main.go owns the command line: the subcommands, their flags, the usage text, and the exit
// codes (0 ok, 1 a failure the command reports, 2 usage or configuration error). main only
// calls fluxlitMain so that deferred cleanups run before os.Exit.

package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
)

// Set at release build time with -ldflags "-X main.version=… -X main.commit=…".
var (
	version = "dev"
	commit  = ""
)

// configFlags maps flag names to the settings they set.
var configFlags = map[string]string{
	"host": "gateway_host", "port": "gateway_port", "debug": "debug", "proxy-headers": "trust_proxy",
	"forwarded-allow-ips": "forwarded_allow_ips", "api-upstream": "api_upstream",
	"streamlit-upstream": "streamlit_upstream", "root-path": "root_path", "log-level": "log_level",
	"log-format": "log_format", "pidfile": "pidfile", "no-pidfile": "no_pidfile", "reload": "reload",
	"reload-scope": "reload_scope",
}

// negatedFlags are the "--no-X" forms of boolean flags (Python FluxLit's Typer defines
// --no-proxy-headers and --no-reload; --no-debug turns off dev's default).
var negatedFlags = map[string]string{"no-debug": "debug", "no-proxy-headers": "trust_proxy", "no-reload": "reload"}

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
	if _, known := helpFor(cmd); known && slices.ContainsFunc(rest, isHelpFlag) {
		return helpCommand([]string{cmd}, stdout, stderr)
	}
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
	case "pages":
		return pagesCommand(rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionLine())
		return 0
	case "help", "--help", "-help", "-h":
		return helpCommand(rest, stdout, stderr)
	}
	fmt.Fprintf(stderr, "fluxlit: unknown command %q (run \"fluxlit help\")\n", cmd)
	return 2
}

// isHelpFlag reports whether an argument asks for a command's page, wherever it stands
// ("fluxlit run app:app --port 1 --help" shows run's page and runs nothing).
func isHelpFlag(a string) bool {
	return a == "-h" || a == "--help" || a == "-help"
}

// helpCommand prints the overview, or a command's page, on stdout.
func helpCommand(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		fmt.Fprint(stdout, usage)
		return 0
	case len(args) > 1:
		return usageError(stderr, fmt.Errorf("fluxlit help: one command at a time (got %q)", strings.Join(args, " ")))
	}
	page, ok := helpFor(args[0])
	if !ok {
		fmt.Fprintf(stderr, "fluxlit: help: unknown command %q (run \"fluxlit help\")\n", args[0])
		return 2
	}
	fmt.Fprint(stdout, page)
	return 0
}

func versionLine() string {
	c := commit
	if c == "" {
		c = vcsRevision()
	}
	if c == "" {
		c = "unknown"
	}
	engines := "net/http+fast"
	if !fastEngineBuilt {
		engines = "net/http" // go build -tags nofastpath
	}
	return fmt.Sprintf("fluxlit %s (commit %s, %s %s/%s, engines %s)", version, c, runtime.Version(), runtime.GOOS, runtime.GOARCH, engines)
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
	negate  bool // a --no-X form: the setting gets the opposite of the flag's value
}

func (f *settingFlag) String() string { return "" }
func (f *settingFlag) Set(v string) error {
	if f.negate {
		b, err := parseBool(v) // "--no-debug" arrives as "true"
		if err != nil {
			return err
		}
		v = strconv.FormatBool(!b)
	}
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
	for f, s := range negatedFlags {
		cf.fs.Var(&settingFlag{setting: s, values: cf.values, isBool: true, negate: true}, f, "")
	}
	return cf
}

// parse reads flags and at most one positional argument (TARGET), in any order
// ("fluxlit run main:app --port 9000"). Errors are one line.
func (cf *commandFlags) parse(args []string) (loadInput, error) {
	pos, err := parseInterspersed(cf.fs, args)
	if err != nil {
		return loadInput{}, err
	}
	if len(pos) > 1 {
		return loadInput{}, fmt.Errorf("%s: unexpected argument %q", cf.fs.Name(), pos[1])
	}
	target := ""
	if len(pos) == 1 {
		target = pos[0]
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
	fmt.Fprintf(stderr, "fluxlit: %v\n", err)
	return 2
}
