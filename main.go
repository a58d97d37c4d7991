// main.go owns the command line: the subcommands, their flags, the usage text, and the exit
// codes (0 ok, 1 a failure the command reports, 2 usage or configuration error). main only
// calls fluxlitMain so that deferred cleanups run before os.Exit.

package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
)

// Set at release build time with -ldflags "-X main.version=… -X main.commit=…" (make build,
// make release). A build without them takes what Go recorded (buildVersion).
var (
	version = "dev"
	commit  = ""
)

func init() {
	if info, ok := debug.ReadBuildInfo(); ok {
		version, commit = versionFromBuild(version, commit, info)
	}
}

// versionFromBuild fills in what -ldflags did not set from what Go recorded: the module's
// version ("go install …@v1.2.3", or since Go 1.24 one derived from the checkout), else the
// commit ("dev-9add1c6abcde", "-dirty" with uncommitted changes), so that a report names the
// code it ran.
func versionFromBuild(v, c string, info *debug.BuildInfo) (string, string) {
	var rev string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if c == "" {
		c = rev
	}
	switch {
	case v != "dev":
	case info.Main.Version != "" && info.Main.Version != "(devel)":
		v = info.Main.Version
	case rev != "":
		v = "dev-" + rev
		if dirty {
			v += "-dirty"
		}
	}
	return v, c
}

// configFlags maps flag names to the settings they set.
var configFlags = map[string]string{
	"host": "gateway_host", "port": "gateway_port", "debug": "debug", "proxy-headers": "trust_proxy",
	"forwarded-allow-ips": "forwarded_allow_ips", "api-upstream": "api_upstream",
	"streamlit-upstream": "streamlit_upstream", "root-path": "root_path", "log-level": "log_level",
	"log-format": "log_format", "pidfile": "pidfile", "no-pidfile": "no_pidfile", "reload": "reload",
	"reload-scope": "reload_scope", "streamlit-script": "streamlit_script",
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
	case "version", "--version", "-version", "-v": // -v only here: doctor's -v is --verbose
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
		c = `unknown: built without version control information; "make build" stamps it`
	}
	engines := "net/http+fast"
	if !fastEngineBuilt {
		engines = "net/http" // go build -tags nofastpath
	}
	return fmt.Sprintf("fluxlit %s (commit %s, %s %s/%s, engines %s)", version, c, runtime.Version(), runtime.GOOS, runtime.GOARCH, engines)
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

// parse reads flags and at most two positional arguments, TARGET and SCRIPT (the Streamlit
// script, as in "streamlit run app.py"), in any order ("fluxlit run main:app ui.py --port
// 9000"). Errors are one line.
func (cf *commandFlags) parse(args []string) (loadInput, error) {
	pos, err := parseInterspersed(cf.fs, args)
	if err != nil {
		return loadInput{}, err
	}
	if len(pos) > 2 {
		return loadInput{}, fmt.Errorf("%s: unexpected argument %q (the arguments are TARGET and SCRIPT)", cf.fs.Name(), pos[2])
	}
	pos = append(pos, "", "")
	target, script := pos[0], pos[1]
	wd, err := os.Getwd()
	if err != nil {
		return loadInput{}, fmt.Errorf("cannot read the working directory: %v", err)
	}
	return loadInput{Flags: cf.values, Env: os.Environ(), WorkDir: wd, ConfigPath: cf.configPath, Positional: target, PositionalScript: script}, nil
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

// parseFlags is fs.Parse with fluxlit's one-line errors (flagError), prefixed by the command.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s: %v", fs.Name(), flagError(fs, err))
	}
	return nil
}

// flagError rewords the flag package's errors as fluxlit's manual spells flags (--port; it
// says -port) and adds the way out: the nearest flag for a typo, the flag or the variable of
// a setting typed as a flag, the command's help page otherwise.
func flagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "flag provided but not defined: -"):
		name := strings.TrimPrefix(msg, "flag provided but not defined: -")
		return fmt.Errorf("unknown flag %s (%s)", dashed(name), flagSuggestion(fs, name))
	case strings.HasPrefix(msg, "flag needs an argument: -"):
		return fmt.Errorf("flag %s needs a value", dashed(strings.TrimPrefix(msg, "flag needs an argument: -")))
	}
	// invalid value "x" for flag -wait: parse error / invalid boolean value "x" for -debug: …
	if m := flagValueError.FindStringSubmatch(msg); m != nil {
		want := "a valid value"
		if f := fs.Lookup(m[3]); m[1] != "" {
			want = "true or false"
		} else if _, err := strconv.ParseFloat(f.DefValue, 64); f != nil && err == nil {
			want = "a number"
		}
		return fmt.Errorf("flag %s: %s is not %s", dashed(m[3]), m[2], want)
	}
	return err
}

var flagValueError = regexp.MustCompile(`^invalid (boolean )?value ("[^"]*") for (?:flag )?-([A-Za-z0-9-]+)`)

// dashed is a flag as the manual writes it: -f, --force.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// flagSuggestion is what an unknown flag may have meant.
func flagSuggestion(fs *flag.FlagSet, name string) string {
	if s, ok := settingsByName[strings.ReplaceAll(strings.TrimLeft(name, "-"), "-", "_")]; ok {
		if flags := settingFlags(s.name); len(flags) > 0 && fs.Lookup(strings.TrimPrefix(flags[0], "--")) != nil {
			return "the flag for " + s.name + " is " + flags[0]
		}
		return fmt.Sprintf("%s has no flag here: set %s or %s in fluxlit.toml", s.name, envName(s.name), s.name)
	}
	best, bestDist := "", 3
	fs.VisitAll(func(f *flag.Flag) {
		d := editDistance(name, f.Name)
		if len(name) >= 3 && strings.HasPrefix(f.Name, name) {
			d = 1
		}
		if d < bestDist || d == bestDist && f.Name < best {
			best, bestDist = f.Name, d
		}
	})
	if best != "" {
		return "did you mean " + dashed(best) + "?"
	}
	return "\"fluxlit help " + strings.TrimPrefix(fs.Name(), "fluxlit ") + "\" lists its flags"
}
