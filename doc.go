// Fluxlit is the manual of the fluxlit command; "fluxlit help" prints the same text
// (TestDocMatchesUsage keeps the two equal).
//
// fluxlit serves a Streamlit UI and an HTTP API on one port.
//
// Examples:
//
//	fluxlit run                      # run the project in this directory (fluxlit.toml)
//	fluxlit run main:app --port 8080 # uvicorn main:app + streamlit_app.py on :8080
//	fluxlit dev --reload             # development: debug on, restart on change
//	fluxlit doctor                   # check this deployment: PASS / WARN / FAIL rows
//	fluxlit config --json            # the effective configuration and where each value came from
//	fluxlit shutdown                 # stop the instance named by the pidfile
//	fluxlit reload                   # new children with the current code and config, no downtime
//	fluxlit upgrade                  # replace the running fluxlit binary, no connection dropped
//	fluxlit new myapp                # scaffold fluxlit.toml, app.py, streamlit_app.py
//	fluxlit build --out deploy       # Containerfiles, systemd unit, Kubernetes manifest
//	fluxlit healthcheck              # exit 0 when /api/healthz answers 2xx (container HEALTHCHECK)
//
// Commands:
//
//	run [TARGET]        production run: children + gateway, pidfile, graceful stop on SIGTERM/SIGINT
//	dev [TARGET]        run for development: debug on, --reload, --reload-scope gateway|full
//	workbench [TARGET]  run with proxy headers trusted and a start-up banner
//	doctor [TARGET]     check the deployment; --json, --verbose, --strict, --warnings-only, --build
//	config [TARGET]     print the effective configuration; --json, --strict
//	shutdown            stop a running instance; --pidfile, --force, --wait SECONDS
//	reload              start a new generation of children, switch to it, drain the old; --pidfile, --pid, --wait
//	upgrade             start the fluxlit binary on disk on the running listener, then stop the old; --pidfile, --pid, --wait
//	new NAME [--fluxlit] scaffold a project in the folder NAME (--fluxlit: a Python FluxLit app)
//	build               write deployment files; --out DIR, --force
//	healthcheck [URL]   GET URL (default the local /api/healthz); exit 0 on 2xx
//	version             print version, commit and Go version
//	help                print this text
//
// Flags of run, dev, workbench, doctor and config:
//
//	--config PATH              fluxlit.toml to read (env FLUXLIT_CONFIG; default ./fluxlit.toml)
//	--host HOST                gateway_host (default 127.0.0.1)
//	--port PORT                gateway_port (default 8000)
//	--debug                    debug mode: [fluxlit-debug] lines and /__fluxlit/debug
//	--proxy-headers            trust_proxy: believe X-Forwarded-* from forwarded_allow_ips
//	--forwarded-allow-ips LIST forwarded_allow_ips: addresses and CIDRs, comma-separated
//	--api-upstream URL         api_upstream: front an API that fluxlit does not run
//	--streamlit-upstream URL   streamlit_upstream: front a Streamlit that fluxlit does not run
//	--root-path PATH           root_path: the prefix an edge proxy serves the app under
//	--log-level LEVEL          log_level: debug, info, warn, error
//	--log-format FORMAT        log_format: text, json, auto
//	--pidfile PATH             pidfile (env FLUXLIT_PIDFILE; default .fluxlit.pid)
//	--no-pidfile               write no pidfile (env FLUXLIT_NO_PIDFILE)
//	--reload                   restart children when *.py or fluxlit.toml change (dev)
//	--reload-scope SCOPE       gateway (the API child, default) or full (both children)
//
// doctor's exit code: 1 when a row FAILs, else 0 (WARN and SKIP rows never fail).
//
//	--strict         the strict-listed WARNs become FAILs
//	--warnings-only  always 0; FAIL rows are still printed (the Python package's meaning)
//	--build          for a container build step: the rows about this machine (gateway_bind,
//	                 pidfile, upstream connects) are SKIP; the exit rule is unchanged
//
// Every setting is also a fluxlit.toml key and a FLUXLIT_<NAME> environment variable.
// Precedence: flag > FluxLit app code (FluxlitSettings(...) in app.py) > environment >
// fluxlit.toml > default. "fluxlit config" lists them all, with where each came from.
package main
