// observe.go owns what fluxlit records about each request: the accessRecord that wraps the
// ResponseWriter and the request body (status, bytes each way, timings), and the observer's
// hooks that feed the access log, the metrics and the debug ring. Metrics are in metrics.go,
// the debug page in debug.go, redaction and escaping in redact.go.

package main

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// accessRecord is the per-request ResponseWriter wrapper. It implements Unwrap so that
// http.ResponseController reaches the real writer for Flush and Hijack.
type accessRecord struct {
	http.ResponseWriter
	r             *http.Request
	id            string
	dispatch      string
	method        string
	path          string
	query         string
	status        int
	bytes         int64
	start         time.Time
	upstreamStart time.Time     // when the upstream exchange began (zero: none)
	upstreamDur   time.Duration // upstream start to its response headers (or to the failure)
	websocket     bool
	wsOpen        bool // the tunnel opened: wsOpened/wsClosed log and count it, not end
	internal      bool // the scrape or the debug page: logged, but kept out of metrics and the ring
	probe         bool // healthz or readyz: a 503 is the answer "not ready", not a failure
	subject       string
	body          accessBody // counts the request body; r.Body points at it
	ended         bool       // end has run: the fast path records before its final flush
	rep           *replica   // the Streamlit replica that served it (nil: not Streamlit)
	setCookie     bool       // the answer carries the affinity cookie naming rep (a session placed)
	// The net/http engine's client send limit (timeouts.go): each write may wait sendWait,
	// through ctl, made at the first write.
	sendWait time.Duration
	ctl      *http.ResponseController
}

// accessBody counts request body bytes as the upstream transport reads them. The count is
// atomic because the transport reads the body on its own goroutine, which can still be
// running when the handler returns.
type accessBody struct {
	rc io.ReadCloser
	n  atomic.Int64
}

func (b *accessBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (b *accessBody) Close() error { return b.rc.Close() }

func (a *accessRecord) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		netInterim(a.Header(), code, a.id) // an interim answer: the final one is recorded
		a.ResponseWriter.WriteHeader(code)
		return
	}
	if a.status == 0 {
		a.status = code
		a.markUpstream()
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *accessRecord) Write(p []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
		a.markUpstream()
	}
	a.armSend()
	n, err := a.ResponseWriter.Write(p)
	a.bytes += int64(n)
	return n, err
}

// markUpstream fixes upstream_ms when the response head is written: for a proxied request
// that is when the upstream's headers arrived (or when fluxlit gave up on it).
func (a *accessRecord) markUpstream() {
	if !a.upstreamStart.IsZero() && a.upstreamDur == 0 {
		a.upstreamDur = time.Since(a.upstreamStart)
	}
}

func (a *accessRecord) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// Flush is called directly by httputil.ReverseProxy's flushing writer path.
func (a *accessRecord) Flush() {
	a.armSend()
	if f, ok := a.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (a *accessRecord) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(a.ResponseWriter).Hijack()
}

// methodLabel is the access log's and the ring's method: "websocket" for an upgrade.
func (a *accessRecord) methodLabel() string {
	if a.websocket {
		return "websocket"
	}
	return escapeControl(a.method)
}

// markInternal keeps fluxlit's own scrape and debug requests out of the metrics and the
// debug ring (as the Python package does), so that watching fluxlit does not change what it
// shows. w is the ResponseWriter the handler got: the accessRecord on the gateway's path.
func markInternal(w http.ResponseWriter) {
	if a, ok := w.(*accessRecord); ok {
		a.internal = true
	}
}

// observer is the sink for request records.
type observer struct {
	log       *slog.Logger
	accessLog bool // INFO lines; off, they are DEBUG lines (Python FluxLit's rule)
	pyJSON    bool // the log is JSON with Python's base fields: access lines name their own
	// quietStatic is where Streamlit's static files are (root_path + "/static/") when the log
	// is the console format, read by a person: "" otherwise (quietAccess).
	quietStatic string
	metrics     *metrics
	debug       *debugRing
	redact      *queryRedactor
	// trust is the proxy allow list (nil: trust off). The access log's client is the address
	// fluxlit believes after proxy trust, the same one rate limiting keys on.
	trust *ipAllowList
	// failures are the recent 5xx answers, for naming the request in a child's traceback.
	failures *failedRequests
}

// reset makes a the record of a request that started at start: the one constructor of an
// access record, for both engines. r is the request as proxy trust and the log see it (the
// fast engine's is a minimal one).
func (a *accessRecord) reset(r *http.Request, id, dispatch, method, path, query string, start time.Time) {
	*a = accessRecord{r: r, id: id, dispatch: dispatch, method: method, path: path, query: query, start: start}
}

// begin is the net/http engine's record: it wraps the ResponseWriter and the request body.
func (o *observer) begin(w http.ResponseWriter, r *http.Request, id, dispatch string, start time.Time) *accessRecord {
	a := &accessRecord{}
	a.reset(r, id, dispatch, r.Method, r.URL.Path, r.URL.RawQuery, start)
	a.ResponseWriter = w
	if r.Body != nil && r.Body != http.NoBody {
		a.body.rc = r.Body
		r.Body = &a.body
	}
	return a
}

func (o *observer) end(a *accessRecord) {
	if a.wsOpen || a.ended {
		return // logged and counted by wsOpened and wsClosed, or already recorded
	}
	a.ended = true
	if a.status == 0 {
		a.status = http.StatusOK
	}
	d := time.Since(a.start)
	if a.status >= 500 && !a.upstreamStart.IsZero() {
		o.failures.add(a.dispatch, a.id) // an upstream's own failure: its log may explain it
	}
	if !a.internal {
		o.metrics.observeRequest(a.dispatch, a.metricsMethod(), a.status, a.body.n.Load(), a.bytes, d)
		o.debug.add(a, d)
	}
	if level, ok := o.accessLevel(a); ok {
		o.logAccess(a, d, level)
	}
}

// accessLevel is the level of an access line: with enable_gateway_access_log the record's own
// (INFO, WARN for a failure); without it routine lines are DEBUG (as in Python FluxLit), but a
// failure stays WARN: turning the access log off quiets traffic, not 5xx answers.
func (o *observer) accessLevel(a *accessRecord) (slog.Level, bool) {
	level := a.level()
	if level < slog.LevelWarn && (!o.accessLog || o.quietAccess(a)) {
		level = slog.LevelDebug
	}
	return level, o.log.Enabled(a.r.Context(), level)
}

// quietAccess: in the console format, a Streamlit static file served well (a status below
// 400) is a DEBUG line. Each page load fetches some seventy of them, which buried the lines a
// person at the terminal watches for (the page, the API's answers, failures); a 404 or a 5xx
// for one still shows. JSON logs, for machines, keep every line at its level.
func (o *observer) quietAccess(a *accessRecord) bool {
	return o.quietStatic != "" && a.status < 400 && a.dispatch == dispatchStreamlit && strings.HasPrefix(a.path, o.quietStatic)
}

// consoleStaticPrefix is observer.quietStatic for a run whose log is log.
func consoleStaticPrefix(log *slog.Logger, rootPath string) string {
	if _, console := log.Handler().(*consoleHandler); !console {
		return ""
	}
	return rootPath + "/static/"
}

// metricsMethod is the method_kind of the Python package: the method, or WEBSOCKET for an
// upgrade (also when the upstream refused it).
func (a *accessRecord) metricsMethod() string {
	if a.websocket {
		return methodKindWebSocket
	}
	return a.method
}

// client is the client address after proxy trust, as text. Without trust it is the peer's
// address, which the server took from the connection: no parsing needed.
func (o *observer) client(r *http.Request) string {
	if o.trust == nil {
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			return host
		}
	} else if ip := resolveForwarded(r, o.trust).ClientIP; ip.IsValid() {
		return ip.String()
	}
	return escapeControl(r.RemoteAddr)
}

func (o *observer) logAccess(a *accessRecord, d time.Duration, level slog.Level) {
	var buf [18]slog.Attr
	attrs := o.accessFields(buf[:0], a, a.methodLabel(), "access")
	attrs = append(attrs,
		slog.Int("status", a.status),
		slog.Int64("bytes", a.bytes),
		slog.Int64("bytes_in", a.body.n.Load()),
		slog.Float64("duration_ms", accessMS(d)),
		slog.String("client", o.client(a.r)))
	if a.rep != nil {
		attrs = append(attrs, slog.String("replica", a.rep.id))
	}
	if !a.upstreamStart.IsZero() {
		up := a.upstreamDur
		if up == 0 {
			up = time.Since(a.upstreamStart)
		}
		attrs = append(attrs, slog.Float64("upstream_ms", accessMS(up)))
	}
	o.log.LogAttrs(a.r.Context(), level, "access", attrs...)
}

// accessFields appends the fields every access line starts with: Python FluxLit's
// (GATEWAY_ACCESS_LOG_FIELDS: request_id, fluxlit_dispatch, http_method_or_type, path, query,
// the query always present and redacted), then fluxlit's names for the first two, which its
// runbooks read (dispatch, method). In Python's JSON lines the logger is fluxlit.gateway and
// the message Python's "gateway GET /path request_id=…".
func (o *observer) accessFields(dst []slog.Attr, a *accessRecord, method, msg string) []slog.Attr {
	path := escapeControl(a.path)
	if o.pyJSON {
		message := msg
		if msg == "access" {
			message = "gateway " + method + " " + path + " request_id=" + a.id
		}
		dst = append(dst, slog.String("logger", loggerGateway), slog.String("message", message))
	}
	query := ""
	if a.query != "" {
		query = escapeControl(o.redact.redact(a.query))
	}
	return append(dst,
		slog.String("request_id", a.id),
		slog.String("fluxlit_dispatch", a.dispatch),
		slog.String("http_method_or_type", method),
		slog.String("path", path),
		slog.String("query", query),
		slog.String("dispatch", a.dispatch),
		slog.String("method", method))
}

// level is the level of an access line: a 5xx is a failure someone should see even with
// log_level = "warn"; everything else is routine, and so is readyz's 503 while a child
// starts (it answers the probe's question).
func (a *accessRecord) level() slog.Level {
	if a.status >= 500 && !a.probe {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// accessMS is a duration in milliseconds with microsecond precision, the unit of the log.
func accessMS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (o *observer) upstreamError(upstream, reason string) { o.metrics.upstreamError(upstream, reason) }
func (o *observer) jwtRejected(reason string)             { o.metrics.jwtRejected(reason) }
func (o *observer) rateLimited()                          { o.metrics.rateLimited() }

func (o *observer) wsOpened(a *accessRecord) {
	a.wsOpen = true
	a.upstreamDur = time.Since(a.upstreamStart)
	o.metrics.wsOpened(a.dispatch)
	if level, ok := o.accessLevel(a); ok {
		attrs := o.accessFields(nil, a, "websocket", "websocket open")
		attrs = append(attrs, slog.Int("status", http.StatusSwitchingProtocols),
			slog.Float64("upstream_ms", accessMS(a.upstreamDur)), slog.String("client", o.client(a.r)))
		if a.rep != nil {
			attrs = append(attrs, slog.String("replica", a.rep.id))
		}
		o.log.LogAttrs(a.r.Context(), level, "websocket open", attrs...)
	}
}

// wsClosed logs the end of a tunnel: its duration, the bytes each way (in: client to
// upstream) and which side closed first ("client", "upstream" or "fluxlit").
func (o *observer) wsClosed(a *accessRecord, t *tunnel, d time.Duration) {
	up, down := t.bytesUp.Load(), t.bytesDown.Load()
	first, _ := t.firstClose.Load().(string)
	o.metrics.wsClosed(a.dispatch, first, up, down)
	o.debug.add(a, d)
	if level, ok := o.accessLevel(a); ok {
		attrs := o.accessFields(nil, a, "websocket", "websocket close")
		attrs = append(attrs, slog.Int("status", http.StatusSwitchingProtocols),
			slog.Float64("duration_ms", accessMS(d)), slog.Int64("bytes_in", up), slog.Int64("bytes_out", down),
			slog.String("closed_by", first), slog.String("client", o.client(a.r)))
		if a.rep != nil {
			attrs = append(attrs, slog.String("replica", a.rep.id))
		}
		o.log.LogAttrs(a.r.Context(), level, "websocket close", attrs...)
	}
}
