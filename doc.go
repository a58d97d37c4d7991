// Fluxlit is the manual of the fluxlit command; "fluxlit help" prints the overview and
// "fluxlit help CMD" each page (TestDocMatchesUsage keeps them equal; go test -run TestDoc -update).
//
// fluxlit serves a Streamlit UI and an HTTP API on one port.
//
// Examples:
//
//	fluxlit run                      # run the project in this directory (fluxlit.toml)
//	fluxlit run main:app --port 8080 # uvicorn main:app + streamlit_app.py on :8080
//	fluxlit dev                      # development: debug and reload on
//	fluxlit doctor                   # check this deployment: PASS / WARN / FAIL rows
//	fluxlit config --json            # the effective configuration and where each value came from
//	fluxlit shutdown                 # stop the instance named by the pidfile
//	fluxlit reload                   # new children with the current code and config, no downtime
//	fluxlit upgrade                  # replace the running fluxlit binary, no connection dropped
//	fluxlit new myapp                # scaffold fluxlit.toml, app.py, streamlit_app.py
//	fluxlit build                    # Containerfiles, systemd unit, Kubernetes manifest
//	fluxlit healthcheck              # exit 0 when /api/healthz answers 2xx (container HEALTHCHECK)
//
// Commands:
//
//	run [TARGET [SCRIPT]]        production run: children + gateway, pidfile, graceful stop on SIGTERM/SIGINT
//	dev [TARGET [SCRIPT]]        run for development: debug and reload on (--no-debug, --no-reload)
//	workbench [TARGET [SCRIPT]]  run with proxy headers trusted and a start-up banner
//	doctor [TARGET [SCRIPT]]     check the deployment: PASS / WARN / FAIL rows
//	config [TARGET [SCRIPT]]     print the effective configuration and where each value came from
//	shutdown                     stop the instance named by the pidfile
//	reload                       start a new generation of children, switch to it, drain the old
//	upgrade                      replace the running fluxlit binary, no connection dropped
//	new NAME                     scaffold a project in the folder NAME
//	build [TARGET]               write deployment files: Containerfiles, systemd unit, Kubernetes manifest
//	pages manifest|validate      a FluxLit app's page manifest, or validate its pages (Python FluxLit's own code)
//	healthcheck [URL]            GET URL (default the local /api/healthz); exit 0 on 2xx
//	version                      print version, commit and Go version
//	help [COMMAND]               print this text, or a command's page
//
// "fluxlit help COMMAND" or "fluxlit COMMAND --help" shows a command's flags.
//
// Every setting is a fluxlit.toml key (or one under [tool.fluxlit] in pyproject.toml) and a
// FLUXLIT_<NAME> environment variable (also read from .env). Precedence: flag > FluxLit app
// code (FluxlitSettings(...) in app.py) > environment > .env > fluxlit.toml > default.
// "fluxlit config" lists them all, with where each came from.
//
// # Run
//
// usage: fluxlit run [TARGET [SCRIPT]] [flags]
//
// Starts the API child (uvicorn TARGET, default app:app) and the Streamlit child on private
// loopback ports, or fronts them when api_upstream / streamlit_upstream are set, and serves
// both on one public port. Writes a pidfile once both children are ready. On SIGTERM or
// SIGINT it drains requests, closes WebSockets with 1001, stops the children and exits 0.
// Exit 1 when a child keeps crashing or the port is taken, 2 on a configuration error.
//
// Flags:
//
//	--reload, --no-reload                restart the child whose files changed, re-read fluxlit.toml (dev: on)
//	--reload-scope SCOPE                 gateway (the API child, default) or full (both children)
//	--workbench                          workbench mode: trust proxy headers and print a start-up banner
//	--config PATH                        fluxlit.toml to read (env FLUXLIT_CONFIG; default ./fluxlit.toml, else [tool.fluxlit] in pyproject.toml)
//	--host HOST                          gateway_host (default 127.0.0.1)
//	--port PORT                          gateway_port (default 8000)
//	--debug, --no-debug                  debug mode: [fluxlit-debug] lines and /__fluxlit/debug
//	--proxy-headers, --no-proxy-headers  trust_proxy: believe X-Forwarded-* from forwarded_allow_ips
//	--forwarded-allow-ips LIST           forwarded_allow_ips: addresses and CIDRs, comma-separated
//	--api-upstream URL                   api_upstream: front an API that fluxlit does not run
//	--streamlit-upstream URL             streamlit_upstream: front a Streamlit that fluxlit does not run
//	--root-path PATH                     root_path: the prefix an edge proxy serves the app under
//	--streamlit-script PATH              streamlit_script: the Streamlit script (also the SCRIPT argument)
//	--log-level LEVEL                    log_level: trace, debug, info, warning, error, critical
//	--log-format FORMAT                  log_format: text, json, auto
//	--pidfile PATH                       pidfile (env FLUXLIT_PIDFILE; default .fluxlit.pid)
//	--no-pidfile                         write no pidfile (env FLUXLIT_NO_PIDFILE)
//	-h, --help                           print this page
//
// Examples:
//
//	fluxlit run                        # the project in this folder
//	fluxlit run main:app --port 8080   # uvicorn main:app + streamlit_app.py on :8080
//	fluxlit run --api-upstream http://api:9000 --streamlit-upstream http://ui:8501
//
// # Dev
//
// usage: fluxlit dev [TARGET [SCRIPT]] [flags]
//
// Like run, with debug and reload on by default (they still lose to fluxlit.toml, the
// environment and flags). It says at start what it watches. A saved *.py file restarts the API
// child (both children with --reload-scope full, and in a FluxLit project, whose pages are in
// that code, unless --reload-scope gateway is given); Streamlit reruns its own script and pages/;
// a changed fluxlit.toml is read again (a reload of the children, or a restart in place when a
// gateway setting changed). A save that breaks a child is reported once, with its file and line,
// and the rest keeps serving until the next save. Ctrl-C stops; a second Ctrl-C stops at once.
//
// Flags:
//
//	--reload, --no-reload                restart the child whose files changed, re-read fluxlit.toml (dev: on)
//	--reload-scope SCOPE                 gateway (the API child, default) or full (both children)
//	--workbench                          workbench mode: trust proxy headers and print a start-up banner
//	--config PATH                        fluxlit.toml to read (env FLUXLIT_CONFIG; default ./fluxlit.toml, else [tool.fluxlit] in pyproject.toml)
//	--host HOST                          gateway_host (default 127.0.0.1)
//	--port PORT                          gateway_port (default 8000)
//	--debug, --no-debug                  debug mode: [fluxlit-debug] lines and /__fluxlit/debug
//	--proxy-headers, --no-proxy-headers  trust_proxy: believe X-Forwarded-* from forwarded_allow_ips
//	--forwarded-allow-ips LIST           forwarded_allow_ips: addresses and CIDRs, comma-separated
//	--api-upstream URL                   api_upstream: front an API that fluxlit does not run
//	--streamlit-upstream URL             streamlit_upstream: front a Streamlit that fluxlit does not run
//	--root-path PATH                     root_path: the prefix an edge proxy serves the app under
//	--streamlit-script PATH              streamlit_script: the Streamlit script (also the SCRIPT argument)
//	--log-level LEVEL                    log_level: trace, debug, info, warning, error, critical
//	--log-format FORMAT                  log_format: text, json, auto
//	--pidfile PATH                       pidfile (env FLUXLIT_PIDFILE; default .fluxlit.pid)
//	--no-pidfile                         write no pidfile (env FLUXLIT_NO_PIDFILE)
//	-h, --help                           print this page
//
// Examples:
//
//	fluxlit dev
//	fluxlit dev --reload-scope full
//	fluxlit dev --no-reload
//
// # Workbench
//
// usage: fluxlit workbench [TARGET [SCRIPT]] [flags]
//
// Like run, for hosted notebooks and Connect-style hosts that serve the app behind their own
// proxy: trust_proxy and the start-up banner are on by default. Same as run --workbench.
//
// Flags:
//
//	--config PATH                        fluxlit.toml to read (env FLUXLIT_CONFIG; default ./fluxlit.toml, else [tool.fluxlit] in pyproject.toml)
//	--host HOST                          gateway_host (default 127.0.0.1)
//	--port PORT                          gateway_port (default 8000)
//	--debug, --no-debug                  debug mode: [fluxlit-debug] lines and /__fluxlit/debug
//	--proxy-headers, --no-proxy-headers  trust_proxy: believe X-Forwarded-* from forwarded_allow_ips
//	--forwarded-allow-ips LIST           forwarded_allow_ips: addresses and CIDRs, comma-separated
//	--api-upstream URL                   api_upstream: front an API that fluxlit does not run
//	--streamlit-upstream URL             streamlit_upstream: front a Streamlit that fluxlit does not run
//	--root-path PATH                     root_path: the prefix an edge proxy serves the app under
//	--streamlit-script PATH              streamlit_script: the Streamlit script (also the SCRIPT argument)
//	--log-level LEVEL                    log_level: trace, debug, info, warning, error, critical
//	--log-format FORMAT                  log_format: text, json, auto
//	--pidfile PATH                       pidfile (env FLUXLIT_PIDFILE; default .fluxlit.pid)
//	--no-pidfile                         write no pidfile (env FLUXLIT_NO_PIDFILE)
//	-h, --help                           print this page
//
// Examples:
//
//	fluxlit workbench --root-path /s/abc/p/8000
//
// # Doctor
//
// usage: fluxlit doctor [TARGET [SCRIPT]] [flags]
//
// Prints one "STATUS  name: detail" row per check, Python FluxLit's rows and names plus
// fluxlit's own. Python checks run the configured interpreter, for as long as a start may take
// (child_ready_timeout_s); when no child runs Python they are SKIP rows. In the folder of a
// running fluxlit, gateway_bind reports that instance and its readyz. Exit 1 when a row FAILs,
// else 0 (WARN and SKIP rows never fail).
//
// Flags:
//
//	--json                               one JSON object: status, target, warnings_only, checks[] (Python FluxLit's schema)
//	-v, --verbose                        add the effective configuration (JSON: the "verbose" object)
//	--check-pages                        validate a FluxLit app's pages (pages_validate, experimental_yield_pages rows)
//	--strict                             the strict-listed WARNs become FAILs (Python FluxLit's list)
//	--warnings-only                      always exit 0; FAIL rows are still printed (the Python package's meaning)
//	--build                              for a container build step: the rows about this machine (gateway_bind, pidfile, upstream connects) are SKIP; the exit rule is unchanged
//	--config PATH                        fluxlit.toml to read (env FLUXLIT_CONFIG; default ./fluxlit.toml, else [tool.fluxlit] in pyproject.toml)
//	--host HOST                          gateway_host (default 127.0.0.1)
//	--port PORT                          gateway_port (default 8000)
//	--debug, --no-debug                  debug mode: [fluxlit-debug] lines and /__fluxlit/debug
//	--proxy-headers, --no-proxy-headers  trust_proxy: believe X-Forwarded-* from forwarded_allow_ips
//	--forwarded-allow-ips LIST           forwarded_allow_ips: addresses and CIDRs, comma-separated
//	--api-upstream URL                   api_upstream: front an API that fluxlit does not run
//	--streamlit-upstream URL             streamlit_upstream: front a Streamlit that fluxlit does not run
//	--root-path PATH                     root_path: the prefix an edge proxy serves the app under
//	--streamlit-script PATH              streamlit_script: the Streamlit script (also the SCRIPT argument)
//	--log-level LEVEL                    log_level: trace, debug, info, warning, error, critical
//	--log-format FORMAT                  log_format: text, json, auto
//	--pidfile PATH                       pidfile (env FLUXLIT_PIDFILE; default .fluxlit.pid)
//	--no-pidfile                         write no pidfile (env FLUXLIT_NO_PIDFILE)
//	-h, --help                           print this page
//
// Examples:
//
//	fluxlit doctor
//	fluxlit doctor --json --verbose
//	fluxlit doctor --strict   # in CI, before deploying
//
// # Config
//
// usage: fluxlit config [TARGET [SCRIPT]] [flags]
//
// Prints every setting's effective value and its source (flag, env FLUXLIT_X, .env:3,
// fluxlit.toml:12, pyproject.toml:8, default), secrets redacted, then the derived values and
// the warnings. Exit 1 with --strict when there is a warning, 2 on a configuration error.
//
// Flags:
//
//	--json                               one JSON object: Python FluxLit's schema (target, binding, settings, warnings...) plus sources
//	--strict                             exit 1 when there is any warning
//	--describe                           every setting: its kind, default, environment variable, flag and what it does
//	--config PATH                        fluxlit.toml to read (env FLUXLIT_CONFIG; default ./fluxlit.toml, else [tool.fluxlit] in pyproject.toml)
//	--host HOST                          gateway_host (default 127.0.0.1)
//	--port PORT                          gateway_port (default 8000)
//	--debug, --no-debug                  debug mode: [fluxlit-debug] lines and /__fluxlit/debug
//	--proxy-headers, --no-proxy-headers  trust_proxy: believe X-Forwarded-* from forwarded_allow_ips
//	--forwarded-allow-ips LIST           forwarded_allow_ips: addresses and CIDRs, comma-separated
//	--api-upstream URL                   api_upstream: front an API that fluxlit does not run
//	--streamlit-upstream URL             streamlit_upstream: front a Streamlit that fluxlit does not run
//	--root-path PATH                     root_path: the prefix an edge proxy serves the app under
//	--streamlit-script PATH              streamlit_script: the Streamlit script (also the SCRIPT argument)
//	--log-level LEVEL                    log_level: trace, debug, info, warning, error, critical
//	--log-format FORMAT                  log_format: text, json, auto
//	--pidfile PATH                       pidfile (env FLUXLIT_PIDFILE; default .fluxlit.pid)
//	--no-pidfile                         write no pidfile (env FLUXLIT_NO_PIDFILE)
//	-h, --help                           print this page
//
// Examples:
//
//	fluxlit config
//	fluxlit config --json | jq .sources
//	fluxlit config --describe | less
//
// # Shutdown
//
// usage: fluxlit shutdown [flags]
//
// Sends SIGTERM to the fluxlit named by the pidfile (--pidfile, FLUXLIT_PIDFILE, the pidfile
// setting, else .fluxlit.pid, else Python FluxLit's .fluxlit-dev.pid) and waits for it. Exit 0
// when it stopped (or the pidfile was stale and is removed), 1 when it still runs, 2 when
// there is no pidfile.
//
// Flags:
//
//	--pidfile PATH  the pidfile to read
//	-f, --force     SIGKILL the process if it still runs after --wait
//	--wait SECONDS  how long to wait after SIGTERM (default 15)
//	-h, --help      print this page
//
// Examples:
//
//	fluxlit shutdown
//	fluxlit shutdown --wait 30 -f
//
// # Reload
//
// usage: fluxlit reload [flags]
//
// Tells the running fluxlit (the pidfile's, or --pid) to start a new generation of children
// with the current code and configuration; once they are ready it routes new sessions to them and
// drains the old ones (open WebSockets keep reload_drain_s). Exit 0 when it switched, 1 when the
// new generation failed (the old keeps serving; the reason is printed) or nothing answered in
// --wait seconds, 2 when there is no pidfile.
//
// Flags:
//
//	--pidfile PATH  the pidfile to read (default: the project's pidfile setting)
//	--pid PID       the process to signal instead of the pidfile's
//	--wait SECONDS  how long to wait for the outcome (default child_ready_timeout_s + 30)
//	-h, --help      print this page
//
// Examples:
//
//	fluxlit reload
//	fluxlit reload --wait 120
//
// # Upgrade
//
// usage: fluxlit upgrade [flags]
//
// Tells the running fluxlit to start the binary on disk as a new process that inherits the
// listening socket and starts its own children; it takes over once they are ready, and the old
// process drains and stops. Exit 0 when the new one took over, 1 when it failed (the old keeps
// serving) or nothing answered in --wait seconds, 2 when there is no pidfile.
//
// Flags:
//
//	--pidfile PATH  the pidfile to read (default: the project's pidfile setting)
//	--pid PID       the process to signal instead of the pidfile's
//	--wait SECONDS  how long to wait for the outcome
//	-h, --help      print this page
//
// Examples:
//
//	fluxlit upgrade
//	fluxlit upgrade --pid 4242
//
// # New
//
// usage: fluxlit new NAME [flags]
//
// Writes a project into the new folder NAME (it must not exist, or be empty). Without
// --profile: fluxlit.toml, a FastAPI app.py and a Streamlit streamlit_app.py (no Python
// FluxLit needed). With --profile minimal, auth-ready or deploy: Python FluxLit's project of
// that name (fluxlit.toml and an app.py with app = FluxLit(...) and @app.page pages).
//
// Flags:
//
//	--profile PROFILE  minimal, auth-ready or deploy (a Python FluxLit app)
//	--fluxlit          the minimal Python FluxLit app (--profile minimal)
//	-h, --help         print this page
//
// Examples:
//
//	fluxlit new myapp
//	fluxlit new myapp --profile minimal
//
// # Build
//
// usage: fluxlit build [TARGET] [flags]
//
// Writes Containerfile.scratch and Containerfile.python (each with its .dockerignore beside
// it), fluxlit.service and kubernetes.yaml for this configuration into deploy/ (or -o DIR). An existing file is not
// overwritten: exit 1 naming it (use --force).
//
// Flags:
//
//	-o, --output, --out DIR              where to write (default deploy)
//	-f, --force                          overwrite existing files
//	--config PATH                        fluxlit.toml to read (env FLUXLIT_CONFIG; default ./fluxlit.toml, else [tool.fluxlit] in pyproject.toml)
//	--host HOST                          gateway_host (default 127.0.0.1)
//	--port PORT                          gateway_port (default 8000)
//	--debug, --no-debug                  debug mode: [fluxlit-debug] lines and /__fluxlit/debug
//	--proxy-headers, --no-proxy-headers  trust_proxy: believe X-Forwarded-* from forwarded_allow_ips
//	--forwarded-allow-ips LIST           forwarded_allow_ips: addresses and CIDRs, comma-separated
//	--api-upstream URL                   api_upstream: front an API that fluxlit does not run
//	--streamlit-upstream URL             streamlit_upstream: front a Streamlit that fluxlit does not run
//	--root-path PATH                     root_path: the prefix an edge proxy serves the app under
//	--streamlit-script PATH              streamlit_script: the Streamlit script (also the SCRIPT argument)
//	--log-level LEVEL                    log_level: trace, debug, info, warning, error, critical
//	--log-format FORMAT                  log_format: text, json, auto
//	--pidfile PATH                       pidfile (env FLUXLIT_PIDFILE; default .fluxlit.pid)
//	--no-pidfile                         write no pidfile (env FLUXLIT_NO_PIDFILE)
//	-h, --help                           print this page
//
// Examples:
//
//	fluxlit build
//	fluxlit build -o ops/deploy --force
//
// # Pages
//
// usage: fluxlit pages manifest|validate [flags]
//
// Runs Python FluxLit's page tooling on the app object TARGET (default: the target setting)
// in the configured interpreter, in the project folder. "pages manifest" prints the JSON page
// manifest (manifest_version 1); "pages validate" prints each problem and exits 1 when there
// is one (--strict: strict page signature checks). Needs the fluxlit Python package there.
//
// Flags:
//
//	--target TARGET  module:attr of the FluxLit app (also the first argument)
//	--strict         validate: strict page signature checks
//	--config PATH    fluxlit.toml to read (env FLUXLIT_CONFIG; default ./fluxlit.toml, else [tool.fluxlit] in pyproject.toml)
//	-h, --help       print this page
//
// Examples:
//
//	fluxlit pages manifest > pages.json
//	fluxlit pages validate --strict
//
// # Healthcheck
//
// usage: fluxlit healthcheck [URL] [flags]
//
// Asks the gateway's liveness route (http://127.0.0.1:<gateway_port><root_path><api_mount_path>
// /healthz, from the configuration) or URL, with a 3 s timeout, and exits 0 on a 2xx answer,
// 1 otherwise. Made for a container HEALTHCHECK: it needs no curl.
//
// Flags:
//
//	--config PATH                        fluxlit.toml to read (env FLUXLIT_CONFIG; default ./fluxlit.toml, else [tool.fluxlit] in pyproject.toml)
//	--host HOST                          gateway_host (default 127.0.0.1)
//	--port PORT                          gateway_port (default 8000)
//	--debug, --no-debug                  debug mode: [fluxlit-debug] lines and /__fluxlit/debug
//	--proxy-headers, --no-proxy-headers  trust_proxy: believe X-Forwarded-* from forwarded_allow_ips
//	--forwarded-allow-ips LIST           forwarded_allow_ips: addresses and CIDRs, comma-separated
//	--api-upstream URL                   api_upstream: front an API that fluxlit does not run
//	--streamlit-upstream URL             streamlit_upstream: front a Streamlit that fluxlit does not run
//	--root-path PATH                     root_path: the prefix an edge proxy serves the app under
//	--streamlit-script PATH              streamlit_script: the Streamlit script (also the SCRIPT argument)
//	--log-level LEVEL                    log_level: trace, debug, info, warning, error, critical
//	--log-format FORMAT                  log_format: text, json, auto
//	--pidfile PATH                       pidfile (env FLUXLIT_PIDFILE; default .fluxlit.pid)
//	--no-pidfile                         write no pidfile (env FLUXLIT_NO_PIDFILE)
//	-h, --help                           print this page
//
// Examples:
//
//	fluxlit healthcheck
//	fluxlit healthcheck http://127.0.0.1:8000/api/readyz
//
// # Version
//
// usage: fluxlit version
//
// Prints the version, the commit it was built from, and the Go version and platform.
//
// Flags:
//
//	-h, --help  print this page
//
// # Help
//
// usage: fluxlit help [COMMAND]
//
// Without COMMAND, the overview; with one, that command's page ("fluxlit COMMAND --help" too).
//
// Flags:
//
//	-h, --help  print this page
//
// Examples:
//
//	fluxlit help doctor
package main
