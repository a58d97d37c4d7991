// requestid.go owns X-Request-ID: a client's id is kept when it is well-formed (1-128
// characters of [A-Za-z0-9._:-]), anything else is replaced by one fluxlit generates.

package main

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
)

// maxRequestIDLen bounds a client-chosen id: long enough for a UUID, a W3C trace id or a
// vendor's composite id, short enough that it cannot bloat every log line it is written on.
const maxRequestIDLen = 128

// requestIDSource generates ids as a random per-process prefix plus a counter: unique
// across restarts and replicas in practice, and a single atomic add per request instead of
// a read from the kernel's random source.
type requestIDSource struct {
	prefix  string
	counter atomic.Uint64
}

func newRequestIDSource() *requestIDSource {
	var b [6]byte
	rand.Read(b[:])
	return &requestIDSource{prefix: hex.EncodeToString(b[:]) + "-"}
}

// fromRequest returns the client's id when valid, else a new one.
func (s *requestIDSource) fromRequest(client string) string {
	if validRequestID(client) {
		return client
	}
	return s.next()
}

func (s *requestIDSource) next() string {
	n := s.counter.Add(1)
	var buf [32]byte
	b := append(buf[:0], s.prefix...)
	b = strconv.AppendUint(b, n, 36)
	return string(b)
}

func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}
