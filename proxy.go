// proxy.go owns the net/http engine, the design card's: the handler that runs each step of a
// request's plan (hop.go decides the plan, the header rules and the error mapping), the
// httputil.ReverseProxy per upstream with its tuned Transport, and the answers fluxlit writes
// itself (404, 413, 429, 502, 503, 504). Its WebSocket step is websocket.go's.

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
	"sync/atomic"
	"time"
)

// Paths fluxlit answers itself, relative to root_path.
const (
	debugPath = "/__fluxlit/debug"
)

// upstream is one proxied service: the API, or one Streamlit replica.
type upstream struct {
	name      string // "api" or "streamlit": the dispatch label in logs and metrics
	target    *url.URL
	unixPath  string // set when the API listens on a Unix socket
	dialer    *net.Dialer
	transport guardedTransport // every request through it reads its answer through guardConn
	proxy     *httputil.ReverseProxy
	fast      *fastPool // the fast engine's idle connections (nil: not plain HTTP)
	// down reports whether the supervised child is not running (503 + Retry-After instead of
	// a dial that would fail). nil for external upstreams: fluxlit cannot know, it dials.
	down  func() bool
	child *supervisedChild // the supervised child behind it, nil for an external upstream
	gen   *generation      // the generation it belongs to
	// inflight counts the HTTP exchanges in progress, so that a generation replaced by a
	// reload is stopped only once its answers are out. It has a cache line of its own: it
	// changes twice per request, while every core reads the fields above per request.
	_        [64]byte
	inflight atomic.Int64
	_        [56]byte
}

// isAPI reports whether up is the API (else a Streamlit replica).
func (up *upstream) isAPI() bool { return up.name == dispatchAPI }

// gateway is the public handler. It is built once from a Config and read-only afterwards,
// apart from counters and the tunnel set.
type gateway struct {
	cfg        *Config
	log        *slog.Logger
	gens       *generations // the children's upstreams, by generation (replicas.go)
	rootPath   string
	mount      string
	apiPrefix  string // root_path + api_mount_path, sent as X-Forwarded-Prefix and the API's root path
	trust      *ipAllowList
	uiKeep     map[string]bool // the Streamlit hop's header allow-list, lower-cased (nil: all)
	auth       *edgeAuth
	cors       *corsPolicy
	secHeaders *securityHeaders
	limiter    *rateLimiter
	limitPaths []string
	tunnels    *tunnelSet
	obs        *observer
	ready      *readiness
	maxBody    int64
	reqIDs     *requestIDSource
	spool      *bodySpooler         // request-body buffering (bodybuffer.go); nil when off
	listen     string               // the listener's address
	children   func() []childStatus // supervised children's status (nil when none)
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
	up.transport = guardedTransport{newUpstreamTransport(cfg, up)}
	if u.Scheme == "http" {
		up.fast = newFastPool(up, cfg)
	}
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

// newUpstreamTransport is the Transport of up's ReverseProxy. Its connections read answers
// through guardConn (wire.go), so the net/http engine refuses the answers the fast engine
// refuses; for an https upstream that means fluxlit makes the TLS connection itself.
func newUpstreamTransport(cfg *Config, up *upstream) *http.Transport {
	dialer := up.dialer
	dial := dialer.DialContext
	if unixPath := up.unixPath; unixPath != "" {
		dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", unixPath)
		}
	}
	if send := cfg.sendTimeout(); send > 0 {
		plainDial := dial
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := plainDial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &sendLimitedConn{Conn: c, wait: send}, nil
		}
	}
	guarded := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &guardConn{Conn: c}, nil
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: up.target.Hostname()}
	guardedTLS := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if d := cfg.connectTimeout(); d > 0 { // 0: no timeout
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		tc := tls.Client(c, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, err
		}
		return &guardConn{Conn: tc}, nil
	}
	return &http.Transport{
		Proxy:                 nil, // the upstreams are ours; HTTP_PROXY must not reroute them
		DialContext:           guarded,
		DialTLSContext:        guardedTLS,
		MaxIdleConns:          4 * maxIdleConnsPerUpstream,
		MaxIdleConnsPerHost:   maxIdleConnsPerUpstream,
		IdleConnTimeout:       idleConnTimeout,
		ResponseHeaderTimeout: cfg.readTimeout(),
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,  // pass Content-Encoding through untouched
		ForceAttemptHTTP2:     false, // HTTP/1.1 keep-alive is faster on loopback and carries upgrades
		WriteBufferSize:       proxyBufferSize,
		ReadBufferSize:        proxyBufferSize,
	}
}

// netExchange is one request on the net/http engine: its plan and what its steps learned,
// reachable from ReverseProxy's hooks (rewrite, decorateResponse, proxyError) through the
// request's context.
type netExchange struct {
	plan     hopPlan
	rec      *accessRecord
	fi       forwardedInfo // what fluxlit believes about the request (proxy trust)
	identity http.Header   // the verified JWT identity, set by the JWT step
	body     *idleBody     // the client's body under gateway_client_body_timeout_s; nil: no limit
}

type netExchangeKey struct{}

// exchangeOf returns r's exchange (nil for a request that did not come through ServeHTTP).
func exchangeOf(r *http.Request) *netExchange {
	x, _ := r.Context().Value(netExchangeKey{}).(*netExchange)
	return x
}

// netHopRequest is what the plan needs of r.
func (g *gateway) netHopRequest(r *http.Request) hopRequest {
	req := hopRequest{method: r.Method, path: r.URL.Path, hasOrigin: len(r.Header["Origin"]) > 0, bodyLength: r.ContentLength}
	if aff := g.gens.aff; aff != nil {
		for _, h := range r.Header["Cookie"] {
			if v, ok := cookieValue(h, aff.name); ok {
				req.affinity = []byte(v)
				break
			}
		}
	}
	if r.Body == nil || r.Body == http.NoBody {
		req.bodyLength = 0
	}
	switch {
	case isWebSocketUpgrade(r):
		req.upgrade = upgradeWebSocket
	case len(r.Header["Upgrade"]) > 0 || headerHasToken(r.Header["Connection"], "upgrade"):
		req.upgrade = upgradeOther
	}
	return req
}

// ServeHTTP is the net/http engine: it plans the request and runs each step of the plan.
func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := g.reqIDs.fromRequest(r.Header.Get("X-Request-Id"))
	req := g.netHopRequest(r)
	x := &netExchange{plan: g.plan(&req), fi: g.forwardedInfo(r)}
	x.rec = g.obs.begin(w, r, id, x.plan.dispatch, start)
	x.rec.rep = x.plan.rep
	defer g.obs.end(x.rec)
	x.rec.sendWait = g.cfg.clientSendTimeout()
	defer x.rec.disarmSend()
	x.rec.Header().Set("X-Request-Id", id)
	r = r.WithContext(context.WithValue(r.Context(), netExchangeKey{}, x))
	for step := hopStep(1); step < stepEnd; step <<= 1 {
		if x.plan.steps&step != 0 && netStepRunners[step](g, x.rec, r, x) {
			return
		}
	}
}

// netStepRunners run each hop step on the net/http engine; true: the step answered the
// request and the steps after it do not run.
var netStepRunners = map[hopStep]func(g *gateway, w http.ResponseWriter, r *http.Request, x *netExchange) bool{
	stepLocal:        (*gateway).serveLocal,
	stepHealth:       (*gateway).serveHealth,
	stepCORS:         (*gateway).servePreflight,
	stepJWT:          (*gateway).authorize,
	stepRateLimit:    (*gateway).rateLimited,
	stepNoUpstream:   (*gateway).noUpstream,
	stepChildDown:    (*gateway).childDown,
	stepBodyTooLarge: (*gateway).declaredBodyTooLarge,
	stepBodyCount:    (*gateway).countBody,
	stepStripUpgrade: (*gateway).stripUpgrade,
	stepAffinity:     (*gateway).placeSession,
	stepTunnel:       (*gateway).serveWebSocket,
	stepProxy:        (*gateway).serveProxy,
}

func (g *gateway) serveLocal(w http.ResponseWriter, r *http.Request, x *netExchange) bool {
	switch p := x.plan.local; {
	case p == debugPath:
		g.obs.serveDebug(w, r, g)
	case p == g.cfg.MetricsPath:
		g.obs.serveMetrics(w, r, g)
	default:
		target := g.apiPrefix + strings.TrimSuffix(p, "/")
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", target)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusTemporaryRedirect)
	}
	return true
}

func (g *gateway) serveHealth(w http.ResponseWriter, r *http.Request, x *netExchange) bool {
	x.rec.probe = true
	if x.plan.apiPath == "/healthz" {
		g.ready.serveHealthz(w, r)
	} else {
		g.ready.serveReadyz(w, r)
	}
	return true
}

// servePreflight answers a CORS preflight; any other request's answer is decorated by
// decorateResponse.
func (g *gateway) servePreflight(w http.ResponseWriter, r *http.Request, x *netExchange) bool {
	return g.cors.handlePreflight(w, r)
}

func (g *gateway) authorize(w http.ResponseWriter, r *http.Request, x *netExchange) bool {
	claims, aerr := g.auth.authorize(r, x.plan.apiPath)
	if aerr != nil {
		g.obs.jwtRejected(aerr.Reason())
		if challenge := aerr.WWWAuthenticate(); challenge != "" {
			w.Header().Set("WWW-Authenticate", challenge)
		}
		g.writeError(w, r, aerr.Status(), authErrorText(aerr.Status()), true)
		return true
	}
	x.identity = claims
	x.rec.subject = claims.Get(authHeaderSub)
	return false
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

func (g *gateway) rateLimited(w http.ResponseWriter, r *http.Request, x *netExchange) bool {
	key := x.rec.subject // a verified JWT subject is a better identity than an address
	if key == "" {
		key = x.fi.ClientIP.String()
	} else {
		key = "sub:" + key
	}
	ok, wait := g.limiter.allow(key, time.Now())
	if ok {
		return false
	}
	secs := int64((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	g.obs.rateLimited()
	g.writeError(w, r, http.StatusTooManyRequests, "rate limit exceeded", x.plan.dispatch == dispatchAPI)
	return true
}

func (g *gateway) noUpstream(w http.ResponseWriter, r *http.Request, x *netExchange) bool {
	if x.plan.dispatch == dispatchAPI {
		g.writeError(w, r, http.StatusNotFound, "no API is configured (set api_upstream, target or api_command)", true)
	} else {
		g.writeError(w, r, http.StatusNotFound, "no Streamlit is configured (set streamlit_upstream or streamlit_script)", false)
	}
	return true
}

// childDown answers 503 while a supervised child restarts, before any upstream connection.
func (g *gateway) childDown(w http.ResponseWriter, r *http.Request, x *netExchange) bool {
	up := x.plan.up
	w.Header().Set("Retry-After", "1")
	g.obs.upstreamError(up.name, "down")
	why := "restarting"
	if up.child != nil {
		why = up.child.state().why()
	}
	g.writeError(w, r, http.StatusServiceUnavailable, up.name+" is not running ("+why+"); retry shortly", up.isAPI())
	return true
}

// declaredBodyTooLarge answers 413 for a declared body over the limit, before any upstream
// connection.
func (g *gateway) declaredBodyTooLarge(w http.ResponseWriter, r *http.Request, x *netExchange) bool {
	g.bodyTooLarge(w, r, x.plan.up)
	return true
}

// countBody counts a body of unknown length against the limit as the transport reads it.
func (g *gateway) countBody(w http.ResponseWriter, r *http.Request, x *netExchange) bool {
	r.Body = &limitedBody{rc: r.Body, left: g.maxBody}
	return false
}

// stripUpgrade: an Upgrade that is not a WebSocket handshake is served as plain HTTP. The hop
// rule drops Upgrade and Connection in rewrite (ReverseProxy puts them back before it), so
// the upstream never sees it, and a 101 it sends anyway is ReverseProxy's 502.
func (g *gateway) stripUpgrade(w http.ResponseWriter, r *http.Request, x *netExchange) bool {
	return false
}

func (g *gateway) serveProxy(w http.ResponseWriter, r *http.Request, x *netExchange) bool {
	if r.Body != nil && r.Body != http.NoBody && !g.readBody(w, r, x) {
		return true
	}
	x.rec.upstreamStart = time.Now()
	up := x.plan.up
	up.inflight.Add(1)
	defer up.inflight.Add(-1)
	up.proxy.ServeHTTP(w, r)
	return true
}

// readBody limits each wait for the client's body to gateway_client_body_timeout_s and, with
// request buffering on, reads the body whole before the upstream is dialled (bodybuffer.go).
// false: it answered the request (413, 408, 500) or the client left (499).
func (g *gateway) readBody(w http.ResponseWriter, r *http.Request, x *netExchange) bool {
	if wait := g.cfg.clientBodyTimeout(); wait > 0 {
		x.body = &idleBody{rc: r.Body, ctl: http.NewResponseController(w), wait: wait}
		r.Body = x.body
	}
	if g.spool == nil {
		return true
	}
	declared := r.ContentLength
	if len(r.TransferEncoding) > 0 {
		declared = -1
	}
	sp, complete, err := g.spool.spool(r.Body, declared)
	switch {
	case errors.Is(err, errBodyTooLarge):
		g.bodyTooLarge(w, r, x.plan.up)
		return false
	case err != nil:
		fail := clientBodyFailure(err)
		if fail.msg == "" {
			x.rec.status = fail.status // the client left: nobody reads an answer
			return false
		}
		w.Header().Set("Connection", "close") // the rest of the body is not read
		g.writeError(w, r, fail.status, fail.msg, x.plan.up.isAPI())
		return false
	case sp == nil: // it does not fit: streamed, as with buffering off
	case complete && sp.size == 0:
		sp.release()
		r.Body, r.ContentLength = http.NoBody, 0
	case complete:
		// Sent with its length, at once: the upstream is not asked to wait for a 100
		// Continue (fluxlit answered the client's Expect when it read the body).
		r.Body, r.ContentLength, r.TransferEncoding = sp, sp.size, nil
		r.Header.Del("Expect")
	default: // a body of unknown length that outgrew the files: the rest streams after it
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(sp, r.Body), closeBoth{sp, r.Body}}
	}
	return true
}

// closeBoth closes a partly buffered body: its buffer and the client's rest.
type closeBoth [2]io.Closer

func (c closeBoth) Close() error {
	c[0].Close()
	return c[1].Close()
}

// placeSession is the affinity step: the answer (decorateResponse, or the 101 in
// openTunnel) gives the browser the cookie naming its replica.
func (g *gateway) placeSession(w http.ResponseWriter, r *http.Request, x *netExchange) bool {
	x.rec.setCookie = true
	x.plan.rep.placed.add(time.Now())
	return false
}

// rewrite builds the outbound request (httputil calls it with the client's headers cloned,
// hop-by-hop ones and X-Forwarded-*/Forwarded already removed) under the hop rules.
func (g *gateway) rewrite(up *upstream, pr *httputil.ProxyRequest) {
	x := exchangeOf(pr.In)
	out := pr.Out
	out.URL.Scheme = up.target.Scheme
	out.URL.Host = up.target.Host
	out.URL.Path = up.target.Path + x.plan.upstreamPath()
	out.URL.RawPath = ""
	out.URL.RawQuery = pr.In.URL.RawQuery
	toUI := !up.isAPI()
	for k := range out.Header {
		if !hopKeepRequestHeader(g, k, toUI) {
			delete(out.Header, k)
		}
	}
	if headerHasToken(pr.In.Header["Te"], "trailers") {
		out.Header["Te"] = []string{"trailers"}
	}
	g.setForwarded(out.Header, &x.fi, up)
	out.Header["X-Request-Id"] = []string{x.rec.id}
	for k, v := range x.identity {
		out.Header[k] = v
	}
	if toUI {
		out.Host = pr.In.Host // Streamlit compares Origin with Host: keep the browser's
	} else {
		out.Host = up.target.Host
	}
}

// setForwarded writes the forwarding headers of hop.go's forwarded into out.
func (g *gateway) setForwarded(out http.Header, fi *forwardedInfo, up *upstream) {
	f := g.forwarded(fi, up)
	for _, kv := range [...][2]string{{"X-Forwarded-For", f.xff}, {"X-Forwarded-Host", f.host},
		{"X-Forwarded-Proto", f.proto}, {"X-Forwarded-Port", f.port}, {"X-Forwarded-Prefix", f.prefix}} {
		if kv[1] != "" {
			out[kv[0]] = []string{kv[1]}
		}
	}
}

// forwardedInfo is what fluxlit believes about the original request; with trust off (nil
// list) that is the connection as it arrived.
func (g *gateway) forwardedInfo(r *http.Request) forwardedInfo {
	return resolveForwarded(r, g.trust)
}

// decorateResponse adds fluxlit's response headers to an upstream response — the security
// set (secheaders.go), CORS (cors.go) and the request id — and watches its body for the
// upstream's silences (timeouts.go).
func (g *gateway) decorateResponse(up *upstream, res *http.Response) {
	x := exchangeOf(res.Request)
	if res.StatusCode != http.StatusSwitchingProtocols && res.Body != http.NoBody {
		ctx := res.Request.Context()
		res.Body = newUpstreamBody(res.Body, g.cfg.bodyTimeout(), func(err error) {
			if ctx.Err() == nil { // else the client left, and the Transport stopped reading
				g.upstreamBodyCut(x.rec, err)
			}
		})
	}
	if g.secHeaders != nil {
		g.secHeaders.apply(res.Header, x.fi.Proto == "https")
	}
	if x.plan.steps&stepCORS != 0 {
		if origin := res.Request.Header.Get("Origin"); origin != "" {
			g.cors.decorate(res.Header, origin)
		}
	}
	if x.rec.setCookie {
		res.Header.Add("Set-Cookie", x.rec.rep.cookieHeader(x.fi.Proto == "https"))
	}
	// Ours is on the ResponseWriter already; set again, as ReverseProxy clears the writer's
	// headers after relaying a 1xx answer.
	delete(res.Header, "X-Request-Id")
	w := x.rec.Header()
	w["X-Request-Id"] = []string{x.rec.id}
	if _, ok := res.Header["Content-Type"]; !ok {
		w["Content-Type"] = nil // a proxy does not invent one: no sniffing by Go's server
	}
}

// netInterim puts an interim (1xx) answer's headers, as ReverseProxy copies them into the
// ResponseWriter, under the hop rule, with fluxlit's request id.
func netInterim(h http.Header, status int, id string) {
	var connection [][]byte
	for _, v := range h["Connection"] {
		for rest := []byte(v); len(rest) > 0; {
			var tok []byte
			tok, rest = nextToken(rest)
			connection = append(connection, tok)
		}
	}
	for k := range h {
		if !hopKeepResponseHeader(k, status, connection) {
			delete(h, k)
		}
	}
	h["X-Request-Id"] = []string{id}
}

// proxyError maps a failed upstream exchange to fluxlit's own answer (hop.go's mapping).
func (g *gateway) proxyError(w http.ResponseWriter, r *http.Request, up *upstream, err error) {
	x := exchangeOf(r)
	if x.body != nil && x.body.timedOut.Load() {
		// A streamed body whose client went silent: net/http cancels the request's context on
		// that read error, which must not read as a client that left (no answer at all).
		f := clientBodyFailure(context.DeadlineExceeded)
		w.Header().Set("Connection", "close") // the rest of the body is not read
		g.writeError(w, r, f.status, f.msg, up.isAPI())
		return
	}
	f := g.upstreamFailure(up, err, r.Context().Err() != nil)
	g.obs.upstreamError(up.name, f.reason)
	if f.status == statusClientGone {
		x.rec.status = f.status
		return
	}
	if f.logMsg != "" {
		g.log.Warn(f.logMsg, "request_id", x.rec.id, "upstream", up.name, "error", err.Error())
	}
	if f.status == http.StatusRequestEntityTooLarge {
		w.Header().Set("Connection", "close") // the rest of the body is not read
	}
	g.writeError(w, r, f.status, f.msg, up.isAPI())
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func (g *gateway) bodyTooLarge(w http.ResponseWriter, r *http.Request, up *upstream) {
	f := g.upstreamFailure(up, errBodyTooLarge, false)
	g.obs.upstreamError(up.name, f.reason)
	w.Header().Set("Connection", "close") // the rest of the body is not read
	g.writeError(w, r, f.status, f.msg, up.isAPI())
}

// writeError answers with one short line and the request id: JSON under the API mount,
// plain text elsewhere.
func (g *gateway) writeError(w http.ResponseWriter, r *http.Request, status int, msg string, asJSON bool) {
	id := w.Header().Get("X-Request-Id")
	if x := exchangeOf(r); x != nil {
		id = x.rec.id
		w.Header().Set("X-Request-Id", id) // a 1xx answer relayed before cleared the headers
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	contentType, body := proxyErrorBody(status, msg, id, asJSON)
	h.Set("Content-Type", contentType)
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// proxyErrorBody is the Content-Type and body of fluxlit's own error answers, shared by
// writeError and the fast path's fastWriteError so that both answer alike. A text body starts
// with the status's reason phrase, as Python FluxLit's do ("Bad Gateway", "Payload Too
// Large: …"), so that what checks for those words keeps working.
func proxyErrorBody(status int, msg, id string, asJSON bool) (contentType, body string) {
	if asJSON {
		return "application/json", `{"error":` + strconv.Quote(msg) + `,"request_id":` + strconv.Quote(id) + "}\n"
	}
	reason := http.StatusText(status)
	if status == http.StatusRequestEntityTooLarge {
		reason = "Payload Too Large" // RFC 7231's name, Python FluxLit's; Go says "Request Entity Too Large"
	}
	return "text/plain; charset=utf-8", reason + ": fluxlit: " + msg + " (request id " + id + ")\n"
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
