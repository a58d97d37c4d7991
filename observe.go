// observe.go owns what fluxlit records about each request: the accessRecord that wraps the
// ResponseWriter (status, bytes, timings), and the observer's hooks that feed the access log,
// the metrics and the debug ring. Metrics are in metrics.go, the debug page in debug.go.

package main

import (
	"bufio"
	"log/slog"
	"net"
	"net/http"
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
	upstreamStart time.Time
	websocket     bool
	subject       string
}

func (a *accessRecord) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *accessRecord) Write(p []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	n, err := a.ResponseWriter.Write(p)
	a.bytes += int64(n)
	return n, err
}

func (a *accessRecord) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// Flush is called directly by httputil.ReverseProxy's flushing writer path.
func (a *accessRecord) Flush() {
	if f, ok := a.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (a *accessRecord) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(a.ResponseWriter).Hijack()
}

// observer is the sink for request records.
type observer struct {
	log       *slog.Logger
	accessLog bool
	metrics   *metrics
	debug     *debugRing
	redact    *queryRedactor
}

func (o *observer) begin(w http.ResponseWriter, r *http.Request, id string, start time.Time) *accessRecord {
	return &accessRecord{ResponseWriter: w, r: r, id: id, method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, start: start}
}

func (o *observer) end(a *accessRecord) {
	if a.websocket && a.status == http.StatusSwitchingProtocols {
		return // logged by wsClosed
	}
	if a.status == 0 {
		a.status = http.StatusOK
	}
	d := time.Since(a.start)
	o.metrics.observeRequest(a.dispatch, a.method, a.status, a.bytes, d)
	o.debug.add(a, d)
	if o.accessLog {
		o.logAccess(a, d)
	}
}

func (o *observer) logAccess(a *accessRecord, d time.Duration) {
	method := a.method
	if a.websocket {
		method = "websocket"
	}
	attrs := []slog.Attr{
		slog.String("request_id", a.id),
		slog.String("dispatch", a.dispatch),
		slog.String("method", escapeControl(method)),
		slog.String("path", escapeControl(a.path)),
		slog.Int("status", a.status),
		slog.Int64("bytes", a.bytes),
		slog.Float64("duration_ms", ms(d)),
		slog.String("client", a.r.RemoteAddr),
	}
	if a.query != "" {
		attrs = append(attrs, slog.String("query", escapeControl(o.redact.redact(a.query))))
	}
	if !a.upstreamStart.IsZero() {
		attrs = append(attrs, slog.Float64("upstream_ms", ms(time.Since(a.upstreamStart))))
	}
	o.log.LogAttrs(a.r.Context(), slog.LevelInfo, "access", attrs...)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (o *observer) upstreamError(upstream, reason string) { o.metrics.upstreamError(upstream, reason) }
func (o *observer) jwtRejected(reason string)             { o.metrics.jwtRejected(reason) }
func (o *observer) rateLimited()                          { o.metrics.rateLimited() }

func (o *observer) wsOpened(a *accessRecord) {
	o.metrics.wsOpened()
	if o.accessLog {
		o.log.Info("websocket open", "request_id", a.id, "dispatch", a.dispatch, "path", escapeControl(a.path), "client", a.r.RemoteAddr)
	}
}

func (o *observer) wsClosed(a *accessRecord, t *tunnel, d time.Duration) {
	up, down := t.bytesUp.Load(), t.bytesDown.Load()
	o.metrics.wsClosed(a.dispatch, up, down)
	o.debug.add(a, d)
	first, _ := t.firstClose.Load().(string)
	if o.accessLog {
		o.log.Info("websocket close", "request_id", a.id, "dispatch", a.dispatch, "method", "websocket",
			"path", escapeControl(a.path), "status", 101, "duration_ms", ms(d), "bytes_in", up, "bytes_out", down,
			"closed_by", first, "client", a.r.RemoteAddr)
	}
}
