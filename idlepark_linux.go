//go:build linux && !386 && !nofastpath

// idlepark_linux.go: a kept-alive client connection that waits for its next request holds
// no goroutine and no buffer. Go's poller needs a goroutine per waiting connection, whose
// stack has grown serving requests (8-16 KiB), and the fast engine's two buffers are 12 KiB
// more: 10,000 idle connections cost 250 MB (issue #16, BENCHMARKS.md). So after
// fastParkAfter of silence a connection gives its buffers back and is parked in an epoll set
// of fluxlit's own, as nginx keeps every idle connection; one goroutine waits on the set and
// hands a connection whose next request arrived (or that ended, or whose keep-alive time ran
// out) back to a pooled goroutine, which serves it as before.
//
// The socket stays registered with Go's poller too (an fd may be in several epoll sets);
// fluxlit's set is level-triggered and one-shot, so a request that arrived while the
// connection was being parked is seen at once, and each park is woken once.

package main

import (
	"sync"
	"syscall"
	"time"
)

// parkSweepEvery is how often the parker looks for connections whose keep-alive time ran
// out: a connection lingers at most this much past serverIdleTimeout.
const parkSweepEvery = time.Second

// parker holds the parked connections, by slot: the slot and a generation number are the
// epoll event's data, so a stale event (a slot freed and reused meanwhile) is known.
type parker struct {
	epfd  int
	mu    sync.Mutex
	slots []parkSlot
	free  []int32
}

type parkSlot struct {
	fc       *fastConn
	fd       int
	gen      int32
	deadline time.Time
}

// idleParker is the process's one parker, made when the first fast engine starts: one epoll
// set and one goroutine serve every connection (and every test's fast engine).
var idleParker = sync.OnceValue(newParker)

// newParker makes the epoll set and starts its goroutine; nil when the set cannot be made
// (connections then wait on their goroutines, as before).
func newParker() *parker {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	p := &parker{epfd: epfd}
	go p.loop()
	return p
}

// park takes fc, which has given back its buffers, until its next request, its end or
// deadline. It reports false when fc cannot be parked (not a plain socket): the caller waits
// on its own goroutine. After true, the caller must not touch fc.
func (p *parker) park(fc *fastConn, deadline time.Time) bool {
	rc, ok := rawConnOf(fc.c)
	if !ok {
		return false
	}
	fd := -1
	rc.Control(func(f uintptr) { fd = int(f) })
	if fd < 0 {
		return false
	}
	p.mu.Lock()
	var i int32
	if n := len(p.free); n > 0 {
		i, p.free = p.free[n-1], p.free[:n-1]
	} else {
		p.slots = append(p.slots, parkSlot{})
		i = int32(len(p.slots) - 1)
	}
	s := &p.slots[i]
	s.fc, s.fd, s.deadline = fc, fd, deadline
	s.gen++
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: i, Pad: s.gen}
	// Registered under the lock: an event that comes at once finds the slot filled.
	err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev)
	if err != nil {
		s.fc = nil
		p.free = append(p.free, i)
	}
	p.mu.Unlock()
	return err == nil
}

// loop waits on the set and resumes what it reports; every parkSweepEvery it wakes the
// connections whose keep-alive time ran out, to be closed by their own goroutines.
func (p *parker) loop() {
	events := make([]syscall.EpollEvent, 128)
	lastSweep := time.Now()
	for {
		n, err := syscall.EpollWait(p.epfd, events, int(parkSweepEvery/time.Millisecond))
		if err != nil && err != syscall.EINTR {
			return
		}
		for _, ev := range events[:max(n, 0)] {
			if fc := p.take(ev.Fd, ev.Pad); fc != nil {
				connWorkers.goPooled(fc.resume)
			}
		}
		if now := time.Now(); now.Sub(lastSweep) >= parkSweepEvery {
			lastSweep = now
			p.wake(now)
		}
	}
}

// take removes a parked connection from the set; nil for a stale event.
func (p *parker) take(i, gen int32) *fastConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if int(i) >= len(p.slots) {
		return nil
	}
	s := &p.slots[i]
	if s.fc == nil || s.gen != gen {
		return nil
	}
	fc := s.fc
	syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, s.fd, nil)
	s.fc = nil
	p.free = append(p.free, i)
	return fc
}

// wake resumes every connection whose deadline is before now, with its read deadline
// passed, so that its goroutine closes it. wake(far future) wakes all (shutdown).
func (p *parker) wake(now time.Time) {
	var due []*fastConn
	p.mu.Lock()
	for i := range p.slots {
		s := &p.slots[i]
		if s.fc != nil && !s.deadline.After(now) {
			syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, s.fd, nil)
			due = append(due, s.fc)
			s.fc = nil
			p.free = append(p.free, int32(i))
		}
	}
	p.mu.Unlock()
	for _, fc := range due {
		fc.c.SetReadDeadline(time.Unix(1, 0))
		connWorkers.goPooled(fc.resume)
	}
}

// wakeAll resumes every parked connection to be closed (Shutdown).
func (p *parker) wakeAll() {
	if p != nil {
		p.wake(time.Now().Add(365 * 24 * time.Hour))
	}
}
