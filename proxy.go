// proxy.go owns the request path: the routing table of DESIGN §5 (fluxlit's own paths, the API
// mount with its prefix stripped, the docs redirects, Streamlit for everything else), the
// httputil.ReverseProxy per upstream with its tuned Transport, header rewriting on each hop,
// and the errors fluxlit answers itself (413, 502, 503, 504).

package main

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Paths fluxlit answers itself, relative to root_path.
const (
	debugPath = "/__fluxlit/debug"
)

// upstream is one proxied service: the API or Streamlit.
type upstream struct {
	name      string // "api" or "streamlit": the dispatch label in logs and metrics
	target    *url.URL
	unixPath  string // set when the API listens on a Unix socket
	dialer    *net.Dialer
	transport *http.Transport
	proxy     *httputil.ReverseProxy
	// down reports whether the supervised child is not running (503 + Retry-After instead of
	// a dial that would fail). nil for external upstreams: fluxlit cannot know, it dials.
	down func() bool
}

// gateway is the public handler. It is built once from a Config and read-only afterwards,
// apart from counters and the tunnel set.
type gateway struct {
	cfg          *Config
	log          *slog.Logger
	api, ui      *upstream
	rootPath     string
	mount        string
	apiPrefix    string // root_path + api_mount_path, sent as X-Forwarded-Prefix and the API's root path
	trust        *ipAllowList
	forwardNames map[string]bool // extra header names the Streamlit hop may carry
	auth         *edgeAuth
	cors         *corsPolicy
	secHeaders   *securityHeaders
	limiter      *rateLimiter
	limitPaths   []string
	tunnels      *tunnelSet
	obs          *observer
	ready        *readiness
	maxBody      int64
	reqIDs       *requestIDSource
	listen       string               // the listener's address
	children     func() []childStatus // supervised children's status (nil when none)
}

// dispatch names used in logs, metrics and the debug ring.
const (
	dispatchAPI       = "api"
	dispatchStreamlit = "streamlit"
	dispatchFluxlit   = "fluxlit"
)

// Pool sizes. 256 idle connections per upstream covers the benchmark's 64 client connections
// several times over, so steady load never dials (a dial costs a handshake and leaves a
// TIME_WAIT socket behind); anchors.md §6 measured the default of 2 costing 40-55 % throughput.
const (
	maxIdleConnsPerUpstream = 256
	idleConnTimeout         = 90 * time.Second
	proxyBufferSize         = 32 << 10 // io.Copy's own size: big enough for 1 MiB bodies, small enough to pool
)

var proxyBufferPool = sync.Pool{New: func() any { b := make([]byte, proxyBufferSize); return &b }}

type bufferPool struct{}

func (bufferPool) Get() []byte  { return *(proxyBufferPool.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { proxyBufferPool.Put(&b) }

// newUpstream builds the upstream for rawURL ("http://host:port[/base]" or "unix:/path").
func newUpstream(name, rawURL string, cfg *Config, g *gateway) (*upstream, error) {
	up := &upstream{name: name}
	if p, ok := strings.CutPrefix(rawURL, "unix:"); ok {
		up.unixPath = p
		rawURL = "http://" + name + ".sock"
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	up.target = u
	up.dialer = upstreamDialer(cfg, up)
	up.transport = newUpstreamTransport(cfg, up)
	up.proxy = &httputil.ReverseProxy{
		Rewrite:      func(pr *httputil.ProxyRequest) { g.rewrite(up, pr) },
		Transport:    up.transport,
		BufferPool:   bufferPool{},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) { g.proxyError(w, r, up, err) },
		ModifyResponse: func(res *http.Response) error {
			g.decorateResponse(up, res)
			return nil
		},
		ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
	return up, nil
}

// upstreamDialer is the dialer of every connection to up. TCP keep-alive probes find a peer
// that vanished without a word (host down, link or NAT gone); a loopback peer cannot: when
// its process dies the kernel ends its connections. So connections to a loopback upstream
// set no keep-alive, which spares four setsockopt calls per dial (a WebSocket connect makes
// one dial; BENCHMARKS.md). Control turns TCP_INQ on where the socket loops use it (setInq).
func upstreamDialer(cfg *Config, up *upstream) *net.Dialer {
	keepAlive := 30 * time.Second
	if up.unixPath != "" || isLoopbackHost(up.target.Hostname()) {
		keepAlive = -1
	}
	return &net.Dialer{Timeout: cfg.connectTimeout(), KeepAlive: keepAlive, Control: upstreamDialControl}
}

func newUpstreamTransport(cfg *Config, up *upstream) *http.Transport {
	dialer := up.dialer
	dial := dialer.DialContext
	if unixPath := up.unixPath; unixPath != "" {
		dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", unixPath)
		}
	}
	return &http.Transport{
		Proxy:                 nil, // the upstreams are ours; HTTP_PROXY must not reroute them
		DialContext:           dial,
		MaxIdleConns:          4 * maxIdleConnsPerUpstream,
		MaxIdleConnsPerHost:   maxIdleConnsPerUpstream,
		IdleConnTimeout:       idleConnTimeout,
		ResponseHeaderTimeout: cfg.readTimeout(),
		TLSHandshakeTimeout:   cfg.connectTimeout(),
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // pass Content-Encoding through untouched
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:     false, // HTTP/1.1 keep-alive is faster on loopback and carries upgrades
		WriteBufferSize:       proxyBufferSize,
		ReadBufferSize:        proxyBufferSize,
	}
}

// route is the outcome of splitting a request path.
type route struct {
	dispatch string
	apiPath  string // path the API sees (prefix stripped), for dispatch "api"
	uiPath   string // path Streamlit sees (root_path kept), for dispatch "streamlit"
	local    string // the fluxlit path (relative to root_path) for dispatch "fluxlit"
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

// ServeHTTP is the whole request path.
func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := g.reqIDs.fromRequest(r.Header.Get("X-Request-Id"))
	rec := g.obs.begin(w, r, id, start)
	defer g.obs.end(rec)
	w = rec
	w.Header().Set("X-Request-Id", id)
	r.Header["X-Request-Id"] = []string{id}
	stripFluxlitHeaders(r.Header)

	rt := g.splitPath(r.URL.Path)
	rec.dispatch = rt.dispatch
	switch rt.dispatch {
	case dispatchFluxlit:
		g.serveLocal(w, r, rt.local, rec)
	case dispatchAPI:
		g.serveAPI(w, r, rt.apiPath, rec)
	default:
		g.serveStreamlit(w, r, rt.uiPath, rec)
	}
}

func (g *gateway) serveLocal(w http.ResponseWriter, r *http.Request, p string, rec *accessRecord) {
	switch {
	case p == debugPath:
		g.obs.serveDebug(w, r, g)
	case p == g.cfg.MetricsPath:
		g.obs.serveMetrics(w, r, g)
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		g.serveStreamlit(w, r, g.rootPath+p, rec)
	default:
		target := g.apiPrefix + strings.TrimSuffix(p, "/")
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", target)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusTemporaryRedirect)
	}
}

func (g *gateway) serveAPI(w http.ResponseWriter, r *http.Request, sub string, rec *accessRecord) {
	switch sub {
	case "/healthz":
		g.ready.serveHealthz(w, r)
		return
	case "/readyz":
		g.ready.serveReadyz(w, r)
		return
	}
	if g.cors != nil && g.cors.handlePreflight(w, r) {
		return
	}
	if g.auth != nil {
		claims, aerr := g.auth.authorize(r, sub)
		if aerr != nil {
			g.obs.jwtRejected(aerr.Reason())
			if challenge := aerr.WWWAuthenticate(); challenge != "" {
				w.Header().Set("WWW-Authenticate", challenge)
			}
			g.writeError(w, r, aerr.Status(), authErrorText(aerr.Status()), true)
			return
		}
		for k, v := range claims {
			r.Header[k] = v
		}
		rec.subject = claims.Get("X-Fluxlit-Sub")
	}
	if g.limiter != nil && g.rateLimited(w, r, rec) {
		return
	}
	if g.api == nil {
		g.writeError(w, r, http.StatusNotFound, "no API is configured (set api_upstream, target or api_command)", true)
		return
	}
	r.URL.Path, r.URL.RawPath = sub, ""
	g.forward(w, r, g.api, rec)
}

func authErrorText(status int) string {
	switch status {
	case http.StatusForbidden:
		return "insufficient scope"
	case http.StatusServiceUnavailable:
		return "authentication is unavailable: no verification key could be loaded"
	}
	return "invalid or missing bearer token"
}

func (g *gateway) serveStreamlit(w http.ResponseWriter, r *http.Request, p string, rec *accessRecord) {
	if g.ui == nil {
		g.writeError(w, r, http.StatusNotFound, "no Streamlit is configured (set streamlit_upstream or streamlit_script)", false)
		return
	}
	if g.limiter != nil && g.rateLimited(w, r, rec) {
		return
	}
	r.Header.Del("Authorization")
	r.Header.Del("Proxy-Authorization")
	r.URL.Path, r.URL.RawPath = p, ""
	g.forward(w, r, g.ui, rec)
}

// forward sends r to up: a WebSocket through the tunnel, anything else through the
// ReverseProxy. It answers 503 itself while a supervised child is down and 413 for a
// declared body over the limit, before any upstream connection is made.
func (g *gateway) forward(w http.ResponseWriter, r *http.Request, up *upstream, rec *accessRecord) {
	if up.down != nil && up.down() {
		w.Header().Set("Retry-After", "1")
		g.obs.upstreamError(up.name, "down")
		g.writeError(w, r, http.StatusServiceUnavailable, up.name+" is not running (restarting); retry shortly", up == g.api)
		return
	}
	if isWebSocketUpgrade(r) {
		rec.websocket = true
		g.serveWebSocket(w, r, up, rec)
		return
	}
	if g.maxBody > 0 && r.Body != nil && r.Body != http.NoBody {
		if r.ContentLength > g.maxBody {
			g.bodyTooLarge(w, r, up)
			return
		}
		r.Body = &limitedBody{rc: r.Body, left: g.maxBody}
	}
	rec.upstreamStart = time.Now()
	up.proxy.ServeHTTP(w, r)
}

// rewrite builds the outbound request (httputil calls it with the client's headers cloned
// and X-Forwarded-*/Forwarded already removed).
func (g *gateway) rewrite(up *upstream, pr *httputil.ProxyRequest) {
	pr.Out.URL.Scheme = up.target.Scheme
	pr.Out.URL.Host = up.target.Host
	pr.Out.URL.Path = up.target.Path + pr.In.URL.Path
	pr.Out.URL.RawPath = ""
	pr.Out.URL.RawQuery = pr.In.URL.RawQuery
	g.setForwarded(pr.In, pr.Out.Header, up)
	if up == g.ui {
		pr.Out.Host = pr.In.Host // Streamlit compares Origin with Host: keep the browser's
		g.filterStreamlitHeaders(pr.Out.Header)
	} else {
		pr.Out.Host = up.target.Host
	}
}

// setForwarded writes X-Forwarded-For/Host/Proto/Prefix. A trusted peer's values are
// believed and extended; every inbound forwarding header (including the underscore spellings
// some servers fold into the dashed ones) is removed first, so nobody else's survive.
func (g *gateway) setForwarded(in *http.Request, out http.Header, up *upstream) {
	fi := g.forwardedInfo(in)
	fwdStripInbound(out)
	if fi.XFF != "" {
		out["X-Forwarded-For"] = []string{fi.XFF}
	}
	out["X-Forwarded-Host"] = []string{fi.Host}
	out["X-Forwarded-Proto"] = []string{fi.Proto}
	// root_path, when set, is the whole public prefix; a trusted proxy's X-Forwarded-Prefix
	// only adds one when fluxlit has none of its own (the proxy strips a prefix it knows).
	outer := g.rootPath
	if outer == "" {
		outer = fi.Prefix
	}
	prefix := outer
	if up == g.api {
		prefix = outer + g.mount
	}
	if prefix != "" {
		out["X-Forwarded-Prefix"] = []string{prefix}
	}
}

// forwardedInfo is what fluxlit believes about the original request; with trust off (nil
// list) that is the connection as it arrived.
func (g *gateway) forwardedInfo(r *http.Request) forwardedInfo {
	return resolveForwarded(r, g.trust)
}

// streamlitSessionHeaders are what a browser session with Streamlit needs: content
// negotiation, caching, cookies (XSRF and auth), the WebSocket handshake and XSRF token,
// uploads and media ranges. With gateway_forward_client_headers_to_streamlit set, the
// Streamlit hop carries only these, the allow-listed names and fluxlit's own.
var streamlitSessionHeaders = map[string]bool{
	"Accept": true, "Accept-Encoding": true, "Accept-Language": true, "Cache-Control": true,
	"Content-Type": true, "Content-Length": true, "Cookie": true, "If-None-Match": true,
	"If-Modified-Since": true, "If-Range": true, "Range": true, "Origin": true, "Pragma": true,
	"Referer": true, "User-Agent": true, "X-Xsrftoken": true, "Sec-Websocket-Key": true,
	"Sec-Websocket-Version": true, "Sec-Websocket-Protocol": true, "Sec-Websocket-Extensions": true,
	"Upgrade": true, "Connection": true, "Te": true, "X-Request-Id": true, "X-Forwarded-For": true,
	"X-Forwarded-Host": true, "X-Forwarded-Proto": true, "X-Forwarded-Prefix": true,
	"Sec-Fetch-Dest": true, "Sec-Fetch-Mode": true, "Sec-Fetch-Site": true,
}

func (g *gateway) filterStreamlitHeaders(h http.Header) {
	h.Del("Authorization")
	h.Del("Proxy-Authorization")
	if len(g.forwardNames) == 0 {
		return
	}
	for k := range h {
		if !streamlitSessionHeaders[k] && !g.forwardNames[strings.ToLower(k)] {
			delete(h, k)
		}
	}
}

// decorateResponse adds fluxlit's response headers to an upstream response.
func (g *gateway) decorateResponse(up *upstream, res *http.Response) {
	if g.secHeaders != nil {
		g.secHeaders.apply(res.Header, g.forwardedInfo(res.Request).Proto == "https")
	}
	if g.cors != nil && up == g.api {
		if origin := res.Request.Header.Get("Origin"); origin != "" {
			g.cors.decorate(res.Header, origin)
		}
	}
	res.Header.Del("X-Request-Id") // ours is already set on the response
}

// proxyError maps a failed upstream exchange to fluxlit's own answer.
func (g *gateway) proxyError(w http.ResponseWriter, r *http.Request, up *upstream, err error) {
	rec, _ := w.(*accessRecord)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge) || errors.Is(err, errBodyTooLarge):
		g.bodyTooLarge(w, r, up)
	case r.Context().Err() != nil:
		// The client went away: nobody reads an answer, and it is not the upstream's fault.
		g.obs.upstreamError(up.name, "canceled")
		if rec != nil {
			rec.status = 499
		}
	case isTimeout(err):
		g.obs.upstreamError(up.name, "timeout")
		g.log.Warn("upstream timeout", "request_id", r.Header.Get("X-Request-Id"), "upstream", up.name, "error", err.Error())
		g.writeError(w, r, http.StatusGatewayTimeout, up.name+" did not answer within gateway_upstream_read_timeout_s", up == g.api)
	default:
		g.obs.upstreamError(up.name, "refused")
		g.log.Warn("upstream unreachable", "request_id", r.Header.Get("X-Request-Id"), "upstream", up.name, "error", err.Error())
		g.writeError(w, r, http.StatusBadGateway, up.name+" upstream is unreachable", up == g.api)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func (g *gateway) bodyTooLarge(w http.ResponseWriter, r *http.Request, up *upstream) {
	g.obs.upstreamError(up.name, "body_too_large")
	w.Header().Set("Connection", "close") // the rest of the body is not read
	g.writeError(w, r, http.StatusRequestEntityTooLarge,
		"request body exceeds gateway_max_proxy_request_body_bytes ("+strconv.FormatInt(g.maxBody, 10)+")", up == g.api)
}

// writeError answers with one short line and the request id: JSON under the API mount,
// plain text elsewhere.
func (g *gateway) writeError(w http.ResponseWriter, r *http.Request, status int, msg string, asJSON bool) {
	id := w.Header().Get("X-Request-Id")
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	contentType, body := proxyErrorBody(msg, id, asJSON)
	h.Set("Content-Type", contentType)
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// proxyErrorBody is the Content-Type and body of fluxlit's own error answers, shared by
// writeError and the fast path's fastWriteError so that both answer alike.
func proxyErrorBody(msg, id string, asJSON bool) (contentType, body string) {
	if asJSON {
		return "application/json", `{"error":` + strconv.Quote(msg) + `,"request_id":` + strconv.Quote(id) + "}\n"
	}
	return "text/plain; charset=utf-8", "fluxlit: " + msg + " (request id " + id + ")\n"
}

// limitedBody counts a request body against gateway_max_proxy_request_body_bytes. Past the
// limit it fails the read, so the transport aborts the upstream request before its end: the
// upstream never sees a complete request.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

var errBodyTooLarge = errors.New("fluxlit: request body exceeds gateway_max_proxy_request_body_bytes")

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, errBodyTooLarge
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

func (g *gateway) rateLimited(w http.ResponseWriter, r *http.Request, rec *accessRecord) bool {
	p := r.URL.Path
	limited := false
	for _, prefix := range g.limitPaths {
		if pathUnder(p, prefix) || (prefix == "/" && p != "") {
			limited = true
			break
		}
	}
	if !limited {
		return false
	}
	key := rec.subject // a verified JWT subject is a better identity than an address
	if key == "" {
		key = g.forwardedInfo(r).ClientIP.String()
	} else {
		key = "sub:" + key
	}
	if ok, wait := g.limiter.allow(key, time.Now()); !ok {
		secs := int64((wait + time.Second - 1) / time.Second)
		if secs < 1 {
			secs = 1
		}
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		g.obs.rateLimited()
		g.writeError(w, r, http.StatusTooManyRequests, "rate limit exceeded", rec.dispatch == dispatchAPI)
		return true
	}
	return false
}
