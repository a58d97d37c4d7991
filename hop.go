// hop.go owns the request policy both HTTP engines follow (DESIGN §5): where a request goes and
// which edge steps it needs (its plan), which client headers go upstream and which upstream
// headers come back, the forwarding headers fluxlit sets, and fluxlit's answer to a failed
// upstream exchange. The net/http engine (proxy.go, websocket.go) runs every step; the fast
// engine (fastpath*.go) serves a request only when its plan holds nothing but the steps it
// runs itself (fastEngineSteps) and hands every other request to net/http, so an edge feature
// added here as a step cannot be skipped by either.

package main

import (
	"errors"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"syscall"
)

// hopStep is one thing the edge does for a request. A plan is a set of them; the net/http
// engine runs them in the order of their values (netStepRunners in proxy.go).
type hopStep uint16

const (
	stepLocal        hopStep = 1 << iota // fluxlit answers: the debug page, metrics, a docs redirect
	stepHealth                           // <mount>/healthz or <mount>/readyz
	stepCORS                             // an API request with Origin under a CORS policy: preflight answered, response decorated
	stepJWT                              // a protected API path: the bearer token is verified
	stepRateLimit                        // a rate-limited path
	stepNoUpstream                       // nothing is configured for the route: 404
	stepChildDown                        // the supervised child is restarting: 503 + Retry-After
	stepBodyTooLarge                     // a declared body over the limit: 413 before any upstream connection
	stepBodyCount                        // a body of unknown length, counted against the limit as it is sent
	stepStripUpgrade                     // an Upgrade that is not a WebSocket handshake: dropped, served as plain HTTP
	stepAffinity                         // a session placed on a Streamlit replica: the answer sets the cookie that keeps it there
	stepTunnel                           // a WebSocket handshake: relayed, then tunnelled
	stepProxy                            // proxied to the upstream
	stepEnd                              // not a step: one past the last
)

// fastEngineSteps are the steps the fast engine runs itself (fastpath.go): a plan with any
// other step is handed to net/http, so a step added here is run by the net/http engine until
// the fast engine learns it.
const fastEngineSteps = stepProxy | stepTunnel

// hopStepNames name the steps in tests and errors.
var hopStepNames = map[hopStep]string{
	stepLocal: "local", stepHealth: "health", stepCORS: "cors", stepJWT: "jwt", stepRateLimit: "rate_limit",
	stepNoUpstream: "no_upstream", stepChildDown: "child_down", stepBodyTooLarge: "body_too_large",
	stepBodyCount: "body_count", stepStripUpgrade: "strip_upgrade", stepAffinity: "affinity", stepTunnel: "tunnel", stepProxy: "proxy",
}

// hopUpgrade is what a request asked to switch to.
type hopUpgrade uint8

const (
	upgradeNone      hopUpgrade = iota
	upgradeWebSocket            // a WebSocket handshake: Connection names upgrade, Upgrade names websocket
	upgradeOther                // any other Upgrade or Connection: upgrade (h2c, TLS, …): never tunnelled
)

// hopRequest is what a plan is made from, as either engine parsed the request.
type hopRequest struct {
	method    string
	path      string // the path as routed (decoded)
	hasOrigin bool
	// bodyLength is the declared body length: 0 without a body, -1 for one of unknown length.
	bodyLength int64
	upgrade    hopUpgrade
	affinity   []byte // the value of fluxlit's affinity cookie (replicas.go), nil without one
}

// hopPlan is the outcome: the route, its upstream (nil when fluxlit answers) and the steps.
type hopPlan struct {
	route
	up    *upstream
	rep   *replica // the Streamlit replica up belongs to (nil for the API)
	steps hopStep
}

// plan decides what the edge does with a request. Each engine calls it once per request.
func (g *gateway) plan(req *hopRequest) hopPlan {
	rt := g.splitPath(req.path)
	p := hopPlan{route: rt}
	switch rt.dispatch {
	case dispatchFluxlit:
		if rt.local == debugPath || rt.local == g.cfg.MetricsPath || req.method == http.MethodGet || req.method == http.MethodHead {
			p.steps = stepLocal
			return p
		}
		// Only GET and HEAD are redirected to the API's docs; anything else is Streamlit's.
		p.route = route{dispatch: dispatchStreamlit, uiPath: g.rootPath + rt.local}
		g.planReplica(&p, req)
	case dispatchAPI:
		if rt.apiPath == "/healthz" || rt.apiPath == "/readyz" {
			p.steps = stepHealth
			return p
		}
		p.up = g.gens.api()
		if g.cors != nil && req.hasOrigin {
			p.steps |= stepCORS
		}
		if g.auth != nil && g.auth.protected(rt.apiPath) {
			p.steps |= stepJWT
		}
	default:
		g.planReplica(&p, req)
	}
	if g.limiter != nil && g.rateLimitedPath(req.path) {
		p.steps |= stepRateLimit
	}
	switch {
	case p.up == nil:
		p.steps |= stepNoUpstream
		return p
	case g.maxBody > 0 && req.bodyLength > g.maxBody:
		// Refused whatever the child's state: it can never succeed, and a 503 would invite the
		// client to send it again.
		p.steps |= stepBodyTooLarge
		return p
	case p.up.down != nil && p.up.down():
		p.steps |= stepChildDown
		return p
	}
	switch {
	case req.upgrade == upgradeWebSocket && req.method == http.MethodGet && req.bodyLength == 0:
		p.steps |= stepTunnel
		return p
	case req.upgrade != upgradeNone:
		p.steps |= stepStripUpgrade
	}
	if g.maxBody > 0 && req.bodyLength < 0 {
		p.steps |= stepBodyCount
	}
	p.steps |= stepProxy
	return p
}

// planReplica picks the Streamlit replica of the request (replicas.go); a session placed on
// one anew gets the affinity step.
func (g *gateway) planReplica(p *hopPlan, req *hopRequest) {
	rep, place := g.gens.pickStreamlit(req.affinity, req.upgrade == upgradeWebSocket)
	if rep == nil {
		return
	}
	p.up, p.rep = rep.up, rep
	if place {
		p.steps |= stepAffinity
	}
}

// rateLimitedPath reports whether rate_limit_paths covers the request path p.
func (g *gateway) rateLimitedPath(p string) bool {
	for _, prefix := range g.limitPaths {
		if pathUnder(p, prefix) || (prefix == "/" && p != "") {
			return true
		}
	}
	return false
}

// route is the outcome of splitting a request path.
type route struct {
	dispatch string
	apiPath  string // path the API sees (prefix stripped), for dispatch "api"
	uiPath   string // path Streamlit sees (root_path kept), for dispatch "streamlit"
	local    string // the fluxlit path (relative to root_path) for dispatch "fluxlit"
}

// upstreamPath is the path the upstream is sent (after its own base path).
func (rt *route) upstreamPath() string {
	if rt.dispatch == dispatchAPI {
		return rt.apiPath
	}
	return rt.uiPath
}

// splitPath decides where a path goes. Both proxy shapes are accepted, as in the Python
// package: an edge proxy that forwards "/ui/api/x" unchanged and one that strips "/ui" first.
// Streamlit always sees root_path in front, because its baseUrlPath equals root_path.
func (g *gateway) splitPath(p string) route {
	rel := p
	if g.rootPath != "" {
		if pathUnder(p, g.rootPath) {
			rel = p[len(g.rootPath):]
			if rel == "" {
				rel = "/"
			}
		} else {
			p = g.rootPath + p
		}
	}
	switch {
	case pathUnder(rel, g.mount):
		sub := rel[len(g.mount):]
		if sub == "" {
			sub = "/"
		}
		return route{dispatch: dispatchAPI, apiPath: sub}
	case rel == debugPath || (g.cfg.Metrics && g.cfg.MetricsListen == "" && rel == g.cfg.MetricsPath):
		return route{dispatch: dispatchFluxlit, local: rel}
	case rel == "/docs" || rel == "/docs/" || rel == "/redoc" || rel == "/redoc/" || rel == "/openapi.json":
		return route{dispatch: dispatchFluxlit, local: rel}
	}
	return route{dispatch: dispatchStreamlit, uiPath: p}
}

// hopRequestDrop are client headers that never go upstream as sent: hop-by-hop (RFC 9110
// §7.6.1, the list Go's ReverseProxy drops), the message's framing (each engine writes its
// own), and what fluxlit sets itself (Host, X-Request-Id).
var hopRequestDrop = [...]string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length", "Host", "X-Request-Id",
}

// hopKeepRequestHeader is the one rule for a client header: it goes upstream unless it is in
// hopRequestDrop, a forwarding header (fluxlit sets its own, trust.go), an X-Fluxlit-* header
// (fluxlit asserts the identity, auth.go), or, on the Streamlit hop, Authorization or a name
// outside the allow-list of gateway_forward_client_headers_to_streamlit. A header the
// request's Connection header names is hop-by-hop too; callers check that with
// hopConnectionNames, since only they know the request's Connection header.
func hopKeepRequestHeader[T ~string | ~[]byte](g *gateway, name T, toUI bool) bool {
	for _, h := range hopRequestDrop {
		if asciiEqualFold(name, h) {
			return false
		}
	}
	for _, m := range fwdManagedHeaders {
		if fwdSameHeaderName(name, m) {
			return false
		}
	}
	if asciiHasPrefixFold(name, "X-Fluxlit-") {
		return false
	}
	if !toUI {
		return true
	}
	if asciiEqualFold(name, "Authorization") {
		return false
	}
	if g.uiKeep == nil {
		return true
	}
	var buf [64]byte
	if len(name) > len(buf) {
		return false // no allow-listed name is this long
	}
	lower := buf[:len(name)]
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	return g.uiKeep[string(lower)]
}

// streamlitSessionHeaders are what a browser session with Streamlit needs: content
// negotiation, caching, cookies (XSRF and auth), the WebSocket handshake and XSRF token,
// uploads and media ranges. With gateway_forward_client_headers_to_streamlit set, the
// Streamlit hop carries only these and the allow-listed names of the client's headers.
var streamlitSessionHeaders = [...]string{
	"Accept", "Accept-Encoding", "Accept-Language", "Cache-Control", "Content-Type", "Cookie",
	"If-None-Match", "If-Modified-Since", "If-Range", "Range", "Origin", "Pragma", "Referer",
	"User-Agent", "X-Xsrftoken", "Sec-Websocket-Key", "Sec-Websocket-Version",
	"Sec-Websocket-Protocol", "Sec-Websocket-Extensions", "Sec-Fetch-Dest", "Sec-Fetch-Mode",
	"Sec-Fetch-Site",
}

// newUIKeep is the Streamlit hop's allow-list, lower-cased: the session headers and the
// configured names; nil (forward every header) when no names are configured.
func newUIKeep(names []string) map[string]bool {
	if len(names) == 0 {
		return nil
	}
	keep := map[string]bool{}
	for _, k := range streamlitSessionHeaders {
		keep[strings.ToLower(k)] = true
	}
	for _, k := range names {
		keep[strings.ToLower(k)] = true
	}
	return keep
}

// hopResponseDrop are upstream response headers that never reach the client as sent:
// hop-by-hop (RFC 9110 §7.6.1) and the upstream's X-Request-Id (fluxlit's is set). The
// framing (Content-Length, chunked) is each engine's to write from the framing it relays.
var hopResponseDrop = [...]string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade", "X-Request-Id",
}

// hopKeepResponseHeader is the one rule for a header of an upstream answer with status: it
// reaches the client unless it is in hopResponseDrop, named by the answer's Connection header
// (connection holds those names), or says what an answer without a body cannot: no
// Content-Length on 1xx, 204 and 304, no Content-Type on 304 (RFC 9110 §15.4.5; Go's server
// drops the same). Connection can never name away the framing: a Content-Length it names is
// still the length the engine relays.
func hopKeepResponseHeader[T ~string | ~[]byte](name T, status int, connection [][]byte) bool {
	for _, h := range hopResponseDrop {
		if asciiEqualFold(name, h) {
			return false
		}
	}
	switch {
	case asciiEqualFold(name, "Content-Length"):
		return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
	case asciiEqualFold(name, "Content-Type") && status == http.StatusNotModified:
		return false
	}
	return !hopNamed(connection, name)
}

// hopForwarded are the forwarding headers fluxlit sends upstream (the client's are dropped).
type hopForwarded struct {
	xff, host, proto, prefix, port string
}

// forwarded computes them from what fluxlit believes about the request (forwardedInfo).
// root_path, when set, is the whole public prefix; a trusted proxy's X-Forwarded-Prefix only
// counts when fluxlit has none of its own (the proxy strips a prefix it knows). The API is
// told its mount below that prefix.
func (g *gateway) forwarded(fi *forwardedInfo, up *upstream) hopForwarded {
	f := hopForwarded{xff: fi.XFF, host: fi.Host, proto: fi.Proto, prefix: g.rootPath, port: hostPort(fi.Host)}
	if g.rootPath == "" {
		f.prefix = fi.Prefix
	}
	if up.isAPI() {
		switch {
		case g.rootPath != "":
			f.prefix = g.apiPrefix
		case fi.Prefix == "":
			f.prefix = g.mount
		default:
			f.prefix = fi.Prefix + g.mount
		}
	}
	return f
}

// hostPort is the port of a Host value ("app.example:8443" -> "8443"; "[::1]:80" -> "80"),
// or "" when it names none: Python FluxLit's X-Forwarded-Port, sent only when the public
// Host carries a port.
func hostPort(host string) string {
	i := strings.LastIndexByte(host, ':')
	if i < 0 || strings.Contains(host[i:], "]") || i+1 == len(host) {
		return ""
	}
	for _, c := range host[i+1:] {
		if c < '0' || c > '9' {
			return ""
		}
	}
	return host[i+1:]
}

// hopFailure is fluxlit's own answer to an exchange that failed: the status, the reason
// counted in fluxlit_gateway_upstream_errors_total, the client's line and the log's.
type hopFailure struct {
	status      int
	reason      string
	msg, logMsg string
}

// statusClientGone is the access log's status for a request whose client went away before
// its answer (nginx's 499): nobody reads an answer, and it is not the upstream's fault.
const statusClientGone = 499

// upstreamFailure maps a failed exchange with up to fluxlit's answer by its cause, with
// nginx's statuses: 413 for a body that went over the limit while it was sent; 499 (no
// answer) when the client went away; 504 when the upstream did not accept the connection,
// take the request or answer in time (the setting that ran out is named); 502 when it refused
// the connection (a full socket backlog too), closed or reset it without an answer, answered
// something that is not HTTP/1.x, or could not be reached at all.
func (g *gateway) upstreamFailure(up *upstream, err error, clientGone bool) hopFailure {
	var tooLarge *http.MaxBytesError
	var op *net.OpError
	dial := errors.As(err, &op) && op.Op == "dial"
	refused := errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EAGAIN) // EAGAIN: a Unix socket's backlog is full
	switch {
	case errors.As(err, &tooLarge) || errors.Is(err, errBodyTooLarge):
		return hopFailure{status: http.StatusRequestEntityTooLarge, reason: "body_too_large",
			msg: "request body exceeds gateway_max_proxy_request_body_bytes (" + strconv.FormatInt(g.maxBody, 10) + ")"}
	case clientGone:
		return hopFailure{status: statusClientGone, reason: "canceled"}
	case dial && refused:
		return hopFailure{status: http.StatusBadGateway, reason: "refused",
			msg: up.name + " refused the connection", logMsg: "upstream refused the connection"}
	case dial && isTimeout(err):
		return hopFailure{status: http.StatusGatewayTimeout, reason: "timeout",
			msg: up.name + " did not accept a connection within gateway_upstream_connect_timeout_s", logMsg: "upstream connect timeout"}
	case dial:
		return hopFailure{status: http.StatusBadGateway, reason: "refused",
			msg: up.name + " upstream is unreachable", logMsg: "upstream unreachable"}
	case isTimeout(err) && fromWrite(err):
		return hopFailure{status: http.StatusGatewayTimeout, reason: "timeout",
			msg: up.name + " did not take the request within gateway_upstream_send_timeout_s", logMsg: "upstream send timeout"}
	case isTimeout(err):
		return hopFailure{status: http.StatusGatewayTimeout, reason: "timeout",
			msg: up.name + " did not answer within gateway_upstream_read_timeout_s", logMsg: "upstream timeout"}
	case malformedResponse(err):
		return hopFailure{status: http.StatusBadGateway, reason: "invalid",
			msg: up.name + " sent an invalid response", logMsg: "upstream sent an invalid response"}
	}
	return hopFailure{status: http.StatusBadGateway, reason: "reset",
		msg: up.name + " closed the connection without an answer", logMsg: "upstream closed the connection"}
}

// malformedResponse reports whether err says the upstream's answer was not HTTP/1.x: the
// fast engine's and the WebSocket handshake's errUpstreamMalformed, or Go's Transport's and
// ReverseProxy's errors for a bad status line, header, framing or size, or a 101 nobody asked
// for (they export no type for them).
func malformedResponse(err error) bool {
	if errors.Is(err, errUpstreamMalformed) {
		return true
	}
	var pe textproto.ProtocolError
	if errors.As(err, &pe) {
		return true
	}
	msg := err.Error()
	for _, s := range [...]string{"malformed HTTP", "unsupported transfer encoding", "bad Content-Length",
		"invalid Content-Length", "response headers exceeded", "tried to switch protocol"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// fromWrite reports whether err came from writing to a connection (net.Conn's own errors
// name the operation): in a copy, the destination's failure rather than the source's.
func fromWrite(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "write"
}

// upstreamBodyCut records a response body the upstream ended early, its head already relayed
// (silent for gateway_upstream_body_timeout_s, closed, or its framing broken): the client is
// left with an incomplete response, its connection closed. (A client that left or read
// nothing for gateway_client_send_timeout_s is its own business: its access line shows the
// bytes it got.)
func (g *gateway) upstreamBodyCut(rec *accessRecord, err error) {
	reason, msg := "reset", "upstream closed the connection in the middle of a response body; the response was cut"
	switch {
	case isTimeout(err):
		reason, msg = "timeout", "upstream silent for gateway_upstream_body_timeout_s in the middle of a response body; the response was cut"
	case malformedResponse(err):
		reason, msg = "invalid", "upstream broke the framing of a response body; the response was cut"
	}
	g.obs.upstreamError(rec.dispatch, reason)
	g.log.Warn(msg, "request_id", rec.id, "upstream", rec.dispatch, "error", err.Error())
}

// clientBodyFailure maps a request body that did not arrive whole to fluxlit's answer: 408
// for a client silent for gateway_client_body_timeout_s (nginx's answer), 500 for a body that
// could not be buffered, and 499 — no answer, for nobody reads it — for a client that left.
func clientBodyFailure(err error) hopFailure {
	switch {
	case errors.Is(err, errSpoolWrite):
		return hopFailure{status: http.StatusInternalServerError, msg: "could not buffer the request body"}
	case isTimeout(err):
		return hopFailure{status: http.StatusRequestTimeout, msg: "request body not received within gateway_client_body_timeout_s"}
	}
	return hopFailure{status: statusClientGone}
}

// asciiEqualFold compares two ASCII header names (strings or bytes), ignoring case.
func asciiEqualFold[A, B ~string | ~[]byte](a A, b B) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// asciiHasPrefixFold reports whether name starts with prefix, ignoring ASCII case.
func asciiHasPrefixFold[T ~string | ~[]byte](name T, prefix string) bool {
	return len(name) >= len(prefix) && asciiEqualFold(name[:len(prefix)], prefix)
}
