// limitlisten.go: max_connections. At the cap, a new connection takes the slot of the
// connection that has waited longest for a request (a new one that never said a word, or a
// kept-alive one between requests), which is closed, as nginx reuses its idle connections
// when worker_connections run out. With no such connection, the new one is answered by
// overLimit (503 + Retry-After, health probes served) and closed: never left in the backlog in
// silence. Written here, not golang.org/x/net/netutil's LimitListener (which makes Accept
// wait), so that a TCP connection keeps its *net.TCPConn methods (the socket loops of
// socket_linux.go and splice need them) and fluxlit needs no x/net.

package main

import (
	"context"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// overLimitMax bounds the connections being answered over the cap at once. Answering one
// takes a millisecond; past 64 in flight the flood is not a burst, and a close answers it.
const overLimitMax = 64

// overLimitHeaderTimeout is how long a connection over the cap has to send its request head:
// a health probe sends it at once, anything slower is not worth a goroutine at the cap.
const overLimitHeaderTimeout = 2 * time.Second

// overLimitWarnEvery spaces the warnings that the cap was reached.
const overLimitWarnEvery = 10 * time.Second

// Slot states: a connection is busy until an engine says it waits for a request (idle); an
// idle one may be evicted, and an evicted one stays so.
const (
	slotBusy int32 = iota
	slotIdle
	slotEvicted
)

// limitListener caps the connections accepted from the listener and not yet closed.
type limitListener struct {
	net.Listener
	max       int
	overLimit func(net.Conn) // answers a connection over the cap; it owns c
	log       *slog.Logger
	lastWarn  atomic.Int64

	mu    sync.Mutex
	slots map[*connSlot]struct{}

	overLimitBusy atomic.Int32
	evicted       atomic.Uint64 // idle connections closed to make room
	answered      atomic.Uint64 // connections over the cap answered by overLimit
	refused       atomic.Uint64 // connections over the cap closed unanswered (overLimitMax busy)
}

func newLimitListener(ln net.Listener, n int, overLimit func(net.Conn), log *slog.Logger) *limitListener {
	return &limitListener{Listener: ln, max: n, overLimit: overLimit, log: log, slots: make(map[*connSlot]struct{}, n)}
}

// Accept returns the next connection that got a slot; the ones over the cap are answered or
// closed on the way.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		s := &connSlot{l: l}
		if victim, ok := l.admit(s); ok {
			if victim != nil {
				evict(victim.conn)
				l.evicted.Add(1)
				l.warnAtCap()
			}
			if tc, ok := c.(*net.TCPConn); ok {
				lc := &limitedTCPConn{TCPConn: tc, connSlot: s}
				s.conn = lc
				return lc, nil
			}
			lc := &limitedConn{Conn: c, connSlot: s}
			s.conn = lc
			return lc, nil
		}
		l.refuse(c)
		l.warnAtCap()
	}
}

// admit takes a free slot for s, or the slot of the connection idle the longest (returned,
// for the caller to close); false when every connection is busy.
func (l *limitListener) admit(s *connSlot) (victim *connSlot, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.slots) < l.max {
		l.slots[s] = struct{}{}
		return nil, true
	}
	for {
		var oldest *connSlot
		for o := range l.slots {
			if o.state.Load() == slotIdle && (oldest == nil || o.idleSince.Load() < oldest.idleSince.Load()) {
				oldest = o
			}
		}
		if oldest == nil {
			return nil, false
		}
		// The CAS loses only to the connection's own markBusy (a request just arrived): then
		// look again.
		if oldest.state.CompareAndSwap(slotIdle, slotEvicted) {
			oldest.released.Store(true) // its slot is s's now; its Close gives nothing back
			delete(l.slots, oldest)
			l.slots[s] = struct{}{}
			return oldest, true
		}
	}
}

// refuse hands a connection over the cap to overLimit, or closes it when overLimitMax are
// being answered already.
func (l *limitListener) refuse(c net.Conn) {
	if l.overLimit == nil || l.overLimitBusy.Add(1) > overLimitMax {
		if l.overLimit != nil {
			l.overLimitBusy.Add(-1)
		}
		l.refused.Add(1)
		c.Close()
		return
	}
	l.answered.Add(1)
	l.overLimit(&overLimitConn{Conn: c, done: func() { l.overLimitBusy.Add(-1) }})
}

// connSlot is a connection's place under the cap and what the engines say about it.
type connSlot struct {
	l         *limitListener
	conn      net.Conn // the wrapped connection, closed on eviction
	state     atomic.Int32
	idleSince atomic.Int64 // unix nanoseconds when it last became idle
	released  atomic.Bool
}

// evict ends a connection closed to make room: its read side is shut, so whoever waits for
// it (an engine's goroutine, or the parker of idle connections) sees the end and closes it.
func evict(c net.Conn) {
	if tc, ok := c.(*limitedTCPConn); ok {
		tc.TCPConn.CloseRead()
		return
	}
	c.Close()
}

// markIdle says the connection waits for a request: from now on it may be evicted.
func (s *connSlot) markIdle() {
	s.idleSince.Store(time.Now().UnixNano())
	s.state.CompareAndSwap(slotBusy, slotIdle)
}

// markBusy says a request began; false when the connection was evicted meanwhile (closed:
// the caller ends it).
func (s *connSlot) markBusy() bool {
	return s.state.Load() == slotBusy || s.state.CompareAndSwap(slotIdle, slotBusy)
}

func (s *connSlot) release() {
	if s.released.CompareAndSwap(false, true) {
		s.l.mu.Lock()
		delete(s.l.slots, s)
		s.l.mu.Unlock()
	}
}

// slotOf is the slot of a connection accepted under max_connections, or nil.
func slotOf(c net.Conn) *connSlot {
	switch c := c.(type) {
	case *limitedTCPConn:
		return c.connSlot
	case *limitedConn:
		return c.connSlot
	}
	return nil
}

// limitedTCPConn gives its slot back on Close; every other method is the TCPConn's. A read
// that returns bytes marks it busy (net/http reads a request head before it reports the
// connection active).
type limitedTCPConn struct {
	*net.TCPConn
	*connSlot
}

func (c *limitedTCPConn) Read(p []byte) (int, error) {
	n, err := c.TCPConn.Read(p)
	if n > 0 && c.state.Load() != slotBusy && !c.markBusy() {
		return 0, net.ErrClosed
	}
	return n, err
}

func (c *limitedTCPConn) Close() error {
	err := c.TCPConn.Close()
	c.release()
	return err
}

// limitedConn is limitedTCPConn for any other kind of connection.
type limitedConn struct {
	net.Conn
	*connSlot
}

func (c *limitedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.state.Load() != slotBusy && !c.markBusy() {
		return 0, net.ErrClosed
	}
	return n, err
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// overLimitConn is a connection answered over the cap; Close frees its place among the
// overLimitMax.
type overLimitConn struct {
	net.Conn
	once sync.Once
	done func()
}

func (c *overLimitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.done)
	return err
}

// stats are the numbers of the metrics: connections holding a slot, and the counters.
func (l *limitListener) stats() connLimitStats {
	st := connLimitStats{max: l.max, evicted: l.evicted.Load(), answered: l.answered.Load(), refused: l.refused.Load()}
	l.mu.Lock()
	st.open = len(l.slots)
	for s := range l.slots {
		if s.state.Load() == slotIdle {
			st.idle++
		}
	}
	l.mu.Unlock()
	return st
}

type connLimitStats struct {
	max, open, idle            int
	evicted, answered, refused uint64
}

// warnAtCap logs that the cap was reached, at most once per overLimitWarnEvery: under a
// flood one line says it, the metrics count it.
func (l *limitListener) warnAtCap() {
	now := time.Now().UnixNano()
	last := l.lastWarn.Load()
	if now-last < int64(overLimitWarnEvery) || !l.lastWarn.CompareAndSwap(last, now) || l.log == nil {
		return
	}
	st := l.stats()
	l.log.Warn("max_connections reached: idle connections closed to make room, others answered 503 or closed",
		"max_connections", st.max, "evicted", st.evicted, "answered_503", st.answered, "closed", st.refused)
}

// overLimitServer answers the connections over the cap: a health probe as usual (a busy
// instance is alive, and says whether it is ready), anything else 503 with Retry-After. One
// request per connection, a short time to send it.
type overLimitServer struct {
	srv *http.Server
	ln  *handoffListener
}

func newOverLimitServer(g *gateway, addr net.Addr, errorLog *log.Logger) *overLimitServer {
	s := &overLimitServer{ln: newHandoffListener()}
	s.ln.addr = addr
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(g.serveOverLimit),
		ReadHeaderTimeout: overLimitHeaderTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          errorLog,
	}
	s.srv.SetKeepAlivesEnabled(false)
	go s.srv.Serve(s.ln)
	return s
}

func (s *overLimitServer) serve(c net.Conn) { s.ln.give(c) }

func (s *overLimitServer) shutdown(ctx context.Context) {
	if s.srv.Shutdown(ctx) != nil {
		s.srv.Close()
	}
}

// serveOverLimit is the handler of overLimitServer.
func (g *gateway) serveOverLimit(w http.ResponseWriter, r *http.Request) {
	rt := g.splitPath(r.URL.Path)
	if rt.dispatch == dispatchAPI && (rt.apiPath == "/healthz" || rt.apiPath == "/readyz") {
		g.ServeHTTP(w, r)
		return
	}
	id := g.reqIDs.fromRequest(r.Header.Get("X-Request-Id"))
	rec := g.obs.begin(w, r, id, dispatchFluxlit, time.Now())
	defer g.obs.end(rec)
	rec.Header().Set("X-Request-Id", id)
	rec.Header().Set("Retry-After", "1")
	g.writeError(rec, r, http.StatusServiceUnavailable, "too many connections (max_connections); retry shortly", rt.dispatch == dispatchAPI)
}

// markConnState is net/http's ConnState hook under max_connections: a connection between
// requests waits for one, and so does a new one with nothing read yet. A connection the fast
// path handed over comes with the bytes of a request: it is busy when new, idle between
// requests like any other.
func markConnState(c net.Conn, st http.ConnState) {
	if replay, ok := c.(*fastReplayConn); ok {
		if st == http.StateNew {
			return
		}
		c = replay.Conn
	}
	if st == http.StateNew || st == http.StateIdle {
		if s := slotOf(c); s != nil {
			s.markIdle()
		}
	}
}
