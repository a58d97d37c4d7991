// workerpool.go: goroutines that outlive the connection they served.

package main

import "sync/atomic"

// A new goroutine starts with a small stack (2 KiB) and grows it by copying the whole stack
// each time it runs out. Serving one WebSocket connect (reading the handshake, dialing the
// upstream, then the tunnel's two pumps) grew stacks 3.7 times, and the copying was 7 % of
// fluxlit's CPU per connect (perf, BENCHMARKS.md). A workerPool runs each function on an idle
// goroutine whose stack has already grown, and starts a new goroutine only when none is idle.
//
// At most maxIdle goroutines wait for work; the rest end. An idle worker costs its stack,
// a few KiB, which the collector halves at each cycle while it stays idle. A function that
// panics ends the process, as it would on a goroutine of its own.
type workerPool struct {
	work    chan func() // unbuffered: a send succeeds only when a worker waits
	idle    atomic.Int32
	maxIdle int32
}

func newWorkerPool(maxIdle int32) *workerPool {
	return &workerPool{work: make(chan func()), maxIdle: maxIdle}
}

// connWorkers serve client connections, pumpWorkers run tunnel pumps: two pools, because a
// connection's goroutine grows a deeper stack (dialing an upstream: 8 KiB) than a pump needs
// (4 KiB), and a pump held by an idle WebSocket for hours should not keep the larger one
// (with one pool, idle tunnels cost 16.6 KiB each instead of 11.6). 256 idle workers each
// cover the bench's 64 connections.
var (
	connWorkers = newWorkerPool(256)
	pumpWorkers = newWorkerPool(256)
)

// goPooled runs f on a pooled goroutine: go f(), without growing a new stack.
func (p *workerPool) goPooled(f func()) {
	select {
	case p.work <- f:
	default:
		go p.worker(f)
	}
}

func (p *workerPool) worker(f func()) {
	for {
		f()
		if p.idle.Add(1) > p.maxIdle {
			p.idle.Add(-1)
			return
		}
		f = <-p.work
		p.idle.Add(-1)
	}
}
