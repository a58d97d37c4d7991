// validate.go owns the checks that single values cannot make: mount paths, URLs, header
// names, reserved Streamlit flags and how settings combine. Its errors are configErrors that
// name the setting and where its value came from; its warnings go to Config.Warnings.

package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// validateConfig checks what single values cannot: paths, URLs and how settings combine.
// Its errors name the setting and where its value came from.
func validateConfig(c *Config) error {
	bad := func(name, msg string) error {
		return &configError{Where: whereOf(c, name), Setting: name, Msg: msg}
	}
	for _, p := range []struct{ name, val string }{{"api_mount_path", c.APIMountPath}, {"gateway_prometheus_metrics_path", c.MetricsPath}} {
		if err := checkMountPath(p.val, false); err != nil {
			return bad(p.name, err.Error())
		}
	}
	if err := checkMountPath(c.RootPath, true); err != nil {
		return bad("root_path", err.Error())
	}
	if c.RootPath != "" && (pathUnder(c.APIMountPath, c.RootPath) || pathUnder(c.RootPath, c.APIMountPath)) {
		return bad("root_path", fmt.Sprintf("%q collides with api_mount_path %q (api_mount_path is relative to root_path: use \"/api\")", c.RootPath, c.APIMountPath))
	}
	if c.APIHealthPath != "" && !strings.HasPrefix(c.APIHealthPath, "/") {
		return bad("api_health_path", fmt.Sprintf("%q must start with /", c.APIHealthPath))
	}
	for _, u := range []struct{ name, val string }{{"api_upstream", c.APIUpstream}, {"streamlit_upstream", c.StreamlitUpstream}} {
		if err := checkUpstreamURL(u.val, u.name == "api_upstream"); err != nil {
			return bad(u.name, err.Error())
		}
	}
	if u, err := url.Parse(c.StreamlitUpstream); err == nil && strings.Trim(u.Path, "/") != "" {
		return bad("streamlit_upstream", fmt.Sprintf("%q: give the origin only (http://host:port); Streamlit's base path comes from root_path", c.StreamlitUpstream))
	}
	if c.PublicBaseURL != "" {
		if err := checkHTTPURL(c.PublicBaseURL); err != nil {
			return bad("public_base_url", err.Error())
		}
	}
	if c.JWTJWKSURL != "" {
		if err := checkHTTPURL(c.JWTJWKSURL); err != nil {
			return bad("jwt_jwks_url", err.Error())
		}
	}
	if c.GatewayHost == "" || strings.ContainsAny(c.GatewayHost, " /") {
		return bad("gateway_host", fmt.Sprintf("%q is not a host name or IP address", c.GatewayHost))
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			return bad("metrics_listen", fmt.Sprintf("%q is not host:port", c.MetricsListen))
		}
	}
	if err := oneOf(c.LogLevel, logLevels...); err != nil {
		return bad("log_level", err.Error())
	}
	if err := oneOf(c.LogFormat, "auto", "text", "json"); err != nil {
		return bad("log_format", err.Error())
	}
	if err := oneOf(c.APIChildTransport, "unix", "tcp"); err != nil {
		return bad("api_child_transport", err.Error())
	}
	if err := oneOf(c.ReloadScope, "gateway", "full"); err != nil {
		return bad("reload_scope", err.Error())
	}
	if err := checkStreamlitArgs(c.StreamlitRunCLIArgs); err != nil {
		return bad("streamlit_run_cli_args", err.Error())
	}
	if err := checkReplicas(c); err != nil {
		return err
	}
	if len(c.APICommand) == 0 && c.APIUpstream == "" && !strings.Contains(c.Target, ":") {
		return bad("target", fmt.Sprintf("%q is not module:attribute (for example app:app)", c.Target))
	}
	if c.TrustProxy || len(c.ForwardedAllowIPs) > 0 {
		if _, err := parseAllowIPs(c.ForwardedAllowIPs); err != nil {
			return &configError{Where: whereOf(c, "forwarded_allow_ips"), Msg: err.Error()}
		}
	}
	if _, rejected, err := splitForwardHeaders(c.ForwardClientHeaders); err != nil {
		return bad("gateway_forward_client_headers_to_streamlit", err.Error())
	} else if len(rejected) > 0 {
		c.Warnings = append(c.Warnings, configWarning{Code: "gateway_forward_blocked_names",
			Msg: fmt.Sprintf("gateway_forward_client_headers_to_streamlit: %s are never forwarded to Streamlit (gateway_forward_rejected_names)", strings.Join(rejected, ", "))})
	}
	if len(c.JWTProtect) > 0 && len(edgeKeySettings(c)) == 0 {
		return bad("jwt_protect", "edge JWT needs a key: set jwt_hs256_secret, jwt_hs_secret_file, jwt_public_key_file, jwt_jwks_file or jwt_jwks_url")
	}
	if c.CORSAllowCredentials && slices.Contains(c.CORSAllowOrigins, "*") {
		return bad("cors_allow_origins", `"*" cannot be combined with cors_allow_credentials`)
	}
	if c.Debug && !isLoopbackHost(c.GatewayHost) {
		c.Warnings = append(c.Warnings, configWarning{Code: "debug_exposure",
			Msg: fmt.Sprintf("debug is on while gateway_host %s is not loopback: /__fluxlit/debug answers loopback clients only unless debug_allow_remote is set", c.GatewayHost)})
	}
	if c.Debug && debugPathShadowed(c.APIMountPath) {
		c.Warnings = append(c.Warnings, configWarning{Code: "debug_route_shadowed",
			Msg: fmt.Sprintf("api_mount_path %s covers /__fluxlit/debug: the debug route is disabled", c.APIMountPath)})
	}
	if c.Metrics && c.MetricsListen == "" && pathUnder(c.MetricsPath, c.APIMountPath) {
		c.Warnings = append(c.Warnings, configWarning{Code: "metrics_route_shadowed",
			Msg: fmt.Sprintf("gateway_prometheus_metrics_path %s is under api_mount_path %s: metrics are disabled", c.MetricsPath, c.APIMountPath)})
	}
	if c.StrictStartup {
		if err := strictStartupCheck(c); err != nil {
			return err
		}
	}
	return nil
}

// logLevels are uvicorn's levels (Python FluxLit passes log_level to uvicorn) plus "warn".
var logLevels = []string{"trace", "debug", "info", "warning", "warn", "error", "critical"}

// strictStartupCheck is Python FluxLit's strict_startup: the combinations doctor --strict
// fails refuse to start, so a production deployment cannot drift into them.
func strictStartupCheck(c *Config) error {
	bad := func(name, msg string) error {
		return &configError{Where: whereOf(c, "strict_startup"), Setting: "strict_startup", Msg: msg + " (" + name + ")"}
	}
	if c.TrustProxy {
		if len(c.ForwardedAllowIPs) == 0 || slices.Contains(c.ForwardedAllowIPs, "*") {
			return bad("forwarded_allow_ips", "set forwarded_allow_ips to your proxy's addresses (not empty, not \"*\") when trust_proxy is on")
		}
		if c.MaxBodyBytes == 0 {
			return bad("gateway_max_proxy_body", "set gateway_max_proxy_request_body_bytes when trust_proxy is on (unlimited bodies are refused)")
		}
	}
	if c.RootPath != "" && c.PublicBaseURL == "" {
		return bad("oauth_public_base_url", "set public_base_url when using a subpath (root_path)")
	}
	if c.RootPath != "" && !c.TrustProxy {
		return bad("proxy_headers", "turn on trust_proxy (--proxy-headers) when using a subpath behind a reverse proxy")
	}
	if _, rejected, _ := splitForwardHeaders(c.ForwardClientHeaders); len(rejected) > 0 {
		return bad("gateway_forward_rejected_names", "remove the rejected names "+strings.Join(rejected, ", ")+" from gateway_forward_client_headers_to_streamlit")
	}
	if u, err := url.Parse(c.PublicBaseURL); err == nil && c.PublicBaseURL != "" {
		if p := strings.TrimSuffix(u.Path, "/"); c.RootPath != "" && p != "" && p != c.RootPath {
			return bad("public_base_url", fmt.Sprintf("the path of public_base_url %q does not match root_path %q", p, c.RootPath))
		}
	}
	return nil
}

func whereOf(c *Config, name string) string {
	if src := c.Sources[name]; src != "" && src != "flag" {
		return src
	}
	if c.Sources[name] == "flag" {
		return "flag --" + flagNameFor(name)
	}
	return ""
}

func oneOf(v string, allowed ...string) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
}

// checkMountPath accepts "/x" and "/x/y": a leading slash, no trailing one, no empty,
// "." or ".." segments, and only characters that need no escaping in a URL path.
func checkMountPath(p string, emptyOK bool) error {
	if p == "" {
		if emptyOK {
			return nil
		}
		return errors.New("must not be empty (use /api)")
	}
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("%q must start with /", p)
	}
	if p == "/" || strings.HasSuffix(p, "/") {
		return fmt.Errorf("%q must not end with /", p)
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%q has an empty, \".\" or \"..\" segment", p)
		}
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/-._~", r)) {
			return fmt.Errorf("%q may contain only letters, digits and / - . _ ~", p)
		}
	}
	return nil
}

// pathUnder reports whether p is base or lies below it.
func pathUnder(p, base string) bool {
	return p == base || strings.HasPrefix(p, base+"/")
}

func debugPathShadowed(mount string) bool {
	return pathUnder(debugPath, mount)
}

func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must not carry credentials, a query or a fragment", raw)
	}
	return nil
}

// checkUpstreamURL accepts http(s)://host:port[/base] and, for the API, unix:/path.sock.
func checkUpstreamURL(raw string, unixOK bool) error {
	if raw == "" {
		return nil
	}
	if p, ok := strings.CutPrefix(raw, "unix:"); ok && unixOK {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("%q: the socket path must be absolute (unix:/run/api.sock)", raw)
		}
		return nil
	}
	return checkHTTPURL(raw)
}

// isLoopbackHost reports whether host is "localhost" (in any case) or a loopback address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// reservedStreamlitFlags are fluxlit's: it picks the port and address, and derives the base
// path from root_path; a user value would silently break routing.
var reservedStreamlitFlags = []string{"--server.port", "--server.address", "--server.baseUrlPath"}

func checkStreamlitArgs(args []string) error {
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		if slices.Contains(reservedStreamlitFlags, name) {
			return fmt.Errorf("%s is set by fluxlit (port and address are private, the base path comes from root_path)", name)
		}
	}
	return nil
}

// forwardHeaderBlocklist: credentials, framing and forwarding headers that the allow-list may
// never carry to Streamlit (the Python package's list, plus x-request-id which fluxlit owns).
var forwardHeaderBlocklist = []string{"authorization", "cookie", "set-cookie", "proxy-authorization",
	"host", "connection", "content-length", "transfer-encoding", "te", "upgrade", "keep-alive",
	"proxy-connection", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto",
	"x-forwarded-port", "x-forwarded-prefix", "forwarded", "x-request-id"}

// maxForwardHeaders mirrors the Python package's cap: the list is meant for a handful of
// app headers, and a long list is a sign of forwarding everything by mistake.
const maxForwardHeaders = 32

// splitForwardHeaders validates gateway_forward_client_headers_to_streamlit: names are
// lower-cased and must be 1-64 of [a-z0-9-]; blocklisted names are returned as rejected.
func splitForwardHeaders(names []string) (allowed, rejected []string, err error) {
	if len(names) > maxForwardHeaders {
		return nil, nil, fmt.Errorf("%d names; at most %d", len(names), maxForwardHeaders)
	}
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if !validHeaderName(n) {
			return nil, nil, fmt.Errorf("%q is not a header name ([a-z0-9-], at most 64)", n)
		}
		if slices.Contains(forwardHeaderBlocklist, n) || strings.HasPrefix(n, "x-fluxlit-") {
			rejected = append(rejected, n)
		} else if !slices.Contains(allowed, n) {
			allowed = append(allowed, n)
		}
	}
	sort.Strings(allowed)
	sort.Strings(rejected)
	return allowed, rejected, nil
}

func validHeaderName(n string) bool {
	if n == "" || len(n) > 64 || n[0] == '-' {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// checkReplicas checks streamlit_replicas and api_workers: a count of children only fluxlit's
// own children can have.
func checkReplicas(c *Config) error {
	bad := func(name, msg string) error {
		return &configError{Where: whereOf(c, name), Setting: name, Msg: msg}
	}
	if c.StreamlitReplicas != "auto" {
		n, err := strconv.Atoi(strings.TrimSpace(c.StreamlitReplicas))
		if err != nil || n < 1 || n > maxStreamlitReplicas {
			return bad("streamlit_replicas", fmt.Sprintf("expected auto or a number from 1 to %d, got %q", maxStreamlitReplicas, c.StreamlitReplicas))
		}
		c.StreamlitReplicas = strconv.Itoa(n)
	}
	if c.StreamlitReplicas != "1" && c.StreamlitUpstream != "" {
		return bad("streamlit_replicas", "streamlit_upstream is set, so fluxlit runs no Streamlit child to replicate (unset one of them)")
	}
	if c.APIWorkers > 1 && c.APIUpstream != "" {
		return bad("api_workers", "api_upstream is set, so fluxlit runs no API child (unset one of them)")
	}
	if c.APIWorkers > 1 && len(c.APICommand) > 0 {
		return bad("api_workers", "api_command replaces the uvicorn command: give the worker count in it (uvicorn --workers N)")
	}
	return nil
}
