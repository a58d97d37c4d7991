package main

// The cost of observability on small requests (issue #6): the same gateway with the access
// log and metrics on and off, through an httptest gateway to an httptest upstream over
// loopback. BenchmarkGatewaySmall reports each side; TestObservabilityOverhead
// (observe_overhead_test.go) runs both sides interleaved and asserts the cost.

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// obsBenchConns is the client's concurrency: enough to keep two cores busy through three
// hops (client, gateway, upstream) without measuring mostly scheduler queueing.
const obsBenchConns = 8

// obsBenchSide is one configuration under test.
type obsBenchSide struct {
	name string
	on   bool      // access log + metrics
	log  io.Writer // where access lines go when on
}

// obsBenchGateway serves a gateway in front of a tiny upstream; on turns the access log and
// the metrics on, with access lines written to w.
func obsBenchGateway(tb testing.TB, upstream string, on bool, w io.Writer) *httptest.Server {
	tb.Helper()
	flag := map[bool]string{true: "true", false: "false"}[on]
	cfg := testConfig(tb, map[string]string{"api_upstream": upstream, "streamlit_upstream": upstream,
		"enable_gateway_access_log": flag, "enable_gateway_prometheus_metrics": flag})
	if w == nil {
		w = io.Discard
	}
	g, err := newGateway(cfg, slog.New(slog.NewJSONHandler(w, nil)), "127.0.0.1:0", nil)
	if err != nil {
		tb.Fatalf("newGateway: %v", err)
	}
	srv := httptest.NewServer(g)
	tb.Cleanup(srv.Close)
	return srv
}

// obsBenchUpstream answers every request with a 13-byte body.
func obsBenchUpstream(tb testing.TB) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello, world\n")
	}))
	tb.Cleanup(srv.Close)
	return srv.URL
}

func obsBenchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * obsBenchConns, Proxy: nil}, Timeout: 10 * time.Second}
}

func obsBenchGet(c *http.Client, url string) error {
	res, err := c.Get(url)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		return fmt.Errorf("status %d", res.StatusCode)
	}
	return err
}

// obsBenchFile opens a real log file in the test's temp dir, unbuffered as stderr is.
func obsBenchFile(tb testing.TB) *os.File {
	f, err := os.Create(filepath.Join(tb.TempDir(), "access.log"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

func BenchmarkGatewaySmall(b *testing.B) {
	up := obsBenchUpstream(b)
	file := obsBenchFile(b)
	buffered := bufio.NewWriterSize(obsBenchFile(b), 64<<10)
	var bufMu sync.Mutex
	lockedBuf := obsWriterFunc(func(p []byte) (int, error) {
		bufMu.Lock()
		defer bufMu.Unlock()
		return buffered.Write(p)
	})
	sides := []obsBenchSide{
		{name: "off", on: false},
		{name: "on-discard", on: true, log: io.Discard},
		{name: "on-file", on: true, log: file},
		{name: "on-bufferedfile", on: true, log: lockedBuf},
	}
	for _, s := range sides {
		b.Run(s.name, func(b *testing.B) {
			gw := obsBenchGateway(b, up, s.on, s.log)
			c := obsBenchClient()
			url := gw.URL + "/api/small?x=1"
			b.ReportAllocs()
			b.SetParallelism(obsBenchConns / 2) // RunParallel starts parallelism × GOMAXPROCS (2 here) workers
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := obsBenchGet(c, url); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

type obsWriterFunc func(p []byte) (int, error)

func (f obsWriterFunc) Write(p []byte) (int, error) { return f(p) }

// obsRound drives url with obsBenchConns workers for d and returns the requests completed
// and the process CPU time they took (user+system, all three hops).
func obsRound(t *testing.T, c *http.Client, url string, d time.Duration) (n int64, cpu time.Duration) {
	t.Helper()
	var done atomic.Int64
	var failed atomic.Value
	stop := time.Now().Add(d)
	cpu0 := obsProcessCPU()
	var wg sync.WaitGroup
	for i := 0; i < obsBenchConns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if err := obsBenchGet(c, url); err != nil {
					failed.Store(err)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("request failed: %v", err)
	}
	return done.Load(), obsProcessCPU() - cpu0
}

func obsProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// obsRecordLoop runs one request's recording (obsRecord) b.N times.
func obsRecordLoop(b *testing.B, o *observer) {
	record := obsRecord(o)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		record()
	}
}

// obsRecord returns one request's recording: begin and end of an access record.
func obsRecord(o *observer) func() {
	req := httptest.NewRequest("GET", "/api/small?x=1&token=t", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	w := httptest.NewRecorder()
	return func() {
		start := time.Now()
		a := o.begin(w, req, "0123456789ab-1", dispatchAPI, start)
		a.upstreamStart = start
		a.status = 200
		a.bytes = 13
		o.end(a)
	}
}

// obsObservers are the sides of the recording cost: access log (to logTo) and metrics on,
// or both off.
func obsObservers(logTo io.Writer) (on, off *observer) {
	red := newQueryRedactor(nil, "fluxlit_sid")
	on = &observer{log: slog.New(slog.NewJSONHandler(logTo, nil)), accessLog: true, metrics: newMetrics(), redact: red}
	off = &observer{log: slog.New(slog.NewJSONHandler(io.Discard, nil)), redact: red}
	return on, off
}

// BenchmarkObserveRecord is the recording alone, without the network: what the access log
// and the metrics add to each request.
func BenchmarkObserveRecord(b *testing.B) {
	onDiscard, off := obsObservers(io.Discard)
	onFile, _ := obsObservers(obsBenchFile(b))
	b.Run("off", func(b *testing.B) { obsRecordLoop(b, off) })
	b.Run("on-discard", func(b *testing.B) { obsRecordLoop(b, onDiscard) })
	b.Run("on-file", func(b *testing.B) { obsRecordLoop(b, onFile) })
}
