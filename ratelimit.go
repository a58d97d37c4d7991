// ratelimit.go owns the in-memory, per-key token-bucket rate limiter the gateway consults before
// proxying (key: client IP, or an API key). Memory is bounded by maxKeys whatever the key
// distribution; the limiter knows nothing about HTTP (the gateway writes the 429 and
// Retry-After).

package main

import (
	"hash/maphash"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rateLimitDefaultMaxKeys is the key bound used when maxKeys <= 0 (and the value the integrator
// passes). An entry costs about 60-100 bytes (the cloned key string, an int64 and map overhead),
// so 100,000 keys cap the limiter at roughly 10 MB. That is more distinct clients than one
// fluxlit app sees within a refill window; beyond it the least-indebted buckets are forgotten,
// which at worst lets those clients burst again.
const rateLimitDefaultMaxKeys = 100_000

// rateLimitShards is the number of independently locked maps. Each allow holds one shard's lock
// for ~50 ns, so with 64 shards two requests collide only when their keys hash alike, and
// fluxlit runs on far fewer cores than that. Small limiters use fewer shards (see
// rateLimitMinShardKeys).
const rateLimitShards = 64

// rateLimitMinShardKeys keeps shards from being so small that eviction in one shard happens
// while others are empty: below 64 × 256 keys the shard count halves until each holds ≥ 256.
const rateLimitMinShardKeys = 256

// rateLimitEvictFraction: when a full shard has no full (idle) bucket to drop, it evicts the
// buckets whose refill deadline is within the lowest 1/8 of the shard's range. Evicting a batch,
// not one entry, keeps the O(shard) scan amortised under a flood of distinct keys.
const rateLimitEvictFraction = 8

// rateLimiter is a token bucket per key: each key may spend burst requests at once and regains
// rps tokens per second. It is stored GCRA-style: per key one int64, the moment (ns since epoch)
// at which that key's bucket will be full again. A bucket whose moment has passed is full, so
// forgetting it loses nothing; eviction prefers those, then the ones nearest to full (which are
// also the ones touched longest ago).
//
// Sharded maps with a mutex each, rather than lock-free: every allow is a read-modify-write, the
// case sync.Map is slow at, and bounding the size means deleting across entries, which atomics
// per entry cannot make consistent. An uncontended mutex costs ~20 ns, far below a proxied
// request.
//
// A nil *rateLimiter allows everything (rate limiting off).
type rateLimiter struct {
	interval int64 // ns per token (1/rps)
	tau      int64 // (burst-1) × interval: how far into debt a key may run
	epoch    time.Time
	seed     maphash.Seed
	shards   []rateShard
}

// rateShard is one independently locked part of the key space.
type rateShard struct {
	mu     sync.Mutex
	full   map[string]int64 // key -> ns since epoch at which its bucket is full
	maxLen int
	_      [40]byte // keep neighbouring shards' mutexes off one cache line
}

// newRateLimiter returns a limiter allowing burst requests at once and rps per second after,
// holding at most maxKeys keys (rateLimitDefaultMaxKeys when <= 0). rps <= 0, NaN or +Inf means
// no limit and returns nil. burst < 1 is taken as 1.
func newRateLimiter(rps float64, burst int, maxKeys int) *rateLimiter {
	if !(rps > 0) || math.IsInf(rps, 1) {
		return nil
	}
	if burst < 1 {
		burst = 1
	}
	if maxKeys <= 0 {
		maxKeys = rateLimitDefaultMaxKeys
	}
	interval := int64(math.Ceil(float64(time.Second) / rps))
	if interval < 1 {
		interval = 1
	}
	tau := int64(burst-1) * interval
	if burst > 1 && tau/int64(burst-1) != interval { // overflow: a debt of centuries is no limit worth keeping exact
		tau = math.MaxInt64 / 2
	}
	n := rateLimitShards
	for n > 1 && maxKeys/n < rateLimitMinShardKeys {
		n /= 2
	}
	l := &rateLimiter{interval: interval, tau: tau, epoch: time.Now(), seed: maphash.MakeSeed(), shards: make([]rateShard, n)}
	for i := range l.shards {
		// Spread maxKeys exactly: the first maxKeys%n shards take one extra.
		l.shards[i].maxLen = maxKeys / n
		if i < maxKeys%n {
			l.shards[i].maxLen++
		}
		l.shards[i].full = make(map[string]int64)
	}
	return l
}

// allow spends one token of key's bucket at now. When the bucket is empty it returns false and
// how long until one token is available (the caller rounds up to whole seconds for
// Retry-After). now must come from one clock for the limiter's life (time.Now in production).
// An existing key costs no allocation; a new key clones it once, so the map never pins a large
// string the key was sliced from.
func (l *rateLimiter) allow(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	t := int64(now.Sub(l.epoch))
	s := &l.shards[maphash.String(l.seed, key)%uint64(len(l.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	full, known := s.full[key]
	if !known || full < t {
		full = t // an unknown or idle key has a full bucket
	}
	if debt := full - t; debt > l.tau {
		return false, time.Duration(debt - l.tau)
	}
	if !known {
		if len(s.full) >= s.maxLen {
			s.evict(t)
		}
		key = strings.Clone(key)
	}
	s.full[key] = full + l.interval
	return true, 0
}

// evict makes room in a full shard. First every full bucket goes: forgetting it is lossless.
// If none was full, the buckets nearest to full go: those within the lowest
// 1/rateLimitEvictFraction of the shard's range of refill deadlines (at least one).
func (s *rateShard) evict(t int64) {
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for k, full := range s.full {
		if full <= t {
			delete(s.full, k)
			continue
		}
		lo, hi = min(lo, full), max(hi, full)
	}
	if len(s.full) < s.maxLen {
		return
	}
	cut := lo + (hi-lo)/rateLimitEvictFraction
	for k, full := range s.full {
		if full <= cut {
			delete(s.full, k)
		}
	}
}

// size is the number of keys held, for tests and the metrics gauge.
func (l *rateLimiter) size() int {
	if l == nil {
		return 0
	}
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.full)
		s.mu.Unlock()
	}
	return n
}

// rateRetryAfterHeader renders retryAfter as a Retry-After value: whole seconds rounded up, at
// least 1, so a client that waits exactly that long always finds a token.
func rateRetryAfterHeader(retryAfter time.Duration) string {
	secs := int64((retryAfter + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return strconv.FormatInt(secs, 10)
}
