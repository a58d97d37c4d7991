// metrics.go owns the Prometheus endpoint: counters recorded with atomics on the request
// path (no lock, no map, no allocation), written by hand in the text exposition format
// 0.0.4. Labels are bounded: dispatch, method kind, a fixed set of status codes and reasons,
// never paths or other client-chosen values.

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// metricsBuckets are the Python package's histogram buckets (seconds, gateway/metrics.py),
// so dashboards built on it keep working. Changing them is a visible change.
var metricsBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// metricsBucketCount is len(metricsBuckets) plus the +Inf bucket.
const metricsBucketCount = 13

var metricsDispatches = []string{dispatchAPI, dispatchStreamlit, dispatchFluxlit}

// methodKindWebSocket is the Python package's method_kind for a WebSocket.
const methodKindWebSocket = "WEBSOCKET"

// metricsMethodKinds keeps method_kind bounded: the methods of RFC 9110 and PATCH, WEBSOCKET,
// and OTHER for any other token a client sends.
var metricsMethodKinds = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", methodKindWebSocket, "OTHER"}

// metricsCodes are the status codes counted one by one; any other is counted under its class
// ("2xx"...), so a client or an upstream cannot mint new label values.
var metricsCodes = []int{101, 200, 201, 204, 206, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405, 409, 413, 422, 429, 499, 500, 502, 503, 504}

// metricsUpstreamReasons are why fluxlit answered instead of the upstream (hop.go's
// upstreamFailure): refused (502: connection refused or unreachable), timeout (504),
// body_too_large (413), canceled (the client left, 499), down (a supervised child is not
// running, 503), reset (502: closed without an answer; or a response body cut), invalid (502:
// not HTTP/1.x).
var metricsUpstreamReasons = []string{"refused", "timeout", "body_too_large", "canceled", "down", "reset", "invalid"}

// metricsJWTReasons are jwt.go's reasons; "other" catches a reason added there later.
var metricsJWTReasons = []string{"malformed", "algorithm", "signature", "expired", "not_yet_valid", "issuer", "audience", "scope", "unknown_kid", "no_keys", "missing", "other"}

// metricsClosers are the sides that can end a WebSocket first (tunnel.firstClose).
var metricsClosers = []string{"client", "upstream", "fluxlit", "unknown"}

type metricsHistogram struct {
	counts [metricsBucketCount]atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sumNs  atomic.Int64
}

type metricsDispatch struct {
	requests [11]atomic.Uint64 // by metricsMethodKinds
	codes    [24]atomic.Uint64 // by metricsCodes
	classes  [6]atomic.Uint64  // other codes by class 0..5
	duration metricsHistogram
	bytesIn  atomic.Uint64 // request bodies and client-to-upstream WebSocket bytes
	bytesOut atomic.Uint64 // response bodies and upstream-to-client WebSocket bytes
	upErrors [7]atomic.Uint64
}

type metrics struct {
	start      time.Time
	byDispatch [3]metricsDispatch
	wsOpen     atomic.Int64
	wsTotal    atomic.Uint64
	wsClosedBy [4]atomic.Uint64 // by metricsClosers
	jwt        [12]atomic.Uint64
	limited    atomic.Uint64
	// Set once by the gateway before serving, read at scrape time only. upstreamUp is the
	// fallback when write is given no fresh probe results.
	childInfo func() []childStatus
	// replicaInfo is every Streamlit replica of every live generation (nil: no children).
	replicaInfo func() []replicaState
	// generation is the number of the current generation of children.
	generation func() int
	upstreamUp func() map[string]bool
	logDropped func() uint64         // lines the log queue dropped (logwriter.go); nil in tests
	connLimit  func() connLimitStats // max_connections (limitlisten.go); nil without a cap
	version    string
}

func newMetrics() *metrics { return &metrics{start: time.Now(), version: version} }

func metricsDispatchIndex(d string) int {
	switch d {
	case dispatchAPI:
		return 0
	case dispatchStreamlit:
		return 1
	}
	return 2
}

func metricsMethodIndex(m string) int {
	for i, k := range metricsMethodKinds {
		if m == k {
			return i
		}
	}
	return len(metricsMethodKinds) - 1
}

// observeRequest records one finished HTTP exchange. in and out are body bytes.
func (m *metrics) observeRequest(dispatch, method string, status int, in, out int64, d time.Duration) {
	if m == nil {
		return
	}
	dm := &m.byDispatch[metricsDispatchIndex(dispatch)]
	dm.requests[metricsMethodIndex(method)].Add(1)
	m.countCode(dm, status)
	dm.bytesIn.Add(uint64(in))
	dm.bytesOut.Add(uint64(out))
	// SearchFloat64s gives the first bucket with le >= secs: Prometheus buckets are "<= le".
	dm.duration.counts[sort.SearchFloat64s(metricsBuckets, d.Seconds())].Add(1)
	dm.duration.sumNs.Add(int64(d))
}

func (m *metrics) countCode(dm *metricsDispatch, status int) {
	for i, c := range metricsCodes {
		if c == status {
			dm.codes[i].Add(1)
			return
		}
	}
	class := status / 100
	if class < 0 || class > 5 {
		class = 0
	}
	dm.classes[class].Add(1)
}

func (m *metrics) upstreamError(upstream, reason string) {
	if m == nil {
		return
	}
	for i, r := range metricsUpstreamReasons {
		if r == reason {
			m.byDispatch[metricsDispatchIndex(upstream)].upErrors[i].Add(1)
			return
		}
	}
}

func (m *metrics) jwtRejected(reason string) {
	if m == nil {
		return
	}
	for i, r := range metricsJWTReasons {
		if r == reason {
			m.jwt[i].Add(1)
			return
		}
	}
	m.jwt[len(metricsJWTReasons)-1].Add(1)
}

func (m *metrics) rateLimited() {
	if m != nil {
		m.limited.Add(1)
	}
}

// wsOpened counts the upgrade as a request answered 101 when the tunnel opens: a tunnel can
// live for hours, and the request counter should not wait for it.
func (m *metrics) wsOpened(dispatch string) {
	if m == nil {
		return
	}
	m.wsOpen.Add(1)
	m.wsTotal.Add(1)
	dm := &m.byDispatch[metricsDispatchIndex(dispatch)]
	dm.requests[metricsMethodIndex(methodKindWebSocket)].Add(1)
	m.countCode(dm, http.StatusSwitchingProtocols)
}

// wsClosed adds the tunnel's bytes (up: client to upstream) when it ends.
func (m *metrics) wsClosed(dispatch, closedBy string, up, down int64) {
	if m == nil {
		return
	}
	m.wsOpen.Add(-1)
	i := len(metricsClosers) - 1
	for j, c := range metricsClosers {
		if c == closedBy {
			i = j
		}
	}
	m.wsClosedBy[i].Add(1)
	dm := &m.byDispatch[metricsDispatchIndex(dispatch)]
	dm.bytesIn.Add(uint64(up))
	dm.bytesOut.Add(uint64(down))
}

// metricsWriter accumulates the exposition text.
type metricsWriter struct{ b strings.Builder }

func (w *metricsWriter) family(name, typ, help string) {
	fmt.Fprintf(&w.b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// sample writes one line; labels alternate name, value.
func (w *metricsWriter) sample(name string, value string, labels ...string) {
	w.b.WriteString(name)
	if len(labels) > 0 {
		w.b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				w.b.WriteByte(',')
			}
			w.b.WriteString(labels[i])
			w.b.WriteString(`="`)
			w.b.WriteString(metricsEscapeLabel(labels[i+1]))
			w.b.WriteByte('"')
		}
		w.b.WriteByte('}')
	}
	w.b.WriteByte(' ')
	w.b.WriteString(value)
	w.b.WriteByte('\n')
}

func (w *metricsWriter) uint(name string, v uint64, labels ...string) {
	w.sample(name, strconv.FormatUint(v, 10), labels...)
}

// metricsEscapeLabel escapes a label value as format 0.0.4 asks: backslash, quote, newline.
func metricsEscapeLabel(v string) string {
	if !strings.ContainsAny(v, "\\\"\n") {
		return v
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}

// metricsFloat formats a value as the Python client does ("1.0", "0.005", "+Inf"), so the
// le labels are byte-for-byte those of the Python package.
func metricsFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eIN") {
		s += ".0"
	}
	return s
}

// write renders the exposition text. up is each configured upstream's readiness.
func (m *metrics) write(out io.Writer, up map[string]bool) {
	w := &metricsWriter{}
	m.writeRequests(w)
	m.writeTraffic(w)
	m.writeEdge(w)
	if up == nil && m.upstreamUp != nil {
		up = m.upstreamUp() // no probe result: the gateway's last known state
	}
	m.writeChildren(w, up)
	w.family("fluxlit_build_info", "gauge", "Version of fluxlit and of Go.")
	w.sample("fluxlit_build_info", "1", "version", m.version, "goversion", runtime.Version())
	metricsProcess(w, m.start)
	io.WriteString(out, w.b.String())
}

func (m *metrics) writeRequests(w *metricsWriter) {
	w.family("fluxlit_gateway_requests_total", "counter", "Requests handled by the gateway, by dispatch and method kind (scrapes and the debug page excluded).")
	for di, d := range metricsDispatches {
		for mi, k := range metricsMethodKinds {
			if n := m.byDispatch[di].requests[mi].Load(); n > 0 {
				w.uint("fluxlit_gateway_requests_total", n, "dispatch", d, "method_kind", k)
			}
		}
	}
	w.family("fluxlit_gateway_responses_total", "counter", "Responses by dispatch and status code (uncommon codes by class, 1xx-5xx).")
	for di, d := range metricsDispatches {
		dm := &m.byDispatch[di]
		for ci, c := range metricsCodes {
			if n := dm.codes[ci].Load(); n > 0 {
				w.uint("fluxlit_gateway_responses_total", n, "dispatch", d, "code", strconv.Itoa(c))
			}
		}
		for class := range dm.classes {
			if n := dm.classes[class].Load(); n > 0 {
				w.uint("fluxlit_gateway_responses_total", n, "dispatch", d, "code", strconv.Itoa(class)+"xx")
			}
		}
	}
	w.family("fluxlit_gateway_request_duration_seconds", "histogram", "Wall time of one gateway request, by dispatch (WebSockets excluded).")
	for di, d := range metricsDispatches {
		h := &m.byDispatch[di].duration
		var cum uint64
		for i, le := range metricsBuckets {
			cum += h.counts[i].Load()
			w.uint("fluxlit_gateway_request_duration_seconds_bucket", cum, "dispatch", d, "le", metricsFloat(le))
		}
		cum += h.counts[len(metricsBuckets)].Load()
		w.uint("fluxlit_gateway_request_duration_seconds_bucket", cum, "dispatch", d, "le", "+Inf")
		w.sample("fluxlit_gateway_request_duration_seconds_sum", metricsFloat(float64(h.sumNs.Load())/1e9), "dispatch", d)
		w.uint("fluxlit_gateway_request_duration_seconds_count", cum, "dispatch", d)
	}
}

func (m *metrics) writeTraffic(w *metricsWriter) {
	w.family("fluxlit_gateway_upstream_errors_total", "counter", "Requests fluxlit answered itself because of the upstream, by reason.")
	for di, d := range metricsDispatches[:2] {
		for ri, r := range metricsUpstreamReasons {
			w.uint("fluxlit_gateway_upstream_errors_total", m.byDispatch[di].upErrors[ri].Load(), "dispatch", d, "reason", r)
		}
	}
	w.family("fluxlit_gateway_bytes_total", "counter", "Body bytes relayed, by dispatch and direction (in: from clients; WebSocket tunnels add theirs when they close).")
	for di, d := range metricsDispatches {
		w.uint("fluxlit_gateway_bytes_total", m.byDispatch[di].bytesIn.Load(), "dispatch", d, "direction", "in")
		w.uint("fluxlit_gateway_bytes_total", m.byDispatch[di].bytesOut.Load(), "dispatch", d, "direction", "out")
	}
	w.family("fluxlit_gateway_websocket_connections", "gauge", "WebSocket tunnels open now.")
	w.sample("fluxlit_gateway_websocket_connections", strconv.FormatInt(m.wsOpen.Load(), 10))
	w.family("fluxlit_gateway_websocket_opened_total", "counter", "WebSocket tunnels opened.")
	w.uint("fluxlit_gateway_websocket_opened_total", m.wsTotal.Load())
	w.family("fluxlit_gateway_websocket_closed_total", "counter", "WebSocket tunnels closed, by the side that closed first.")
	for i, c := range metricsClosers {
		w.uint("fluxlit_gateway_websocket_closed_total", m.wsClosedBy[i].Load(), "closed_by", c)
	}
}

func (m *metrics) writeEdge(w *metricsWriter) {
	w.family("fluxlit_jwt_rejections_total", "counter", "Requests rejected by JWT verification, by reason.")
	for i, r := range metricsJWTReasons {
		w.uint("fluxlit_jwt_rejections_total", m.jwt[i].Load(), "reason", r)
	}
	w.family("fluxlit_rate_limited_total", "counter", "Requests answered 429 by the rate limiter.")
	w.uint("fluxlit_rate_limited_total", m.limited.Load())
	if m.connLimit != nil {
		st := m.connLimit()
		w.family("fluxlit_connections_open", "gauge", "Client connections holding a slot under max_connections, by whether they wait for a request (idle) or not.")
		w.sample("fluxlit_connections_open", strconv.Itoa(st.idle), "state", "idle")
		w.sample("fluxlit_connections_open", strconv.Itoa(st.open-st.idle), "state", "busy")
		w.family("fluxlit_connections_over_limit_total", "counter", "New connections at max_connections, by what made room: an idle connection closed (evicted), a 503 or health answer (answered), or a close (closed).")
		w.uint("fluxlit_connections_over_limit_total", st.evicted, "action", "evicted")
		w.uint("fluxlit_connections_over_limit_total", st.answered, "action", "answered")
		w.uint("fluxlit_connections_over_limit_total", st.refused, "action", "closed")
	}
	if m.logDropped != nil {
		w.family("fluxlit_log_lines_dropped_total", "counter", "Log lines dropped because the reader of fluxlit's output stalled or went away.")
		w.uint("fluxlit_log_lines_dropped_total", m.logDropped())
	}
}

func (m *metrics) writeChildren(w *metricsWriter, up map[string]bool) {
	if m.childInfo != nil {
		children := m.childInfo()
		w.family("fluxlit_child_up", "gauge", "1 when the supervised child is ready; replica is its generation and number (2.1: generation 2, the first of its kind).")
		for _, c := range children {
			w.sample("fluxlit_child_up", metricsBool(c.State == childReady), "child", c.Name, "replica", c.ID)
		}
		w.family("fluxlit_child_restarts_total", "counter", "Restarts of each supervised child after a crash or a dev reload.")
		for _, c := range children {
			w.uint("fluxlit_child_restarts_total", uint64(max(c.Restarts, 0)), "child", c.Name, "replica", c.ID)
		}
	}
	if m.replicaInfo != nil {
		reps := m.replicaInfo()
		w.family("fluxlit_streamlit_replica_sessions", "gauge", "Open WebSockets (browser sessions) per Streamlit replica; current is 0 for a generation draining after a reload.")
		for _, r := range reps {
			w.sample("fluxlit_streamlit_replica_sessions", strconv.FormatInt(r.Sessions, 10), "replica", r.ID, "current", metricsBool(r.Current))
		}
	}
	if m.generation != nil {
		w.family("fluxlit_generation", "gauge", "Number of the current generation of children: 1 at start, one more per successful reload.")
		w.sample("fluxlit_generation", strconv.Itoa(m.generation()))
	}
	if len(up) > 0 {
		w.family("fluxlit_upstream_ready", "gauge", "1 when the upstream passed the readiness probe run for this scrape.")
		for _, name := range []string{dispatchAPI, dispatchStreamlit} {
			if v, ok := up[name]; ok {
				w.sample("fluxlit_upstream_ready", metricsBool(v), "upstream", name)
			}
		}
	}
}

func metricsBool(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// metricsProcess adds the standard process_* and go_* families, read from /proc where it
// exists (Linux) and from the Go runtime. process_start_time_seconds is when the metrics
// were created, a few milliseconds after the process started.
func metricsProcess(w *metricsWriter, start time.Time) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.family("go_goroutines", "gauge", "Number of goroutines that currently exist.")
	w.sample("go_goroutines", strconv.Itoa(runtime.NumGoroutine()))
	w.family("go_memstats_heap_alloc_bytes", "gauge", "Bytes of allocated heap objects.")
	w.uint("go_memstats_heap_alloc_bytes", ms.HeapAlloc)
	w.family("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch in seconds.")
	w.sample("process_start_time_seconds", strconv.FormatInt(start.Unix(), 10))
	if rss, ok := metricsProcRSS(); ok {
		w.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.")
		w.sample("process_resident_memory_bytes", strconv.FormatInt(rss, 10))
	}
	if cpu, ok := metricsProcCPUSeconds(); ok {
		w.family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.")
		w.sample("process_cpu_seconds_total", metricsFloat(cpu))
	}
	if entries, err := os.ReadDir("/proc/self/fd"); err == nil {
		w.family("process_open_fds", "gauge", "Number of open file descriptors.")
		w.sample("process_open_fds", strconv.Itoa(len(entries)))
	}
}

func metricsProcRSS() (int64, bool) {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize()), err == nil
}

// metricsProcCPUSeconds reads utime+stime from /proc/self/stat. The clock tick is 100 Hz on
// every Linux that Go supports (USER_HZ is fixed by the kernel ABI).
func metricsProcCPUSeconds() (float64, bool) {
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, err1 == nil && err2 == nil
}

// serveMetrics answers a scrape. It probes the upstreams first (as readyz does, bounded by
// probeTimeout), so fluxlit_upstream_ready is what a probe saw now, not a stale guess.
func (o *observer) serveMetrics(w http.ResponseWriter, r *http.Request, g *gateway) {
	markInternal(w)
	if o.metrics == nil || !g.cfg.Metrics {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	o.metrics.write(w, upstreamReadiness(r.Context(), g))
}

// upstreamReadiness runs the readiness probes and returns ready per configured upstream.
func upstreamReadiness(ctx context.Context, g *gateway) map[string]bool {
	if g.ready == nil {
		return nil
	}
	_, states, _, _ := g.ready.check(ctx)
	up := map[string]bool{}
	for name, st := range states {
		if st != "not_configured" {
			up[name] = st == "ok"
		}
	}
	return up
}
