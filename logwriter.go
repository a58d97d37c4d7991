// logwriter.go owns the buffering of fluxlit's own log output. One write(2) per access line
// made logging the most expensive part of a small proxied request (observe_bench_test.go);
// lines are buffered instead and flushed at least every logFlushInterval, when the buffer
// fills, and at exit.

package main

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// A tenth of a second is below what a person tailing the log notices, and at 20k requests/s
// it turns ~2,000 writes into one.
const (
	logFlushInterval = 100 * time.Millisecond
	logBufferSize    = 32 << 10
)

type bufferedLog struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newBufferedLog(w io.Writer) *bufferedLog {
	b := &bufferedLog{w: bufio.NewWriterSize(w, logBufferSize), stop: make(chan struct{}), done: make(chan struct{})}
	go b.flushLoop()
	return b
}

func (b *bufferedLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

func (b *bufferedLog) flushLoop() {
	defer close(b.done)
	t := time.NewTicker(logFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.Flush()
		case <-b.stop:
			return
		}
	}
}

// Flush writes what is buffered.
func (b *bufferedLog) Flush() {
	b.mu.Lock()
	b.w.Flush()
	b.mu.Unlock()
}

// Close stops the flusher and writes the rest.
func (b *bufferedLog) Close() {
	close(b.stop)
	<-b.done
	b.Flush()
}
