// usage.go owns the manual: the overview "fluxlit help" prints and each command's page
// ("fluxlit help CMD", "fluxlit CMD --help"), written from one table so that the overview,
// the pages and doc.go (TestDocMatchesUsage) cannot drift apart.

package main

import (
	"fmt"
	"strings"
)

// helpFlag is one flag line of a manual page.
type helpFlag struct {
	names string // "-o, --output DIR"
	help  string
}

// commandHelp is one command's manual page.
type commandHelp struct {
	name     string // as typed: "run"
	args     string // its arguments: "[TARGET]", "NAME", "manifest|validate"
	summary  string // one line for the overview
	about    string // what it does, wrapped at 92 columns
	flags    []helpFlag
	examples []string // "fluxlit run main:app --port 8080   # comment"
}

// configFlagsHelp are the flags every command that reads the configuration takes.
var configFlagsHelp = []helpFlag{
	{"--config PATH", "fluxlit.toml to read (env FLUXLIT_CONFIG; default ./fluxlit.toml, else [tool.fluxlit] in pyproject.toml)"},
	{"--host HOST", "gateway_host (default 127.0.0.1)"},
	{"--port PORT", "gateway_port (default 8000)"},
	{"--debug, --no-debug", "debug mode: [fluxlit-debug] lines and /__fluxlit/debug"},
	{"--proxy-headers, --no-proxy-headers", "trust_proxy: believe X-Forwarded-* from forwarded_allow_ips"},
	{"--forwarded-allow-ips LIST", "forwarded_allow_ips: addresses and CIDRs, comma-separated"},
	{"--api-upstream URL", "api_upstream: front an API that fluxlit does not run"},
	{"--streamlit-upstream URL", "streamlit_upstream: front a Streamlit that fluxlit does not run"},
	{"--root-path PATH", "root_path: the prefix an edge proxy serves the app under"},
	{"--streamlit-script PATH", "streamlit_script: the Streamlit script (also the SCRIPT argument)"},
	{"--log-level LEVEL", "log_level: trace, debug, info, warning, error, critical"},
	{"--log-format FORMAT", "log_format: text, json, auto"},
	{"--pidfile PATH", "pidfile (env FLUXLIT_PIDFILE; default .fluxlit.pid)"},
	{"--no-pidfile", "write no pidfile (env FLUXLIT_NO_PIDFILE)"},
}

// runFlagsHelp are the flags of run, dev and workbench besides the configuration flags.
var runFlagsHelp = []helpFlag{
	{"--reload, --no-reload", "restart the child whose files changed, re-read fluxlit.toml (dev: on)"},
	{"--reload-scope SCOPE", "gateway (the API child, default) or full (both children)"},
	{"--workbench", "workbench mode: trust proxy headers and print a start-up banner"},
}

var helpFlagHelp = helpFlag{"-h, --help", "print this page"}

// commands is the manual, in the overview's order.
var commands = []commandHelp{
	{
		name: "run", args: "[TARGET [SCRIPT]]",
		summary: "production run: children + gateway, pidfile, graceful stop on SIGTERM/SIGINT",
		about: `Starts the API child (uvicorn TARGET, default app:app) and the Streamlit child on private
loopback ports, or fronts them when api_upstream / streamlit_upstream are set, and serves
both on one public port. Writes a pidfile once both children are ready. On SIGTERM or
SIGINT it drains requests, closes WebSockets with 1001, stops the children and exits 0.
Exit 1 when a child keeps crashing or the port is taken, 2 on a configuration error.`,
		flags:    append(append([]helpFlag{}, runFlagsHelp...), configFlagsHelp...),
		examples: []string{"fluxlit run                        # the project in this folder", "fluxlit run main:app --port 8080   # uvicorn main:app + streamlit_app.py on :8080", "fluxlit run --api-upstream http://api:9000 --streamlit-upstream http://ui:8501"},
	},
	{
		name: "dev", args: "[TARGET [SCRIPT]]",
		summary: "run for development: debug and reload on (--no-debug, --no-reload)",
		about: `Like run, with debug and reload on by default (they still lose to fluxlit.toml, the
environment and flags). It says at start what it watches. A saved *.py file restarts the API
child (both children with --reload-scope full, and in a FluxLit project, whose pages are in
that code, unless --reload-scope gateway is given); Streamlit reruns its own script and pages/;
a changed fluxlit.toml is read again (a reload of the children, or a restart in place when a
gateway setting changed). A save that breaks a child is reported once, with its file and line,
and the rest keeps serving until the next save. Ctrl-C stops; a second Ctrl-C stops at once.`,
		flags:    append(append([]helpFlag{}, runFlagsHelp...), configFlagsHelp...),
		examples: []string{"fluxlit dev", "fluxlit dev --reload-scope full", "fluxlit dev --no-reload"},
	},
	{
		name: "workbench", args: "[TARGET [SCRIPT]]",
		summary: "run with proxy headers trusted and a start-up banner",
		about: `Like run, for hosted notebooks and Connect-style hosts that serve the app behind their own
proxy: trust_proxy and the start-up banner are on by default. Same as run --workbench.`,
		flags:    configFlagsHelp,
		examples: []string{"fluxlit workbench --root-path /s/abc/p/8000"},
	},
	{
		name: "doctor", args: "[TARGET [SCRIPT]]",
		summary: "check the deployment: PASS / WARN / FAIL rows",
		about: `Prints one "STATUS  name: detail" row per check, Python FluxLit's rows and names plus
fluxlit's own. Python checks run the configured interpreter, for as long as a start may take
(child_ready_timeout_s); when no child runs Python they are SKIP rows. In the folder of a
running fluxlit, gateway_bind reports that instance and its readyz. Exit 1 when a row FAILs,
else 0 (WARN and SKIP rows never fail).`,
		flags: append([]helpFlag{
			{"--json", "one JSON object: status, target, warnings_only, checks[] (Python FluxLit's schema)"},
			{"-v, --verbose", "add the effective configuration (JSON: the \"verbose\" object)"},
			{"--check-pages", "validate a FluxLit app's pages (pages_validate, experimental_yield_pages rows)"},
			{"--strict", "the strict-listed WARNs become FAILs (Python FluxLit's list)"},
			{"--warnings-only", "always exit 0; FAIL rows are still printed (the Python package's meaning)"},
			{"--build", "for a container build step: the rows about this machine (gateway_bind, pidfile, upstream connects) are SKIP; the exit rule is unchanged"},
		}, configFlagsHelp...),
		examples: []string{"fluxlit doctor", "fluxlit doctor --json --verbose", "fluxlit doctor --strict   # in CI, before deploying"},
	},
	{
		name: "config", args: "[TARGET [SCRIPT]]",
		summary: "print the effective configuration and where each value came from",
		about: `Prints every setting's effective value and its source (flag, env FLUXLIT_X, .env:3,
fluxlit.toml:12, pyproject.toml:8, default), secrets redacted, then the derived values and
the warnings. Exit 1 with --strict when there is a warning, 2 on a configuration error.`,
		flags: append([]helpFlag{
			{"--json", "one JSON object: Python FluxLit's schema (target, binding, settings, warnings...) plus sources"},
			{"--strict", "exit 1 when there is any warning"},
			{"--describe", "every setting: its kind, default, environment variable, flag and what it does"},
		}, configFlagsHelp...),
		examples: []string{"fluxlit config", "fluxlit config --json | jq .sources", "fluxlit config --describe | less"},
	},
	{
		name: "shutdown", args: "",
		summary: "stop the instance named by the pidfile",
		about: `Sends SIGTERM to the fluxlit named by the pidfile (--pidfile, FLUXLIT_PIDFILE, the pidfile
setting, else .fluxlit.pid, else Python FluxLit's .fluxlit-dev.pid) and waits for it. Exit 0
when it stopped (or the pidfile was stale and is removed), 1 when it still runs, 2 when
there is no pidfile.`,
		flags: []helpFlag{
			{"--pidfile PATH", "the pidfile to read"},
			{"-f, --force", "SIGKILL the process if it still runs after --wait"},
			{"--wait SECONDS", "how long to wait after SIGTERM (default 15)"},
		},
		examples: []string{"fluxlit shutdown", "fluxlit shutdown --wait 30 -f"},
	},
	{
		name: "reload", summary: "start a new generation of children, switch to it, drain the old",
		about: `Tells the running fluxlit (the pidfile's, or --pid) to start a new generation of children
with the current code and configuration; once they are ready it routes new sessions to them and
drains the old ones (open WebSockets keep reload_drain_s). Exit 0 when it switched, 1 when the
new generation failed (the old keeps serving; the reason is printed) or nothing answered in
--wait seconds, 2 when there is no pidfile.`,
		flags: []helpFlag{
			{"--pidfile PATH", "the pidfile to read (default: the project's pidfile setting)"},
			{"--pid PID", "the process to signal instead of the pidfile's"},
			{"--wait SECONDS", "how long to wait for the outcome (default child_ready_timeout_s + 30)"},
		},
		examples: []string{"fluxlit reload", "fluxlit reload --wait 120"},
	},
	{
		name: "upgrade", summary: "replace the running fluxlit binary, no connection dropped",
		about: `Tells the running fluxlit to start the binary on disk as a new process that inherits the
listening socket and starts its own children; it takes over once they are ready, and the old
process drains and stops. Exit 0 when the new one took over, 1 when it failed (the old keeps
serving) or nothing answered in --wait seconds, 2 when there is no pidfile.`,
		flags: []helpFlag{
			{"--pidfile PATH", "the pidfile to read (default: the project's pidfile setting)"},
			{"--pid PID", "the process to signal instead of the pidfile's"},
			{"--wait SECONDS", "how long to wait for the outcome"},
		},
		examples: []string{"fluxlit upgrade", "fluxlit upgrade --pid 4242"},
	},
	{
		name: "new", args: "NAME",
		summary: "scaffold a project in the folder NAME",
		about: `Writes a project into the new folder NAME (it must not exist, or be empty). Without
--profile: fluxlit.toml, a FastAPI app.py and a Streamlit streamlit_app.py (no Python
FluxLit needed). With --profile minimal, auth-ready or deploy: Python FluxLit's project of
that name (fluxlit.toml and an app.py with app = FluxLit(...) and @app.page pages).`,
		flags: []helpFlag{{"--profile PROFILE", "minimal, auth-ready or deploy (a Python FluxLit app)"},
			{"--fluxlit", "the minimal Python FluxLit app (--profile minimal)"}},
		examples: []string{"fluxlit new myapp", "fluxlit new myapp --profile minimal"},
	},
	{
		name: "build", args: "[TARGET]",
		summary: "write deployment files: Containerfiles, systemd unit, Kubernetes manifest",
		about: `Writes Containerfile.scratch and Containerfile.python (each with its .dockerignore beside
it), fluxlit.service and kubernetes.yaml for this configuration into deploy/ (or -o DIR). An existing file is not
overwritten: exit 1 naming it (use --force).`,
		flags: append([]helpFlag{
			{"-o, --output, --out DIR", "where to write (default deploy)"},
			{"-f, --force", "overwrite existing files"},
		}, configFlagsHelp...),
		examples: []string{"fluxlit build", "fluxlit build -o ops/deploy --force"},
	},
	{
		name: "pages", args: "manifest|validate",
		summary: "a FluxLit app's page manifest, or validate its pages (Python FluxLit's own code)",
		about: `Runs Python FluxLit's page tooling on the app object TARGET (default: the target setting)
in the configured interpreter, in the project folder. "pages manifest" prints the JSON page
manifest (manifest_version 1); "pages validate" prints each problem and exits 1 when there
is one (--strict: strict page signature checks). Needs the fluxlit Python package there.`,
		flags: append([]helpFlag{
			{"--target TARGET", "module:attr of the FluxLit app (also the first argument)"},
			{"--strict", "validate: strict page signature checks"},
		}, configFlagsHelp[0]),
		examples: []string{"fluxlit pages manifest > pages.json", "fluxlit pages validate --strict"},
	},
	{
		name: "healthcheck", args: "[URL]",
		summary: "GET URL (default the local /api/healthz); exit 0 on 2xx",
		about: `Asks the gateway's liveness route (http://127.0.0.1:<gateway_port><root_path><api_mount_path>
/healthz, from the configuration) or URL, with a 3 s timeout, and exits 0 on a 2xx answer,
1 otherwise. Made for a container HEALTHCHECK: it needs no curl.`,
		flags:    configFlagsHelp,
		examples: []string{"fluxlit healthcheck", "fluxlit healthcheck http://127.0.0.1:8000/api/readyz"},
	},
	{
		name: "version", summary: "print version, commit and Go version",
		about: `Prints the version, the commit it was built from, and the Go version and platform.`,
	},
	{
		name: "help", args: "[COMMAND]", summary: "print this text, or a command's page",
		about:    `Without COMMAND, the overview; with one, that command's page ("fluxlit COMMAND --help" too).`,
		examples: []string{"fluxlit help doctor"},
	},
}

// usage is the overview: examples, the commands, and the rule every setting follows.
var usage = func() string {
	var b strings.Builder
	b.WriteString(`fluxlit serves a Streamlit UI and an HTTP API on one port.

Examples:

	fluxlit run                      # run the project in this directory (fluxlit.toml)
	fluxlit run main:app --port 8080 # uvicorn main:app + streamlit_app.py on :8080
	fluxlit dev                      # development: debug and reload on
	fluxlit doctor                   # check this deployment: PASS / WARN / FAIL rows
	fluxlit config --json            # the effective configuration and where each value came from
	fluxlit shutdown                 # stop the instance named by the pidfile
	fluxlit reload                   # new children with the current code and config, no downtime
	fluxlit upgrade                  # replace the running fluxlit binary, no connection dropped
	fluxlit new myapp                # scaffold fluxlit.toml, app.py, streamlit_app.py
	fluxlit build                    # Containerfiles, systemd unit, Kubernetes manifest
	fluxlit healthcheck              # exit 0 when /api/healthz answers 2xx (container HEALTHCHECK)

Commands:

`)
	width := 0
	for _, c := range commands {
		width = max(width, len(strings.TrimSpace(c.name+" "+c.args)))
	}
	for _, c := range commands {
		fmt.Fprintf(&b, "\t%-*s  %s\n", width, strings.TrimSpace(c.name+" "+c.args), c.summary)
	}
	b.WriteString(`
"fluxlit help COMMAND" or "fluxlit COMMAND --help" shows a command's flags.

Every setting is a fluxlit.toml key (or one under [tool.fluxlit] in pyproject.toml) and a
FLUXLIT_<NAME> environment variable (also read from .env). Precedence: flag > FluxLit app
code (FluxlitSettings(...) in app.py) > environment > .env > fluxlit.toml > default.
"fluxlit config" lists them all, with where each came from.
`)
	return b.String()
}()

// commandPage is one command's manual page.
func commandPage(c commandHelp) string {
	var b strings.Builder
	synopsis := strings.TrimSpace(c.name + " " + c.args)
	if len(c.flags) > 0 {
		synopsis += " [flags]"
	}
	fmt.Fprintf(&b, "usage: fluxlit %s\n\n%s\n", synopsis, c.about)
	flags := append(append([]helpFlag{}, c.flags...), helpFlagHelp)
	width := 0
	for _, f := range flags {
		width = max(width, len(f.names))
	}
	b.WriteString("\nFlags:\n\n")
	for _, f := range flags {
		fmt.Fprintf(&b, "\t%-*s  %s\n", width, f.names, f.help)
	}
	if len(c.examples) > 0 {
		b.WriteString("\nExamples:\n\n")
		for _, e := range c.examples {
			fmt.Fprintf(&b, "\t%s\n", e)
		}
	}
	return b.String()
}

// helpFor returns the page of a command, or false.
func helpFor(name string) (string, bool) {
	for _, c := range commands {
		if c.name == name {
			return commandPage(c), true
		}
	}
	return "", false
}

// manual is the whole manual, as doc.go holds it: the overview, then every command's page.
func manual() string {
	var b strings.Builder
	b.WriteString(usage)
	for _, c := range commands {
		fmt.Fprintf(&b, "\n# %s\n\n%s", strings.ToUpper(c.name[:1])+c.name[1:], commandPage(c))
	}
	return b.String()
}
