package main

import (
	"fmt"
	"math"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rateT0 is a fixed fake clock origin; tests move time by adding to it.
var rateT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestRateLimiterBurstThenDeny(t *testing.T) {
	tests := []struct {
		name      string
		rps       float64
		burst     int
		wantRetry time.Duration
	}{
		{"1 rps burst 3", 1, 3, time.Second},
		{"10 rps burst 5", 10, 5, 100 * time.Millisecond},
		{"0.5 rps burst 1", 0.5, 1, 2 * time.Second},
		{"burst 0 means 1", 2, 0, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newRateLimiter(tt.rps, tt.burst, 100)
			burst := max(tt.burst, 1)
			for i := 0; i < burst; i++ {
				if ok, ra := l.allow("k", rateT0); !ok || ra != 0 {
					t.Fatalf("request %d: got (%v, %v); want (true, 0)", i+1, ok, ra)
				}
			}
			ok, ra := l.allow("k", rateT0)
			if ok || ra != tt.wantRetry {
				t.Fatalf("after burst: got (%v, %v); want (false, %v)", ok, ra, tt.wantRetry)
			}
			// Halfway through the wait it is still denied, with half the wait left.
			ok, ra = l.allow("k", rateT0.Add(tt.wantRetry/2))
			if ok || ra != tt.wantRetry-tt.wantRetry/2 {
				t.Fatalf("half-way: got (%v, %v); want (false, %v)", ok, ra, tt.wantRetry-tt.wantRetry/2)
			}
			// Exactly at retryAfter one token is back, and only one.
			if ok, _ := l.allow("k", rateT0.Add(tt.wantRetry)); !ok {
				t.Fatalf("at retryAfter: denied; want allowed")
			}
			if ok, _ := l.allow("k", rateT0.Add(tt.wantRetry)); ok {
				t.Fatalf("second at retryAfter: allowed; want denied")
			}
		})
	}
}

func TestRateLimiterPerKeyIsolation(t *testing.T) {
	l := newRateLimiter(1, 2, 100)
	for i := 0; i < 2; i++ {
		l.allow("a", rateT0)
	}
	if ok, _ := l.allow("a", rateT0); ok {
		t.Fatalf("a: allowed after burst; want denied")
	}
	for i := 0; i < 2; i++ {
		if ok, _ := l.allow("b", rateT0); !ok {
			t.Fatalf("b request %d: denied; want allowed (a's bucket must not affect b)", i+1)
		}
	}
}

func TestRateLimiterRefill(t *testing.T) {
	l := newRateLimiter(2, 4, 100) // 2 tokens/s, burst 4
	for i := 0; i < 4; i++ {
		l.allow("k", rateT0)
	}
	tests := []struct {
		name    string
		elapsed time.Duration
		want    int // requests allowed in a row at that moment
	}{
		{"nothing refilled", 0, 0},
		{"one token after 0.5s", 500 * time.Millisecond, 1},
		{"two more after 1.5s total", 1500 * time.Millisecond, 2},
		{"capped at burst after a long idle", time.Hour, 4},
	}
	for _, tt := range tests {
		got := 0
		for got < 10 {
			if ok, _ := l.allow("k", rateT0.Add(tt.elapsed)); !ok {
				break
			}
			got++
		}
		if got != tt.want {
			t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestRateLimiterDisabled(t *testing.T) {
	for _, rps := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		l := newRateLimiter(rps, 1, 10)
		if l != nil {
			t.Fatalf("newRateLimiter(%v): got %v; want nil (off)", rps, l)
		}
		for i := 0; i < 100; i++ {
			if ok, ra := l.allow("k", rateT0); !ok || ra != 0 {
				t.Fatalf("nil limiter: got (%v, %v); want (true, 0)", ok, ra)
			}
		}
		if l.size() != 0 {
			t.Fatalf("nil limiter size: got %v; want 0", l.size())
		}
	}
}

func TestRateLimiterEvictsFullBucketsFirst(t *testing.T) {
	l := newRateLimiter(1, 2, 4) // one shard of 4
	// "hot" spends its whole burst and is in debt for 2s; the others spend one token (1s).
	l.allow("hot", rateT0)
	l.allow("hot", rateT0)
	l.allow("a", rateT0)
	l.allow("b", rateT0)
	l.allow("c", rateT0)
	// 1.5s later a, b, c are full again, hot is not: a new key must evict the full ones.
	now := rateT0.Add(1500 * time.Millisecond)
	if ok, _ := l.allow("new", now); !ok {
		t.Fatal("new key denied")
	}
	if got := l.size(); got != 2 {
		t.Errorf("size: got %v; want %v (a, b, c evicted)", got, 2)
	}
	// hot kept its debt: one token is back (0.5s after full-debt), the second is not.
	if ok, _ := l.allow("hot", now); !ok {
		t.Fatal("hot: first token denied")
	}
	if ok, _ := l.allow("hot", now); ok {
		t.Errorf("hot: second token allowed; want denied (its bucket was evicted)")
	}
}

func TestRateLimiterEvictsNearestFullWhenNoneIdle(t *testing.T) {
	l := newRateLimiter(1, 10, 3) // one shard of 3
	// old spent 1 token at t0 (full at 1s), mid 1 at 0.5s (full at 1.5s), busy 9 at 0.9s (full at 9.9s).
	l.allow("old", rateT0)
	l.allow("mid", rateT0.Add(500*time.Millisecond))
	for i := 0; i < 9; i++ {
		l.allow("busy", rateT0.Add(900*time.Millisecond))
	}
	l.allow("new", rateT0.Add(900*time.Millisecond)) // nothing full yet
	if got := l.size(); got > 3 {
		t.Fatalf("size: got %v; want ≤ 3", got)
	}
	s := &l.shards[0]
	if _, ok := s.full["old"]; ok {
		t.Errorf("old kept; want it evicted (nearest to full)")
	}
	if _, ok := s.full["busy"]; !ok {
		t.Errorf("busy evicted; want kept (deepest in debt)")
	}
	if _, ok := s.full["new"]; !ok {
		t.Errorf("new not inserted")
	}
}

func TestRateLimiterShardLayout(t *testing.T) {
	tests := []struct {
		name       string
		maxKeys    int
		wantShards int
	}{
		{"default", 0, 64},
		{"large", 100_000, 64},
		{"small", 1000, 2},
		{"tiny", 5, 1},
		{"odd", 16_385, 64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newRateLimiter(1, 1, tt.maxKeys)
			if len(l.shards) != tt.wantShards {
				t.Errorf("shards: got %v; want %v", len(l.shards), tt.wantShards)
			}
			want := tt.maxKeys
			if want <= 0 {
				want = rateLimitDefaultMaxKeys
			}
			total := 0
			for i := range l.shards {
				total += l.shards[i].maxLen
			}
			if total != want {
				t.Errorf("sum of shard capacities: got %v; want %v", total, want)
			}
		})
	}
}

func TestRateLimiterMillionKeysBounded(t *testing.T) {
	const maxKeys = 10_000
	const keys = 1_000_000
	l := newRateLimiter(1, 5, maxKeys)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	buf := make([]byte, 0, 32)
	for i := 0; i < keys; i++ {
		buf = strconv.AppendInt(append(buf[:0], "198.51."...), int64(i), 10)
		// Time creeps forward 1µs per request (1M requests in 1s), so most buckets are still
		// in debt when evicted: the "nearest to full" path, not only the lossless one.
		if ok, _ := l.allow(string(buf), rateT0.Add(time.Duration(i)*time.Microsecond)); !ok {
			t.Fatalf("key %d denied; a new key always has a token", i)
		}
		if i%100_000 == 0 && l.size() > maxKeys {
			t.Fatalf("after %d keys size = %d; want ≤ %d", i, l.size(), maxKeys)
		}
	}
	if got := l.size(); got > maxKeys || got < maxKeys/2 {
		t.Fatalf("size: got %v; want between %v and %v", got, maxKeys/2, maxKeys)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	// ~100 B per kept entry is the design estimate; allow 4× plus 1 MiB for map slack.
	// Unbounded, 1M keys would hold ~60 MB or more.
	const bound = 4*100*maxKeys + 1<<20
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if growth > bound {
		t.Errorf("heap growth: got %d bytes; want ≤ %d", growth, bound)
	}
	t.Logf("1M keys: size %d, heap growth %d bytes", l.size(), growth)
	runtime.KeepAlive(l)
}

func TestRateLimiterConcurrent(t *testing.T) {
	// 8 goroutines × 2,000 requests on 16 shared keys at one instant: exactly burst per key may
	// pass, whatever the interleaving.
	const burst = 50
	l := newRateLimiter(1, burst, 1000)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				if ok, _ := l.allow(fmt.Sprintf("k%d", i%16), rateT0); ok {
					allowed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if got, want := allowed.Load(), int64(16*burst); got != want {
		t.Errorf("allowed: got %v; want %v", got, want)
	}
	if got := l.size(); got != 16 {
		t.Errorf("size: got %v; want 16", got)
	}
}

func BenchmarkRateLimiterAllow(b *testing.B) {
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "203.0.113." + strconv.Itoa(i)
	}
	b.Run("existing_keys", func(b *testing.B) {
		l := newRateLimiter(1e9, 1, rateLimitDefaultMaxKeys)
		now := time.Now()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			l.allow(keys[i&1023], now)
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		l := newRateLimiter(1e9, 1, rateLimitDefaultMaxKeys)
		now := time.Now()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				l.allow(keys[i&1023], now)
				i++
			}
		})
	})
	b.Run("denied", func(b *testing.B) {
		l := newRateLimiter(1, 1, rateLimitDefaultMaxKeys)
		now := time.Now()
		l.allow("k", now)
		b.ReportAllocs()
		for b.Loop() {
			l.allow("k", now)
		}
	})
}

func TestRateRetryAfterHeader(t *testing.T) {
	tests := []struct {
		name string
		in   time.Duration
		want string
	}{
		{"zero", 0, "1"},
		{"sub-second", 100 * time.Millisecond, "1"},
		{"exact second", time.Second, "1"},
		{"just over", time.Second + time.Nanosecond, "2"},
		{"minutes", 90 * time.Second, "90"},
	}
	for _, tt := range tests {
		if got := rateRetryAfterHeader(tt.in); got != tt.want {
			t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestRateLimiterConcurrentEviction(t *testing.T) {
	const maxKeys = 600
	l := newRateLimiter(1, 1, maxKeys)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5000; i++ {
				l.allow(fmt.Sprintf("g%d-%d", g, i), rateT0.Add(time.Duration(i)*time.Millisecond))
				if i%500 == 0 && l.size() > maxKeys {
					t.Errorf("size %d > %d", l.size(), maxKeys)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := l.size(); got > maxKeys {
		t.Errorf("size: got %v; want ≤ %v", got, maxKeys)
	}
}
