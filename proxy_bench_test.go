package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// Benchmarks of the request path's pieces, with -benchmem so allocations are visible, and
// TestHotPathAllocations to guard them.

func benchGateway(b testing.TB) *gateway {
	cfg := testConfig(b, map[string]string{"streamlit_upstream": "http://127.0.0.1:1", "api_upstream": "http://127.0.0.1:1"})
	g, err := newGateway(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), "127.0.0.1:0", nil)
	if err != nil {
		b.Fatal(err)
	}
	return g
}

func BenchmarkSplitPath(b *testing.B) {
	g := benchGateway(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		g.splitPath("/api/users/42")
		g.splitPath("/_stcore/stream")
	}
}

func BenchmarkRequestIDGenerate(b *testing.B) {
	src := newRequestIDSource()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		src.fromRequest("")
	}
}

func BenchmarkRequestIDKeep(b *testing.B) {
	src := newRequestIDSource()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		src.fromRequest("0f8fad5b-d9cb-469f-a165-70867728950e")
	}
}

func BenchmarkRewriteHeaders(b *testing.B) {
	g := benchGateway(b)
	in := httptest.NewRequest(http.MethodGet, "http://app.example/page", nil)
	in.Header.Set("Cookie", "_streamlit_xsrf=abc")
	in.Header.Set("User-Agent", "bench")
	out := in.Header.Clone()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		fi := g.forwardedInfo(in)
		g.setForwarded(out, &fi, g.gens.current().ui[0].up)
		for k := range out {
			if !hopKeepRequestHeader(g, k, true) {
				delete(out, k)
			}
		}
	}
}

// BenchmarkProxySmallGET is the whole request path in process: a client over loopback to
// the gateway to an upstream answering 100 bytes.
func BenchmarkProxySmallGET(b *testing.B) {
	body := strings.Repeat("x", 100)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }))
	defer up.Close()
	cfg := testConfig(b, map[string]string{"streamlit_upstream": up.URL})
	_, gw := startGateway(b, cfg)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := client.Get(gw.URL + "/bytes")
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
}

func TestHotPathAllocations(t *testing.T) {
	g := benchGateway(t)
	src := newRequestIDSource()
	frame := wsFrames(t, bytes.Repeat([]byte("m"), 1024))
	frameRelay := &relay{dst: io.Discard, counter: new(atomic.Int64)}
	tests := []struct {
		name string
		f    func()
		max  float64
	}{
		{"splitPath", func() { g.splitPath("/api/users/42") }, 0},
		{"request id kept", func() { src.fromRequest("trace-1") }, 0},
		{"request id generated", func() { src.fromRequest("") }, 1},
		{"validRequestID", func() { validRequestID("0f8fad5b-d9cb-469f") }, 0},
		{"relay.forward of a 1 KiB frame", func() { frameRelay.forward(frame) }, 0},
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(1000, tt.f); got > tt.max {
			t.Errorf("%s: %v allocations per call; want at most %v", tt.name, got, tt.max)
		}
	}
}
