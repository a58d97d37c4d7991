// logwriter.go owns fluxlit's own output while it runs: log lines (its own, the access log,
// the children's relayed output) are queued in memory and written by one goroutine, so that
// whatever reads stderr — a terminal, journald, a log shipper, `| tee` — can be slow, stall or
// vanish without blocking a request, a health check or shutdown, and without killing the
// process (SIGPIPE). Lines that do not fit the queue are dropped, counted, and reported once
// the reader takes lines again.

package main

import (
	"bytes"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A tenth of a second is below what a person tailing the log notices, and at 20k requests/s
// it turns ~2,000 writes into one; a writer wakes the flusher sooner once logFlushSize is
// queued. One write(2) per access line made logging the most expensive part of a small
// proxied request (observe_bench_test.go), hence the queue even when the reader keeps up.
const (
	logFlushInterval = 100 * time.Millisecond
	logFlushSize     = 32 << 10
)

// logQueueMax bounds what waits for a stalled reader: 1 MiB is several thousand access lines,
// more than a shipper's restart produces at ordinary load, and a bounded cost (twice, with the
// batch being written) when the reader never comes back. Past it, whole lines are dropped.
const logQueueMax = 1 << 20

// logExitWait is how long the last lines may take to leave at exit (and how long Flush
// waits): a reader that is there takes a megabyte in microseconds; one that has not in a
// second is stalled, and shutdown does not wait for it.
const logExitWait = time.Second

// bufferedLog is the queue in front of an output. Write never blocks on the output.
type bufferedLog struct {
	w io.Writer

	mu      sync.Mutex
	queue   []byte
	spare   []byte // the flusher's last batch, reused as the next queue
	dropped uint64 // lines dropped since the last report
	onDrop  func(lines uint64)

	droppedTotal atomic.Uint64 // every line dropped, for the metric

	wake     chan struct{}      // a writer filled logFlushSize
	flushReq chan chan struct{} // Flush asks, the flusher closes the channel when done
	stop     chan struct{}
	done     chan struct{} // the flusher has returned
	stopOnce sync.Once
}

func newBufferedLog(w io.Writer) *bufferedLog {
	b := &bufferedLog{w: w, wake: make(chan struct{}, 1), flushReq: make(chan chan struct{}),
		stop: make(chan struct{}), done: make(chan struct{})}
	go b.flushLoop()
	return b
}

// Write queues p, one log record (slog handlers write a record in one call), or drops it
// when the queue is full. It never fails: the caller is a request, not the log's owner.
func (b *bufferedLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	if len(b.queue)+len(p) > logQueueMax {
		b.dropped++
		b.mu.Unlock()
		b.droppedTotal.Add(1)
		return len(p), nil
	}
	b.queue = append(b.queue, p...)
	full := len(b.queue) >= logFlushSize
	b.mu.Unlock()
	if full {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// reportDrops sets what is called, from the flusher, when lines were dropped and a write has
// succeeded since: the reader is back. It logs through the queue like any other line.
func (b *bufferedLog) reportDrops(f func(lines uint64)) {
	b.mu.Lock()
	b.onDrop = f
	b.mu.Unlock()
}

// Dropped is the number of lines dropped since the start.
func (b *bufferedLog) Dropped() uint64 { return b.droppedTotal.Load() }

func (b *bufferedLog) flushLoop() {
	defer close(b.done)
	t := time.NewTicker(logFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-b.wake:
		case req := <-b.flushReq:
			b.flush()
			close(req)
			continue
		case <-b.stop:
			b.flush()
			return
		}
		b.flush()
	}
}

// flush writes the queue. Only the flusher calls it, so at most one write is in flight and
// the lines keep their order. A write that fails (EPIPE: the reader is gone) loses its lines,
// which count as dropped; a reader that stalls blocks only this goroutine.
func (b *bufferedLog) flush() {
	b.mu.Lock()
	batch := b.queue
	b.queue = b.spare[:0]
	b.mu.Unlock()
	if len(batch) == 0 {
		b.spare = batch
		return
	}
	_, err := b.w.Write(batch)
	lost := uint64(0)
	if err != nil {
		lost = uint64(bytes.Count(batch, []byte{'\n'}))
		b.droppedTotal.Add(lost)
	}
	b.mu.Lock()
	// The batch's buffer is the next queue, unless a burst grew it to four times what a
	// batch now needs: then it goes, and the memory of a burst of lines with it.
	if cap(batch) > logFlushSize && len(batch) < cap(batch)/4 {
		batch = nil
	}
	b.spare = batch[:0]
	b.dropped += lost
	var report func(uint64)
	n := b.dropped
	if err == nil && n > 0 && b.onDrop != nil {
		report, b.dropped = b.onDrop, 0
	}
	b.mu.Unlock()
	if report != nil {
		report(n)
	}
}

// Flush writes what is queued, waiting at most logExitWait for a stalled reader.
func (b *bufferedLog) Flush() {
	req := make(chan struct{})
	t := time.NewTimer(logExitWait)
	defer t.Stop()
	select {
	case b.flushReq <- req:
		select {
		case <-req:
		case <-t.C:
		}
	case <-b.done:
	case <-t.C:
	}
}

// Close writes the rest and stops the flusher, giving a stalled reader at most logExitWait:
// the process may then exit with its last lines unwritten rather than hang.
func (b *bufferedLog) Close() {
	b.stopOnce.Do(func() { close(b.stop) })
	t := time.NewTimer(logExitWait)
	defer t.Stop()
	select {
	case <-b.done:
	case <-t.C:
	}
}

// surviveSIGPIPE makes a write to a closed stdout or stderr fail with EPIPE instead of
// killing fluxlit (and, through Pdeathsig, its children). Go's runtime kills a program that
// writes to a broken pipe on descriptor 1 or 2 unless SIGPIPE is handled (os/signal, "SIGPIPE").
// It is handled rather than ignored: an ignored signal stays ignored in the children fluxlit
// execs, a handled one is reset to its default there. The channel is never read; signal
// delivery does not block on it.
func surviveSIGPIPE() {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
}
