// metrics.go owns the Prometheus endpoint: counters recorded with atomics on the request
// path, written by hand in the text exposition format 0.0.4. Labels are bounded: dispatch,
// method kind, status code class members and fixed reasons, never paths or user values.

package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// durationBuckets are the Python package's histogram buckets (seconds), so dashboards built
// on it keep working.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

var dispatches = []string{dispatchAPI, dispatchStreamlit, dispatchFluxlit}

// methodKinds keeps the method label bounded: the common methods, else "other".
var methodKinds = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "websocket", "other"}

// trackedCodes are the status codes counted one by one; any other is counted under its class
// ("2xx"…), so a client cannot mint new label values.
var trackedCodes = []int{101, 200, 201, 204, 206, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405, 409, 413, 422, 429, 499, 500, 502, 503, 504}

var upstreamErrorReasons = []string{"refused", "timeout", "body_too_large", "canceled", "down"}

var jwtReasons = []string{"malformed", "algorithm", "signature", "expired", "not_yet_valid", "issuer", "audience", "scope", "unknown_kid", "no_keys", "missing", "other"}

type histogram struct {
	counts [15]atomic.Uint64 // one per bucket plus +Inf
	sumNs  atomic.Int64
}

type dispatchMetrics struct {
	requests  [9]atomic.Uint64  // by method kind
	codes     [24]atomic.Uint64 // by trackedCodes
	classes   [6]atomic.Uint64  // other codes by class 0..5
	duration  histogram
	bytesIn   atomic.Uint64
	bytesOut  atomic.Uint64
	upErrors  [5]atomic.Uint64
	wsUpBytes atomic.Uint64
}

type metrics struct {
	start      time.Time
	byDispatch [3]dispatchMetrics
	wsOpen     atomic.Int64
	wsTotal    atomic.Uint64
	jwt        [12]atomic.Uint64
	limited    atomic.Uint64
	childInfo  func() []childStatus
	upstreamUp func() map[string]bool
	version    string
	mu         sync.Mutex // only for the rare lookups of unknown label values
}

func newMetrics() *metrics { return &metrics{start: time.Now(), version: version} }

func dispatchIndex(d string) int {
	switch d {
	case dispatchAPI:
		return 0
	case dispatchStreamlit:
		return 1
	}
	return 2
}

func methodIndex(m string) int {
	for i, k := range methodKinds[:7] {
		if m == k {
			return i
		}
	}
	return 8
}

func (m *metrics) observeRequest(dispatch, method string, status int, bytes int64, d time.Duration) {
	if m == nil {
		return
	}
	dm := &m.byDispatch[dispatchIndex(dispatch)]
	dm.requests[methodIndex(method)].Add(1)
	m.countCode(dm, status)
	dm.bytesOut.Add(uint64(bytes))
	secs := d.Seconds()
	i := sort.SearchFloat64s(durationBuckets, secs)
	dm.duration.counts[i].Add(1)
	dm.duration.sumNs.Add(int64(d))
}

func (m *metrics) countCode(dm *dispatchMetrics, status int) {
	for i, c := range trackedCodes {
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
	for i, r := range upstreamErrorReasons {
		if r == reason {
			m.byDispatch[dispatchIndex(upstream)].upErrors[i].Add(1)
		}
	}
}

func (m *metrics) jwtRejected(reason string) {
	if m == nil {
		return
	}
	for i, r := range jwtReasons {
		if r == reason {
			m.jwt[i].Add(1)
			return
		}
	}
	m.jwt[len(jwtReasons)-1].Add(1)
}

func (m *metrics) rateLimited() {
	if m != nil {
		m.limited.Add(1)
	}
}

func (m *metrics) wsOpened() {
	if m != nil {
		m.wsOpen.Add(1)
		m.wsTotal.Add(1)
	}
}

func (m *metrics) wsClosed(dispatch string, up, down int64) {
	if m == nil {
		return
	}
	m.wsOpen.Add(-1)
	dm := &m.byDispatch[dispatchIndex(dispatch)]
	dm.requests[methodIndex("websocket")].Add(1)
	m.countCode(dm, 101)
	dm.bytesIn.Add(uint64(up))
	dm.bytesOut.Add(uint64(down))
}

// write renders the exposition text.
func (m *metrics) write(w io.Writer) {
	b := &strings.Builder{}
	family := func(name, typ, help string) {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	family("fluxlit_gateway_requests_total", "counter", "Requests handled by the gateway, by dispatch and method kind.")
	for di, d := range dispatches {
		for mi, k := range methodKinds {
			if n := m.byDispatch[di].requests[mi].Load(); n > 0 {
				fmt.Fprintf(b, "fluxlit_gateway_requests_total{dispatch=%q,method_kind=%q} %d\n", d, k, n)
			}
		}
	}
	family("fluxlit_gateway_responses_total", "counter", "Responses by dispatch and status code (uncommon codes by class).")
	for di, d := range dispatches {
		dm := &m.byDispatch[di]
		for ci, c := range trackedCodes {
			if n := dm.codes[ci].Load(); n > 0 {
				fmt.Fprintf(b, "fluxlit_gateway_responses_total{dispatch=%q,code=\"%d\"} %d\n", d, c, n)
			}
		}
		for class := range dm.classes {
			if n := dm.classes[class].Load(); n > 0 {
				fmt.Fprintf(b, "fluxlit_gateway_responses_total{dispatch=%q,code=\"%dxx\"} %d\n", d, class, n)
			}
		}
	}
	family("fluxlit_gateway_request_duration_seconds", "histogram", "Time from request to the end of the response, by dispatch.")
	for di, d := range dispatches {
		h := &m.byDispatch[di].duration
		var cum uint64
		for i, le := range durationBuckets {
			cum += h.counts[i].Load()
			fmt.Fprintf(b, "fluxlit_gateway_request_duration_seconds_bucket{dispatch=%q,le=%q} %d\n", d, strconv.FormatFloat(le, 'g', -1, 64), cum)
		}
		cum += h.counts[len(durationBuckets)].Load()
		fmt.Fprintf(b, "fluxlit_gateway_request_duration_seconds_bucket{dispatch=%q,le=\"+Inf\"} %d\n", d, cum)
		fmt.Fprintf(b, "fluxlit_gateway_request_duration_seconds_sum{dispatch=%q} %g\n", d, float64(h.sumNs.Load())/1e9)
		fmt.Fprintf(b, "fluxlit_gateway_request_duration_seconds_count{dispatch=%q} %d\n", d, cum)
	}
	family("fluxlit_gateway_upstream_errors_total", "counter", "Requests that fluxlit answered itself because of the upstream, by reason.")
	for di, d := range dispatches[:2] {
		for ri, r := range upstreamErrorReasons {
			fmt.Fprintf(b, "fluxlit_gateway_upstream_errors_total{dispatch=%q,reason=%q} %d\n", d, r, m.byDispatch[di].upErrors[ri].Load())
		}
	}
	family("fluxlit_gateway_bytes_total", "counter", "Body bytes relayed, by dispatch and direction (tunnels add theirs when they close).")
	for di, d := range dispatches[:2] {
		fmt.Fprintf(b, "fluxlit_gateway_bytes_total{dispatch=%q,direction=\"in\"} %d\n", d, m.byDispatch[di].bytesIn.Load())
		fmt.Fprintf(b, "fluxlit_gateway_bytes_total{dispatch=%q,direction=\"out\"} %d\n", d, m.byDispatch[di].bytesOut.Load())
	}
	family("fluxlit_gateway_websocket_connections", "gauge", "WebSocket tunnels open now.")
	fmt.Fprintf(b, "fluxlit_gateway_websocket_connections %d\n", m.wsOpen.Load())
	family("fluxlit_gateway_websocket_opened_total", "counter", "WebSocket tunnels opened.")
	fmt.Fprintf(b, "fluxlit_gateway_websocket_opened_total %d\n", m.wsTotal.Load())
	family("fluxlit_jwt_rejections_total", "counter", "Requests rejected by JWT verification, by reason.")
	for i, r := range jwtReasons {
		fmt.Fprintf(b, "fluxlit_jwt_rejections_total{reason=%q} %d\n", r, m.jwt[i].Load())
	}
	family("fluxlit_rate_limited_total", "counter", "Requests answered 429.")
	fmt.Fprintf(b, "fluxlit_rate_limited_total %d\n", m.limited.Load())
	if m.childInfo != nil {
		family("fluxlit_child_up", "gauge", "1 when the child is ready.")
		children := m.childInfo()
		for _, c := range children {
			fmt.Fprintf(b, "fluxlit_child_up{child=%q} %d\n", c.Name, boolInt(c.State == childReady))
		}
		family("fluxlit_child_restarts_total", "counter", "Restarts of each child after a crash or reload.")
		for _, c := range children {
			fmt.Fprintf(b, "fluxlit_child_restarts_total{child=%q} %d\n", c.Name, c.Restarts)
		}
	}
	if m.upstreamUp != nil {
		family("fluxlit_upstream_ready", "gauge", "1 when the upstream answered its last readiness probe.")
		up := m.upstreamUp()
		for _, name := range []string{"api", "streamlit"} {
			if v, ok := up[name]; ok {
				fmt.Fprintf(b, "fluxlit_upstream_ready{upstream=%q} %d\n", name, boolInt(v))
			}
		}
	}
	family("fluxlit_build_info", "gauge", "Version of fluxlit and of Go.")
	fmt.Fprintf(b, "fluxlit_build_info{version=%q,goversion=%q} 1\n", m.version, runtime.Version())
	writeProcessMetrics(b, m.start)
	io.WriteString(w, b.String())
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// writeProcessMetrics adds the standard process_* and go_* families, read from /proc where
// it exists (Linux) and from the Go runtime.
func writeProcessMetrics(b *strings.Builder, start time.Time) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(b, "# HELP go_goroutines Number of goroutines that currently exist.\n# TYPE go_goroutines gauge\ngo_goroutines %d\n", runtime.NumGoroutine())
	fmt.Fprintf(b, "# HELP go_memstats_heap_alloc_bytes Bytes of allocated heap objects.\n# TYPE go_memstats_heap_alloc_bytes gauge\ngo_memstats_heap_alloc_bytes %d\n", ms.HeapAlloc)
	fmt.Fprintf(b, "# HELP process_start_time_seconds Start time of the process since the Unix epoch.\n# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %d\n", start.Unix())
	if rss, ok := procRSS(); ok {
		fmt.Fprintf(b, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %d\n", rss)
	}
	if cpu, ok := procCPUSeconds(); ok {
		fmt.Fprintf(b, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %g\n", cpu)
	}
	if entries, err := os.ReadDir("/proc/self/fd"); err == nil {
		fmt.Fprintf(b, "# HELP process_open_fds Number of open file descriptors.\n# TYPE process_open_fds gauge\nprocess_open_fds %d\n", len(entries))
	}
}

func procRSS() (int64, bool) {
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

// procCPUSeconds reads utime+stime from /proc/self/stat. The clock tick is 100 Hz on every
// Linux that Go supports (USER_HZ is fixed by the kernel ABI).
func procCPUSeconds() (float64, bool) {
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

func (o *observer) serveMetrics(w http.ResponseWriter, r *http.Request, g *gateway) {
	if o.metrics == nil || !g.cfg.Metrics {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	o.metrics.write(w)
}
