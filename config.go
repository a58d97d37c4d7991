// config.go owns fluxlit's settings: the table of every setting (name, kind, default, secrecy),
// loading them with one precedence for all (flag > FluxLit app code > environment >
// fluxlit.toml > default; the app-code layer is read by fluxlitapp.go),
// and validating the result into one immutable Config that the rest of the program reads.
// Nothing else in fluxlit reads FLUXLIT_* variables or fluxlit.toml.

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is the effective configuration. Field tags name the setting; loadConfig fills every
// tagged field from the settings table, so a setting is declared once, in settingsTable.
type Config struct {
	// Gateway listener and routing.
	GatewayHost  string `setting:"gateway_host"`
	GatewayPort  int    `setting:"gateway_port"`
	APIMountPath string `setting:"api_mount_path"`
	RootPath     string `setting:"root_path"`

	// Upstreams not run by fluxlit.
	APIUpstream       string `setting:"api_upstream"`
	StreamlitUpstream string `setting:"streamlit_upstream"`

	// Proxy trust and public URL.
	TrustProxy           bool     `setting:"trust_proxy"`
	ForwardedAllowIPs    []string `setting:"forwarded_allow_ips"`
	PublicBaseURL        string   `setting:"public_base_url"`
	StrictPublicBaseURL  bool     `setting:"strict_public_base_url"`
	ForwardClientHeaders []string `setting:"gateway_forward_client_headers_to_streamlit"`

	// Upstream limits.
	ClientHeaderTimeoutS float64 `setting:"gateway_client_header_timeout_s"`
	ClientBodyTimeoutS   float64 `setting:"gateway_client_body_timeout_s"`
	ClientSendTimeoutS   float64 `setting:"gateway_client_send_timeout_s"`
	ConnectTimeoutS      float64 `setting:"gateway_upstream_connect_timeout_s"`
	SendTimeoutS         float64 `setting:"gateway_upstream_send_timeout_s"`
	ReadTimeoutS         float64 `setting:"gateway_upstream_read_timeout_s"`
	BodyTimeoutS         float64 `setting:"gateway_upstream_body_timeout_s"`
	RequestBuffering     bool    `setting:"gateway_request_buffering"`
	RequestBufferDir     string  `setting:"gateway_request_buffer_dir"`
	RequestBufferMax     int64   `setting:"gateway_request_buffer_max_bytes"`
	MaxBodyBytes         int64   `setting:"gateway_max_proxy_request_body_bytes"`
	WSMaxMessageSize     int64   `setting:"gateway_ws_max_message_bytes"`
	ShutdownTimeoutS     float64 `setting:"shutdown_timeout_s"`
	APIHealthPath        string  `setting:"api_health_path"`
	MaxConnections       int     `setting:"max_connections"`
	WSOpenTimeoutS       float64 `setting:"gateway_ws_open_timeout_s"`
	StrictStartup        bool    `setting:"strict_startup"`
	StrictConfig         bool    `setting:"strict_config"`

	// Children.
	Target               string   `setting:"target"`
	StreamlitScript      string   `setting:"streamlit_script"`
	Python               string   `setting:"python"`
	APICommand           []string `setting:"api_command"`
	StreamlitCommand     []string `setting:"streamlit_command"`
	StreamlitRunCLIArgs  []string `setting:"streamlit_run_cli_args"`
	APIPort              int      `setting:"api_port"`
	APIChildTransport    string   `setting:"api_child_transport"`
	StreamlitPort        int      `setting:"streamlit_port"`
	StreamlitReplicas    string   `setting:"streamlit_replicas"`
	APIWorkers           int      `setting:"api_workers"`
	ReloadDrainS         float64  `setting:"reload_drain_s"`
	ChildEnvDeny         []string `setting:"child_env_deny"`
	RestartMaxBackoffS   float64  `setting:"restart_max_backoff_s"`
	ChildReadyTimeoutS   float64  `setting:"child_ready_timeout_s"`
	Pidfile              string   `setting:"pidfile"`
	NoPidfile            bool     `setting:"no_pidfile"`
	ReloadScope          string   `setting:"reload_scope"`
	Reload               bool     `setting:"reload"`
	EnableSecurityHeader bool     `setting:"enable_security_headers"`
	HSTSMaxAgeS          int64    `setting:"hsts_max_age_s"`

	// CORS for the API mount.
	CORSAllowOrigins     []string `setting:"cors_allow_origins"`
	CORSAllowCredentials bool     `setting:"cors_allow_credentials"`
	CORSAllowMethods     []string `setting:"cors_allow_methods"`
	CORSAllowHeaders     []string `setting:"cors_allow_headers"`
	CORSMaxAgeS          int64    `setting:"cors_max_age_s"`

	// Edge authentication.
	JWTHS256Secret     string   `setting:"jwt_hs256_secret"`
	JWTHSSecretFile    string   `setting:"jwt_hs_secret_file"`
	JWTPublicKeyFile   string   `setting:"jwt_public_key_file"`
	JWTJWKSFile        string   `setting:"jwt_jwks_file"`
	JWTJWKSURL         string   `setting:"jwt_jwks_url"`
	JWTIssuer          string   `setting:"jwt_issuer"`
	JWTAudience        []string `setting:"jwt_audience"`
	JWTAlgorithms      []string `setting:"jwt_algorithms"`
	JWTLeewaySeconds   float64  `setting:"jwt_leeway_seconds"`
	JWTRequiredScopes  []string `setting:"jwt_required_scopes"`
	JWTProtect         []string `setting:"jwt_protect"`
	JWTPublicPaths     []string `setting:"jwt_public_paths"`
	OIDCBFFSecret      string   `setting:"oidc_bff_secret"`
	RateLimitRPS       float64  `setting:"rate_limit_rps"`
	RateLimitBurst     int      `setting:"rate_limit_burst"`
	RateLimitPaths     []string `setting:"rate_limit_paths"`
	LogRedactQueryKeys []string `setting:"log_redact_query_keys"`

	// Observability.
	Debug             bool   `setting:"debug"`
	DebugAllowRemote  bool   `setting:"debug_allow_remote"`
	LogLevel          string `setting:"log_level"`
	LogFormat         string `setting:"log_format"`
	AccessLog         bool   `setting:"enable_gateway_access_log"`
	Metrics           bool   `setting:"enable_gateway_prometheus_metrics"`
	MetricsPath       string `setting:"gateway_prometheus_metrics_path"`
	MetricsListen     string `setting:"metrics_listen"`
	StartupBanner     bool   `setting:"startup_banner"`
	URLSessionQuery   string `setting:"url_session_query_param"`
	GatewayGOGC       int    `setting:"gateway_gogc"`
	GatewayMemLimitMB int    `setting:"gateway_memory_limit_mb"`
	FastPath          bool   `setting:"gateway_fast_path"`

	// Settings of the Python package that have no field: those only a FluxLit app reads
	// (passed on to the children) and those that mean nothing to fluxlit (a WARN says why),
	// parsed like every setting (pysettings.go).
	PythonOnly map[string]any

	// Derived, not settings.
	ConfigFile string            // the project file that was read (fluxlit.toml or pyproject.toml), "" when none
	ProjectDir string            // where that file is, else the working directory
	Sources    map[string]string // setting name -> "flag", "env FLUXLIT_X", ".env:3", "fluxlit.toml:12", "default"
	Warnings   []configWarning   // configuration warnings (doctor and config show them)
	UnknownEnv []string          // FLUXLIT_* variables that are no setting, with a suggestion
	App        *fluxlitApp       // the Python FluxLit object target names; nil for a plain project (fluxlitapp.go)
	AppErr     string            // why the app model could not be decided ("" when it was, or was not needed)
	// Shadowed records, for gateway_host, gateway_port and log_level, a project-file value that
	// lost to the environment: Python FluxLit 0.13 let the file win for these three (doctor
	// row binding_precedence).
	Shadowed map[string]shadowedValue
}

// configWarning is one configuration warning. Code names the kind (Python FluxLit's codes
// where it has one, so "fluxlit config --json" matches); Msg is the line users read.
type configWarning struct {
	Code string
	Msg  string
}

func (w configWarning) String() string { return w.Msg }

// warningLines is every configuration warning as the line users read, unknown
// environment variables included.
func (c *Config) warningLines() []string {
	out := make([]string, 0, len(c.Warnings)+len(c.UnknownEnv))
	for _, w := range c.Warnings {
		out = append(out, w.Msg)
	}
	return append(out, c.UnknownEnv...)
}

// shadowedValue is a project-file value that a higher source overrode.
type shadowedValue struct {
	FileValue, FileWhere, Winner string
}

type settingKind int

const (
	kindString settingKind = iota
	kindInt
	kindFloat
	kindBool
	kindList
	kindDict // a JSON object (env) or a TOML table; Python FluxLit's dict settings
)

func (k settingKind) String() string {
	return [...]string{"a string", "an integer", "a number", "a boolean", "a list of strings", "a table (JSON object)"}[k]
}

// settingRole says who acts on a setting. Python FluxLit 0.13's settings are all accepted
// (the "py" mark); those the gateway has no use for are either read by the FluxLit app
// itself or mean nothing to fluxlit, and say so.
type settingRole int

const (
	roleGateway settingRole = iota // fluxlit implements it
	roleApp                        // read by a FluxLit app in its own process; fluxlit passes it on
	roleIgnored                    // means nothing to fluxlit: accepted with a one-line WARN (why)
)

// setting describes one configuration name. def is written in the environment syntax and
// parsed like a value from the environment, so defaults go through the same checks.
type setting struct {
	name     string
	kind     settingKind
	def      string
	secret   bool
	min, max float64 // numeric range; both zero means unchecked
	doc      string
	py       bool        // a setting of Python FluxLit 0.13 (FluxlitSettings)
	role     settingRole // roleGateway unless py marks a Python-only setting
	why      string      // roleIgnored: the WARN's reason; roleApp: who reads it
	optional bool        // Python's "X | None": unset is null in config --json, not the zero value
	norm     func(string) string
	orInt    bool // a string setting that also takes a TOML integer ("auto" or 4)
}

// Durations are seconds; a day bounds every timeout so that a typo of extra zeros is caught.
const maxTimeoutS = 86400

var settingsTable = []setting{
	{name: "gateway_host", kind: kindString, def: "127.0.0.1", py: true, doc: "public listen address"},
	{name: "gateway_port", kind: kindInt, def: "8000", max: 65535, py: true, doc: "public listen port (0 picks a free one)"},
	{name: "api_mount_path", kind: kindString, def: "/api", py: true, norm: normalizeMountPath, doc: "path prefix routed to the API (\"api\" and \"/api/\" mean /api)"},
	{name: "root_path", kind: kindString, def: "", py: true, norm: normalizeRootPath, doc: "browser-visible prefix when a proxy serves the app under a subpath"},
	{name: "streamlit_public_path", kind: kindString, def: "", py: true, norm: normalizeRootPath, doc: "Python FluxLit's subpath when root_path is unset: root_path takes its value"},
	{name: "api_upstream", kind: kindString, doc: "URL of an API not run by fluxlit (http(s)://host:port or unix:/path.sock)"},
	{name: "streamlit_upstream", kind: kindString, doc: "URL of a Streamlit not run by fluxlit"},
	{name: "trust_proxy", kind: kindBool, def: "false", py: true, doc: "believe X-Forwarded-* from forwarded_allow_ips (loopback when unset)"},
	{name: "forwarded_allow_ips", kind: kindList, py: true, doc: "addresses and CIDRs of trusted proxies"},
	{name: "public_base_url", kind: kindString, py: true, doc: "public origin (+prefix) for redirects and links; PUBLIC_BASE_URL is a fallback"},
	{name: "strict_public_base_url", kind: kindBool, def: "false", py: true, doc: "doctor FAILs when FLUXLIT_PUBLIC_BASE_URL and PUBLIC_BASE_URL differ"},
	{name: "gateway_forward_client_headers_to_streamlit", kind: kindList, py: true, doc: "extra browser headers the Streamlit hop may carry (max 32)"},
	{name: "gateway_client_header_timeout_s", kind: kindFloat, def: "10", min: 0.1, max: 3600, doc: "time a client has to send a request head, from connecting (a silent connection is closed then) or from the first byte of a later request"},
	{name: "gateway_client_body_timeout_s", kind: kindFloat, def: "60", max: maxTimeoutS, doc: "longest pause of a client between two reads of its request body (then 408; 0: none)"},
	{name: "gateway_client_send_timeout_s", kind: kindFloat, def: "60", max: maxTimeoutS, doc: "longest a write to a client may wait for it to read (then the connection is cut; 0: none)"},
	{name: "gateway_upstream_connect_timeout_s", kind: kindFloat, def: "30", max: maxTimeoutS, py: true, doc: "upstream dial timeout (0: none)"},
	{name: "gateway_upstream_send_timeout_s", kind: kindFloat, def: "60", max: maxTimeoutS, doc: "longest a write of a request to an upstream may wait for it to read (then 504; 0: none)"},
	{name: "gateway_upstream_read_timeout_s", kind: kindFloat, def: "120", max: maxTimeoutS, py: true, doc: "time an upstream may take to send response headers, counted from the end of the request body (0: none)"},
	{name: "gateway_upstream_body_timeout_s", kind: kindFloat, def: "120", max: maxTimeoutS, doc: "longest silence of an upstream inside a response body (then the client's response is cut); 0: none, for event streams without heartbeats"},
	{name: "gateway_request_buffering", kind: kindBool, def: "true", doc: "read a request body whole (memory, then a file) before the upstream is dialled, as nginx does"},
	{name: "gateway_request_buffer_dir", kind: kindString, doc: "where request bodies over 1 MiB wait (default: $TMPDIR or /tmp); unwritable: such bodies are streamed"},
	{name: "gateway_request_buffer_max_bytes", kind: kindInt, def: "1073741824", max: math.MaxInt64, doc: "bytes of request bodies that may wait in files at once; a body that does not fit is streamed"},
	{name: "gateway_max_proxy_request_body_bytes", kind: kindInt, def: "0", max: math.MaxInt64, py: true, doc: "larger request bodies get 413 (0: no limit)"},
	{name: "gateway_ws_max_message_bytes", kind: kindInt, def: "0", max: math.MaxInt64, py: true, optional: true, doc: "larger WebSocket messages close with 1009 (0: no limit)"},
	{name: "gateway_ws_open_timeout_s", kind: kindFloat, def: "30", max: maxTimeoutS, py: true, doc: "time to open a WebSocket to the upstream, handshake included (0: none)"},
	{name: "shutdown_timeout_s", kind: kindFloat, def: "10", min: 0.1, max: 3600, doc: "drain time on stop before children are killed"},
	{name: "uvicorn_graceful_shutdown_timeout_s", kind: kindFloat, def: "0", max: 3600, py: true, optional: true, doc: "Python FluxLit's drain time: shutdown_timeout_s takes its value when that is not set"},
	{name: "api_health_path", kind: kindString, doc: "API readiness path (else a TCP connect)"},
	{name: "max_connections", kind: kindInt, def: "0", max: 1 << 24, doc: "cap on concurrent client connections (0: none)"},

	{name: "target", kind: kindString, def: "app:app", doc: "module:attr of the ASGI app run by uvicorn"},
	{name: "streamlit_script", kind: kindString, def: "streamlit_app.py", doc: "the Streamlit script"},
	{name: "python", kind: kindString, doc: "interpreter for both children ($VIRTUAL_ENV/bin/python, else the project's .venv/bin/python, else python3)"},
	{name: "api_command", kind: kindList, doc: "argv replacing the uvicorn command; {host} {port} {root_path} substituted"},
	{name: "streamlit_command", kind: kindList, doc: "argv replacing the streamlit command; {host} {port} {root_path} substituted"},
	{name: "streamlit_run_cli_args", kind: kindList, py: true, doc: "extra `streamlit run` flags (not port, address or baseUrlPath)"},
	{name: "api_port", kind: kindInt, def: "0", max: 65535, doc: "fixed loopback port of the API child (0: a free one)"},
	{name: "api_child_transport", kind: kindString, def: "unix", doc: "how the uvicorn child listens: unix (a private socket) or tcp (loopback)"},
	{name: "streamlit_port", kind: kindInt, def: "0", max: 65535, py: true, doc: "fixed loopback port of the Streamlit child (0: a free one; Python FluxLit ignored it)"},
	{name: "streamlit_replicas", kind: kindString, def: "1", doc: "Streamlit children, each a process of its own with sticky sessions: a number (1-64), or auto (the CPUs fluxlit may use)", orInt: true},
	{name: "api_workers", kind: kindInt, def: "1", min: 1, max: 64, doc: "uvicorn worker processes of the API child (uvicorn --workers)"},
	{name: "reload_drain_s", kind: kindFloat, def: "5", min: 0, max: 3600, doc: "after a reload or upgrade, how long the old generation keeps its open WebSockets before closing them with 1001"},
	{name: "child_env_deny", kind: kindList, doc: "environment names never passed to the Streamlit child"},
	{name: "restart_max_backoff_s", kind: kindFloat, def: "30", min: 0.1, max: 3600, doc: "cap of the crash-restart backoff"},
	{name: "child_ready_timeout_s", kind: kindFloat, def: "60", min: 1, max: 3600, doc: "how long a child may take to become ready"},
	{name: "pidfile", kind: kindString, def: ".fluxlit.pid", doc: "pidfile path, relative to the project directory"},
	{name: "no_pidfile", kind: kindBool, def: "false", doc: "do not write a pidfile"},
	{name: "reload", kind: kindBool, def: "false", doc: "watch the project: a saved file restarts its child, fluxlit.toml is re-read, a broken save waits for the next one (dev: on)"},
	{name: "reload_scope", kind: kindString, def: "gateway", doc: "what --reload restarts: gateway (the API child) or full (both)"},
	{name: "enable_security_headers", kind: kindBool, def: "false", py: true, doc: "nosniff, SAMEORIGIN, Referrer-Policy, HSTS over HTTPS"},
	{name: "hsts_max_age_s", kind: kindInt, def: "63072000", max: 1 << 31, doc: "HSTS max-age (two years)"},

	{name: "cors_allow_origins", kind: kindList, py: true, doc: "origins allowed to call the API from a browser"},
	{name: "cors_allow_credentials", kind: kindBool, def: "false", py: true, doc: "allow credentials in CORS requests"},
	{name: "cors_allow_methods", kind: kindList, def: "GET,POST,PUT,PATCH,DELETE,OPTIONS", doc: "CORS allowed methods"},
	{name: "cors_allow_headers", kind: kindList, def: "Authorization,Content-Type,X-Request-ID", doc: "CORS allowed request headers"},
	{name: "cors_max_age_s", kind: kindInt, def: "600", max: 86400, doc: "how long a browser caches a preflight"},
	{name: "cors_middleware_kwargs", kind: kindDict, py: true, doc: "Python FluxLit's extra CORSMiddleware arguments: max_age sets cors_max_age_s; other keys WARN"},

	{name: "jwt_hs256_secret", kind: kindString, secret: true, py: true, doc: "HMAC secret for HS256/384/512 tokens"},
	{name: "jwt_hs_secret_file", kind: kindString, doc: "file holding the HMAC secret"},
	{name: "jwt_public_key_file", kind: kindString, doc: "PEM public key (RSA, EC, Ed25519)"},
	{name: "jwt_jwks_file", kind: kindString, doc: "JWKS document on disk"},
	{name: "jwt_jwks_url", kind: kindString, py: true, doc: "JWKS URL of the identity provider"},
	{name: "jwt_issuer", kind: kindString, py: true, doc: "required iss"},
	{name: "jwt_audience", kind: kindList, py: true, doc: "accepted aud values (one string is one audience)"},
	{name: "jwt_algorithms", kind: kindList, doc: "allowed algorithms (default: those the keys can verify)"},
	{name: "jwt_leeway_seconds", kind: kindFloat, def: "0", min: -3600, max: 3600, py: true, doc: "clock skew allowed on exp/nbf/iat"},
	{name: "jwt_required_scopes", kind: kindList, doc: "scopes every token must carry"},
	{name: "jwt_protect", kind: kindList, doc: "path patterns under the API mount that need a token at the edge (\"/*\": all); empty: edge JWT off"},
	{name: "jwt_public_paths", kind: kindList, doc: "path patterns exempt from jwt_protect"},
	{name: "oidc_bff_secret", kind: kindString, secret: true, py: true, role: roleApp, why: "the FluxLit app's OIDC login (attach_oidc_login)", doc: "read by a FluxLit app; never passed to Streamlit"},
	{name: "rate_limit_rps", kind: kindFloat, def: "0", max: 1e6, doc: "requests per second per client (0: off)"},
	{name: "rate_limit_burst", kind: kindInt, def: "0", max: 1e6, doc: "bucket size (0: max(1, rps))"},
	{name: "rate_limit_paths", kind: kindList, doc: "path prefixes that are rate limited (default: the API mount)"},
	{name: "log_redact_query_keys", kind: kindList, doc: "extra query keys whose values are redacted in logs"},

	{name: "debug", kind: kindBool, def: "false", py: true, doc: "debug mode: [fluxlit-debug] lines and /__fluxlit/debug"},
	{name: "debug_allow_remote", kind: kindBool, def: "false", doc: "serve /__fluxlit/debug to non-loopback clients"},
	{name: "log_level", kind: kindString, def: "info", py: true, norm: strings.ToLower, doc: "trace, debug, info, warning (warn), error or critical"},
	{name: "log_format", kind: kindString, def: "auto", doc: "text (the console format, for people), json (every line one JSON object), or auto (text on a terminal, else json)"},
	{name: "enable_gateway_access_log", kind: kindBool, def: "true", py: true, doc: "one INFO line per request (off: DEBUG lines, as Python FluxLit)"},
	{name: "enable_gateway_prometheus_metrics", kind: kindBool, def: "false", py: true, doc: "serve Prometheus metrics"},
	{name: "gateway_prometheus_metrics_path", kind: kindString, def: "/__fluxlit/metrics", py: true, doc: "metrics path"},
	{name: "metrics_listen", kind: kindString, doc: "host:port to serve metrics on instead of the public port"},
	{name: "startup_banner", kind: kindBool, def: "false", doc: "print the URLs once ready even at log_level warn, and warn when proxy headers are trusted (workbench: on)"},
	{name: "url_session_query_param", kind: kindString, def: "fluxlit_sid", py: true, doc: "URL-session query key, redacted in logs"},
	{name: "gateway_gogc", kind: kindInt, def: "100", min: -1, max: 10000, doc: "GOGC of the gateway: 100 measured best (BENCHMARKS.md); -1 turns the collector off"},
	{name: "gateway_memory_limit_mb", kind: kindInt, def: "0", max: 1 << 20, doc: "soft memory limit for the Go runtime (0: none)"},
	{name: "gateway_fast_path", kind: kindBool, def: "true", doc: "serve plain proxied requests with the hand-written HTTP/1.1 front end (false: net/http only)"},
	{name: "strict_startup", kind: kindBool, def: "false", py: true, doc: "refuse to start (exit 2) on what doctor --strict fails: broad proxy trust, unlimited bodies behind a proxy, a subpath without public_base_url or trust_proxy, rejected forward headers"},
	{name: "strict_config", kind: kindBool, def: "false", doc: "read the project file strictly: unknown keys and values of the wrong TOML type are errors (exit 2), not warnings"},

	// Python FluxLit 0.13 settings that only a FluxLit app reads (fluxlit passes a value from
	// fluxlit.toml or a flag on to both children as FLUXLIT_<NAME>; the environment reaches
	// them anyway) and those that mean nothing to fluxlit (accepted; a WARN says why).
	{name: "title", kind: kindString, def: "FluxLit", py: true, role: roleApp, why: "the FluxLit app's FastAPI title and Streamlit page title", doc: "read by a FluxLit app"},
	{name: "enable_request_logging", kind: kindBool, def: "false", py: true, role: roleApp, why: "the FluxLit app's own request-log middleware", doc: "read by a FluxLit app (fluxlit's access log: enable_gateway_access_log)"},
	{name: "streamlit_page_config", kind: kindDict, py: true, role: roleApp, why: "the FluxLit page entry's st.set_page_config", doc: "read by a FluxLit app"},
	{name: "strict_page_signatures", kind: kindBool, def: "false", py: true, role: roleApp, why: "the FluxLit app's @app.page checks", doc: "read by a FluxLit app"},
	{name: "experimental_yield_pages", kind: kindBool, def: "false", py: true, role: roleApp, why: "the FluxLit page entry (generator pages)", doc: "read by a FluxLit app (doctor --check-pages warns)"},
	{name: "async_page_depends", kind: kindBool, def: "false", py: true, role: roleApp, why: "the FluxLit page entry (async Depends)", doc: "read by a FluxLit app (doctor row async_depends_streamlit)"},
	{name: "streamlit_host", kind: kindString, def: "127.0.0.1", py: true, role: roleIgnored, why: "reserved and unused in Python FluxLit; fluxlit binds Streamlit to 127.0.0.1 (streamlit_port fixes its port)", doc: "accepted, no effect"},
	{name: "gateway_max_concurrent_upstream_http", kind: kindInt, def: "0", max: math.MaxInt32, py: true, role: roleIgnored, why: "fluxlit does not queue requests to Streamlit; max_connections caps client connections", doc: "accepted, no effect"},
	{name: "gateway_httpx_max_connections", kind: kindInt, def: "0", max: math.MaxInt32, py: true, role: roleIgnored, why: "it sizes the Python gateway's httpx pool; fluxlit keeps its own pool of upstream connections", doc: "accepted, no effect"},
	{name: "gateway_httpx_max_keepalive_connections", kind: kindInt, def: "0", max: math.MaxInt32, py: true, role: roleIgnored, why: "it sizes the Python gateway's httpx pool; fluxlit keeps its own pool of upstream connections", doc: "accepted, no effect"},
	{name: "gateway_ws_ping_interval_s", kind: kindFloat, def: "0", min: -maxTimeoutS, max: maxTimeoutS, py: true, optional: true, role: roleIgnored, why: "fluxlit relays WebSocket frames, the browser's and Streamlit's own pings included, and sends none itself", doc: "accepted, no effect"},
	{name: "gateway_ws_ping_timeout_s", kind: kindFloat, def: "0", min: -maxTimeoutS, max: maxTimeoutS, py: true, optional: true, role: roleIgnored, why: "fluxlit relays WebSocket frames, the browser's and Streamlit's own pings included, and sends none itself", doc: "accepted, no effect"},
	{name: "gateway_ws_close_timeout_s", kind: kindFloat, def: "0", min: -maxTimeoutS, max: maxTimeoutS, py: true, optional: true, role: roleIgnored, why: "fluxlit closes a WebSocket's other side as soon as one side closes", doc: "accepted, no effect"},
}

var settingsByName = func() map[string]*setting {
	m := make(map[string]*setting, len(settingsTable))
	for i := range settingsTable {
		m[settingsTable[i].name] = &settingsTable[i]
	}
	return m
}()

// nonSettingEnv are FLUXLIT_* variables that exist but are not settings: fluxlit sets the
// first three for its children, the next are read by the loader or the test suite, the last
// are the Python package's own switches (they reach a FluxLit app in the children).
var nonSettingEnv = []string{"FLUXLIT_INTERNAL_API_BASE", "FLUXLIT_API_PREFIX", "FLUXLIT_APP",
	"FLUXLIT_CONFIG", "FLUXLIT_REQUIRE_INTEGRATION", "FLUXLIT_TEST_PYTHON", "FLUXLIT_BIN",
	"FLUXLIT_STREAMLIT_ROOT",
	"FLUXLIT_STREAMLIT_UPSTREAM_FILE", "FLUXLIT_TESTS", "FLUXLIT_DISABLE_URL_SESSION",
	"FLUXLIT_FORCE_URL_SESSION_IN_TESTS", "FLUXLIT_ALLOW_UNIFIED_UVICORN_MULTIWORKER"}

// secretNames are environment names never passed to the Streamlit child, besides
// FLUXLIT_JWT_* and FLUXLIT_OIDC_* (see streamlitEnvDenied).
func isSecretSetting(name string) bool {
	s, ok := settingsByName[name]
	return ok && s.secret
}

// configError is a configuration mistake: where (file:line, env NAME, flag --x), which
// setting, and what is wrong. Its text is the one line fluxlit prints before exiting 2.
type configError struct {
	Where   string
	Setting string
	Msg     string
}

func (e *configError) Error() string {
	switch {
	case e.Where != "" && e.Setting != "":
		return e.Where + ": " + e.Setting + ": " + e.Msg
	case e.Where != "":
		return e.Where + ": " + e.Msg
	case e.Setting != "":
		return e.Setting + ": " + e.Msg
	}
	return e.Msg
}

// loadInput is everything a configuration is made from, so that loading is a pure function
// of its input and tests need no process state.
type loadInput struct {
	Flags      map[string]string // setting name -> value given on the command line
	Env        []string          // os.Environ() form
	WorkDir    string
	ConfigPath string // --config; FLUXLIT_CONFIG is read from Env
	Positional string // TARGET argument; a flag-level value for "target"
	// PositionalScript is the SCRIPT argument, a flag-level value for "streamlit_script".
	PositionalScript string
	Defaults         map[string]string // a command's own defaults (dev: debug on), below every source
	Code             map[string]string // settings a FluxLit app declares in code, in env syntax (fluxlitapp.go)
	CodeSource       string            // where Code came from, as config shows it ("app.py")
}

type rawValue struct {
	value  any    // string from flags/env, typed from TOML
	source string // for Sources and error positions
	where  string // error prefix: "fluxlit.toml:12", "env FLUXLIT_X", "flag --port"
}

// loadConfig resolves every setting by precedence flag > app code > environment > .env >
// project file (fluxlit.toml, else [tool.fluxlit] in pyproject.toml) > default, parses and
// validates it, and returns the Config or the first *configError.
func loadConfig(in loadInput) (*Config, error) {
	env := envMap(in.Env)
	raw := map[string]rawValue{}
	cfg := &Config{Sources: map[string]string{}, ProjectDir: in.WorkDir, PythonOnly: map[string]any{}, Shadowed: map[string]shadowedValue{}}

	for name, value := range in.Defaults {
		raw[name] = rawValue{value: value, source: "default", where: "default"}
	}
	file, err := readProjectFile(in, env, cfg)
	if err != nil {
		return nil, err
	}
	for name, rv := range file.values {
		raw[name] = rv
	}
	dotenv, err := readDotEnvFile(filepath.Join(in.WorkDir, ".env"), env)
	if err != nil {
		return nil, err
	}
	for _, b := range dotenv.bindings {
		applyEnvName(raw, cfg, b.Key, b.Value, fmt.Sprintf(".env:%d", b.Line), fmt.Sprintf(".env:%d: ", b.Line))
	}
	for _, w := range dotenv.skipped {
		cfg.Warnings = append(cfg.Warnings, configWarning{Code: "dotenv_line", Msg: w})
	}
	// Upper-case names last, so that FLUXLIT_DEBUG wins over a fluxlit_debug beside it.
	names := slices.Sorted(maps.Keys(env))
	slices.SortStableFunc(names, func(a, b string) int { return cmpBool(a == strings.ToUpper(a), b == strings.ToUpper(b)) })
	for _, name := range names {
		applyEnvName(raw, cfg, name, env[name], "env "+name, "")
	}
	sort.Strings(cfg.UnknownEnv)
	// Settings made in a FluxLit app's code beat the environment, as FluxlitSettings(...)
	// keyword arguments do in Python; they are parsed like environment values.
	for name, value := range in.Code {
		raw[name] = rawValue{value: value, source: in.CodeSource, where: in.CodeSource}
	}
	if _, set := raw["public_base_url"]; !set && env["PUBLIC_BASE_URL"] != "" {
		raw["public_base_url"] = rawValue{value: env["PUBLIC_BASE_URL"], source: "env PUBLIC_BASE_URL", where: "env PUBLIC_BASE_URL"}
	}
	if in.Positional != "" {
		raw["target"] = rawValue{value: in.Positional, source: "flag", where: "argument TARGET"}
	}
	if in.PositionalScript != "" {
		raw["streamlit_script"] = rawValue{value: in.PositionalScript, source: "flag", where: "argument SCRIPT"}
	}
	for name, value := range in.Flags {
		raw[name] = rawValue{value: value, source: "flag", where: "flag --" + flagNameFor(name)}
	}
	strict, err := resolveStrictConfig(raw)
	if err != nil {
		return nil, err
	}
	for _, u := range file.unknown {
		if strict {
			return nil, &configError{Where: u.where, Msg: unknownKeyMessage(u.key)}
		}
		cfg.Warnings = append(cfg.Warnings, configWarning{Code: "unknown_key",
			Msg: u.where + ": " + unknownKeyMessage(u.key) + " is ignored, as Python FluxLit ignored it (strict_config = true makes it an error)"})
	}
	if err := assignSettings(cfg, raw, strict); err != nil {
		return nil, err
	}
	noteShadowed(cfg, file.values, raw)
	if cfg.Python == "" {
		cfg.Python = defaultPython(env, cfg.ProjectDir)
		cfg.Sources["python"] = "default"
	}
	applyPythonSettings(cfg)
	if err := validateConfig(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// applyEnvName records one environment variable (from the process or .env) when it names a
// setting. Names are matched without regard to case, as pydantic-settings does
// (fluxlit_gateway_port works in Python FluxLit). unknownPrefix starts the unknown_env line.
func applyEnvName(raw map[string]rawValue, cfg *Config, name, value, source, unknownPrefix string) {
	if len(name) < len("FLUXLIT_") || !strings.EqualFold(name[:len("FLUXLIT_")], "FLUXLIT_") {
		return
	}
	upper := strings.ToUpper(name)
	sname := strings.ToLower(upper[len("FLUXLIT_"):])
	switch {
	case settingsByName[sname] != nil:
		raw[sname] = rawValue{value: value, source: source, where: source}
	case !slices.Contains(nonSettingEnv, upper) && !strings.HasPrefix(upper, "FLUXLIT_TEST_"):
		cfg.UnknownEnv = append(cfg.UnknownEnv, unknownPrefix+unknownEnvLine(name))
	}
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// resolveStrictConfig reads strict_config ahead of the other settings: it decides whether
// unknown keys and values Python FluxLit skipped are errors.
func resolveStrictConfig(raw map[string]rawValue) (bool, error) {
	rv, ok := raw["strict_config"]
	if !ok {
		return false, nil
	}
	v, err := parseSettingValue(settingsByName["strict_config"], rv.value)
	if err != nil {
		return false, &configError{Where: rv.where, Setting: "strict_config", Msg: err.Error()}
	}
	return v.(bool), nil
}

// noteShadowed records, for the three settings Python FluxLit 0.13 took from the project file
// before the environment, a file value that fluxlit's precedence (environment first) overrode.
func noteShadowed(cfg *Config, fileValues map[string]rawValue, raw map[string]rawValue) {
	for _, name := range []string{"gateway_host", "gateway_port", "log_level"} {
		fv, inFile := fileValues[name]
		win := raw[name]
		if !inFile || !(strings.HasPrefix(win.source, "env ") || strings.HasPrefix(win.source, ".env")) {
			continue
		}
		parsed, err := parseSettingValue(settingsByName[name], fv.value)
		if err != nil {
			continue
		}
		fileText, winText := fmt.Sprint(parsed), fmt.Sprint(settingFieldValue(cfg, name))
		if fileText != winText {
			cfg.Shadowed[name] = shadowedValue{FileValue: fileText, FileWhere: fv.where, Winner: win.source}
		}
	}
}

func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// defaultPython is the interpreter when python is not set: the active virtualenv's, else the
// project's own .venv (what "fluxlit new" tells users to create), else python3 on PATH.
// Finding .venv means the quick start needs no "source .venv/bin/activate", which would put
// the venv's bin first on PATH, where the Python FluxLit package installs a "fluxlit" command
// of its own that then runs instead of this binary.
func defaultPython(env map[string]string, projectDir string) string {
	if venv := env["VIRTUAL_ENV"]; venv != "" {
		return filepath.Join(venv, "bin", "python")
	}
	if py, err := filepath.Abs(filepath.Join(projectDir, ".venv", "bin", "python")); err == nil {
		if fi, err := os.Stat(py); err == nil && !fi.IsDir() {
			return py
		}
	}
	return "python3"
}

func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func unknownKeyMessage(key string) string {
	msg := fmt.Sprintf("unknown setting %q", key)
	if s := suggestSetting(key); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}

func unknownEnvLine(name string) string {
	line := name + " is not a fluxlit setting"
	if s := suggestSetting(strings.ToLower(strings.TrimPrefix(name, "FLUXLIT_"))); s != "" {
		line += " (did you mean FLUXLIT_" + strings.ToUpper(s) + "?)"
	}
	return line
}

// suggestSetting returns the setting closest to name by edit distance, when close enough to
// be a typo: at most a third of the name's length, and never more than 4 edits.
func suggestSetting(name string) string {
	best, bestDist := "", math.MaxInt
	for _, s := range settingsTable {
		if d := editDistance(name, s.name); d < bestDist {
			best, bestDist = s.name, d
		}
	}
	if bestDist <= min(4, max(1, len(name)/3)) {
		return best
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// assignSettings parses every setting (given or default) into its Config field, or into
// PythonOnly for the Python package's settings that have no field. A value Python FluxLit
// skipped in its project file (gateway_port = true) is skipped here too, with a warning,
// unless strict.
func assignSettings(cfg *Config, raw map[string]rawValue, strict bool) error {
	fields := settingFields(cfg)
	for i := range settingsTable {
		s := &settingsTable[i]
		rv, ok := raw[s.name]
		if !ok {
			rv = rawValue{value: s.def, source: "default", where: "default"}
		}
		if t, ok := rv.value.(tomlTyped); ok && t.lax && strict {
			rv.value = tomlTyped{v: t.v} // strict_config: the file's values must have their TOML type
		} else if ok && t.lax {
			// A value of the wrong type Python FluxLit skipped; a value out of range it
			// accepted (and then failed on), so that stays an error below.
			if _, err := convertTOMLValue(s, t); err != nil {
				cfg.Warnings = append(cfg.Warnings, configWarning{Code: "project_file_value_skipped",
					Msg: fmt.Sprintf("%s: %s: %v; the value is ignored, as Python FluxLit ignored it (strict_config = true makes it an error)", rv.where, s.name, err)})
				rv = rawValue{value: s.def, source: "default", where: "default"}
			}
		}
		parsed, err := parseSettingValue(s, rv.value)
		if err != nil {
			return &configError{Where: rv.where, Setting: s.name, Msg: err.Error()}
		}
		if f, ok := fields[s.name]; ok {
			setField(f, parsed)
		} else {
			cfg.PythonOnly[s.name] = parsed
		}
		cfg.Sources[s.name] = rv.source
	}
	return nil
}

// settingFields maps each setting name to its Config field.
func settingFields(cfg *Config) map[string]reflect.Value {
	v := reflect.ValueOf(cfg).Elem()
	t := v.Type()
	out := make(map[string]reflect.Value, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		if name := t.Field(i).Tag.Get("setting"); name != "" {
			out[name] = v.Field(i)
		}
	}
	return out
}

// settingFieldValue is a setting's effective value, whether it has a field or not.
func settingFieldValue(cfg *Config, name string) any {
	if f, ok := settingFields(cfg)[name]; ok {
		return f.Interface()
	}
	return cfg.PythonOnly[name]
}

func setField(f reflect.Value, parsed any) {
	switch x := parsed.(type) {
	case int64:
		f.SetInt(x)
	default:
		f.Set(reflect.ValueOf(parsed))
	}
}

// parseSettingValue turns a string (flag, env, default) or a TOML value into the setting's
// Go type: string, int64, float64, bool, []string or map[string]any. It accepts what Python
// FluxLit's settings accept ("8_000", "t", api_mount_path "api") and never guesses beyond
// that: a TOML string for a number is an error, as is "80a" in the environment.
func parseSettingValue(s *setting, value any) (any, error) {
	var out any
	var err error
	switch val := value.(type) {
	case tomlTyped:
		out, err = convertTOMLValue(s, val)
	case string:
		out, err = parseSettingString(s, val)
	default:
		return nil, fmt.Errorf("unsupported value %v", value)
	}
	if err != nil {
		return nil, err
	}
	if str, ok := out.(string); ok && s.norm != nil {
		out = s.norm(str)
	}
	return out, checkRange(s, out)
}

func parseSettingString(s *setting, val string) (any, error) {
	trimmed := strings.TrimSpace(val)
	switch s.kind {
	case kindString:
		return val, nil
	case kindInt:
		n, ok := parsePythonInt(trimmed)
		if !ok {
			return nil, fmt.Errorf("expected an integer, got %q", val)
		}
		return n, nil
	case kindFloat:
		f, err := strconv.ParseFloat(strings.ReplaceAll(trimmed, "_", ""), 64)
		if err == nil && math.IsInf(f, 1) && s.max == maxTimeoutS && s.min == 0 {
			return 0.0, nil // Python's float("inf") timeout: no timeout, which fluxlit spells 0
		}
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || strings.HasPrefix(trimmed, "_") {
			return nil, fmt.Errorf("expected a number of seconds, got %q", val)
		}
		return f, nil
	case kindBool:
		return parseBool(val)
	case kindDict:
		return parseDict(val)
	default:
		return parseList(val)
	}
}

// parsePythonInt reads an integer as pydantic does from a string: optional sign, digits with
// single underscores between them, and an integral ".0" fraction ("8000.0").
func parsePythonInt(s string) (int64, bool) {
	if whole, frac, ok := strings.Cut(s, "."); ok {
		if frac == "" || strings.Trim(frac, "0") != "" {
			return 0, false
		}
		s = whole
	}
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) > 1 || !tomlValidDigits(body, 10) {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
	return n, err == nil
}

// parseBool accepts pydantic's boolean words (any case) and on/off.
func parseBool(val string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(val)) {
	case "1", "true", "t", "yes", "y", "on":
		return true, nil
	case "0", "false", "f", "no", "n", "off":
		return false, nil
	}
	return false, fmt.Errorf("expected a boolean (1/0, true/false, yes/no, on/off), got %q", val)
}

// parseList reads a list from the environment: a JSON array of strings, or a
// comma-separated string (items trimmed, empty items dropped).
func parseList(val string) ([]string, error) {
	trimmed := strings.TrimSpace(val)
	if strings.HasPrefix(trimmed, "[") {
		var items []string
		if err := json.Unmarshal([]byte(trimmed), &items); err != nil {
			return nil, fmt.Errorf("expected a JSON array of strings, got %q", val)
		}
		return items, nil
	}
	items := []string{}
	for _, item := range strings.Split(trimmed, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items, nil
}

// parseDict reads a dict setting from the environment: a JSON object, as pydantic-settings
// requires. Empty means an empty object.
func parseDict(val string) (map[string]any, error) {
	trimmed := strings.TrimSpace(val)
	if trimmed == "" {
		return map[string]any{}, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(trimmed), &m); err != nil || m == nil {
		return nil, fmt.Errorf("expected a JSON object, got %q", val)
	}
	return m, nil
}

// normalizeMountPath is Python FluxLit's api_mount_path rule: trimmed, one leading slash, no
// trailing slash; empty means /api. validateConfig then checks what is left ("/" is refused).
func normalizeMountPath(p string) string {
	if strings.TrimSpace(p) == "" {
		return "/api"
	}
	if r := normalizeRootPath(p); r != "" {
		return r
	}
	return "/"
}

// normalizeRootPath is Python FluxLit's root mount rule: trimmed, one leading slash, no
// trailing slash, and "" (or "/") for none.
func normalizeRootPath(p string) string {
	p = strings.TrimSpace(p)
	if p == "" {
		return ""
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return strings.TrimRight(p, "/")
}

// tomlTyped marks a value that came from a project file: it keeps its TOML type, so a quoted
// "8000" for an integer setting is an error rather than a string parsed like the environment.
// lax marks the keys Python FluxLit read from the file itself, with its own leniency
// (gateway_port = "8000" is int("8000")).
type tomlTyped struct {
	v   any
	lax bool
}

func convertTOMLValue(s *setting, t tomlTyped) (any, error) {
	val := t.v
	switch s.kind {
	case kindString:
		if str, ok := val.(string); ok {
			return str, nil
		}
		if n, ok := val.(int64); ok && s.orInt {
			return strconv.FormatInt(n, 10), nil
		}
	case kindInt:
		switch n := val.(type) {
		case int64:
			return n, nil
		case string:
			if i, ok := parsePythonInt(strings.TrimSpace(n)); ok && t.lax && !strings.Contains(n, ".") {
				return i, nil // Python: int("8000")
			}
		case float64:
			if t.lax && n == math.Trunc(n) && math.Abs(n) < 1<<53 {
				return int64(n), nil // Python: int(8000.0)
			}
		}
	case kindFloat:
		switch n := val.(type) {
		case int64:
			return float64(n), nil
		case float64:
			if math.IsInf(n, 1) && s.max == maxTimeoutS && s.min == 0 {
				return 0.0, nil
			}
			if !math.IsNaN(n) && !math.IsInf(n, 0) {
				return n, nil
			}
		}
	case kindBool:
		if b, ok := val.(bool); ok {
			return b, nil
		}
	case kindDict:
		if m, ok := val.(map[string]any); ok {
			return m, nil
		}
	case kindList:
		if str, ok := val.(string); ok {
			return []string{str}, nil // one value for a list setting: jwt_audience = "api"
		}
		if arr, ok := val.([]any); ok {
			items := make([]string, 0, len(arr))
			for _, item := range arr {
				str, ok := item.(string)
				if !ok {
					return nil, fmt.Errorf("expected a list of strings, got an item %s", tomlDescribe(item))
				}
				items = append(items, str)
			}
			return items, nil
		}
	}
	return nil, fmt.Errorf("expected %s, got %s", s.kind, tomlDescribe(val))
}

func tomlDescribe(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case bool:
		return strconv.FormatBool(x)
	default:
		return fmt.Sprint(x)
	}
}

func checkRange(s *setting, v any) error {
	if s.min == 0 && s.max == 0 {
		return nil
	}
	var f float64
	switch x := v.(type) {
	case int64:
		f = float64(x)
	case float64:
		f = x
	default:
		return nil
	}
	if f < s.min || f > s.max {
		return fmt.Errorf("%v is out of range [%v, %v]", v, s.min, s.max)
	}
	return nil
}

// Durations derived from the seconds settings.
func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func (c *Config) clientHeaderTimeout() time.Duration { return seconds(c.ClientHeaderTimeoutS) }
func (c *Config) clientBodyTimeout() time.Duration   { return seconds(c.ClientBodyTimeoutS) }
func (c *Config) clientSendTimeout() time.Duration   { return seconds(c.ClientSendTimeoutS) }
func (c *Config) sendTimeout() time.Duration         { return seconds(c.SendTimeoutS) }
func (c *Config) bodyTimeout() time.Duration         { return seconds(c.BodyTimeoutS) }
func (c *Config) connectTimeout() time.Duration      { return seconds(c.ConnectTimeoutS) }
func (c *Config) readTimeout() time.Duration         { return seconds(c.ReadTimeoutS) }
func (c *Config) shutdownTimeout() time.Duration     { return seconds(c.ShutdownTimeoutS) }
func (c *Config) wsOpenTimeout() time.Duration       { return seconds(c.WSOpenTimeoutS) }

// deadlineAfter is the deadline d from now; a timeout of 0 (the setting's "none") is no deadline.
func deadlineAfter(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

// listenAddr is the public listener address.
func (c *Config) listenAddr() string {
	return net.JoinHostPort(c.GatewayHost, strconv.Itoa(c.GatewayPort))
}

// publicMount is the browser-visible prefix of the API: root_path + api_mount_path.
func (c *Config) publicAPIMount() string { return c.RootPath + c.APIMountPath }

// internalAPIBase is FLUXLIT_INTERNAL_API_BASE: the API mount over loopback, for children.
// An unspecified listen address (0.0.0.0, ::) is reached through 127.0.0.1.
func (c *Config) internalAPIBase(port int) string {
	host := c.GatewayHost
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + c.publicAPIMount()
}

// redactedSettings returns every setting's effective value, secrets replaced; an optional
// Python setting that was not given is nil (null in JSON), as Python FluxLit shows it.
func (c *Config) redactedSettings() map[string]any {
	out := map[string]any{}
	for _, s := range settingsTable {
		val := settingFieldValue(c, s.name)
		switch {
		case s.optional && c.Sources[s.name] == "default":
			val = nil
		case s.secret && val != "":
			val = "[REDACTED]"
		case s.name == "jwt_jwks_url" || s.name == "public_base_url" || strings.HasSuffix(s.name, "_upstream"):
			val = redactURLCredentials(fmt.Sprint(val))
		}
		out[s.name] = val
	}
	return out
}

// secretValues returns the values of the secret settings that are set: what a child's output
// relayed by fluxlit must never show (lineRedactor).
func (c *Config) secretValues() []string {
	var out []string
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if name := t.Field(i).Tag.Get("setting"); name != "" && isSecretSetting(name) {
			if s, ok := v.Field(i).Interface().(string); ok && s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func redactURLCredentials(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = url.User("[REDACTED]")
	return u.String()
}

// settingNames lists every setting in table order (for help and the doctor).
func settingNames() []string {
	names := make([]string, len(settingsTable))
	for i, s := range settingsTable {
		names[i] = s.name
	}
	return names
}
