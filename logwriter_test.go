package main

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// gateWriter blocks every Write until opened, like a pipe whose reader stalled.
type gateWriter struct {
	mu      sync.Mutex
	open    chan struct{}
	entered chan struct{} // a Write has begun (when not nil, closed once)
	once    sync.Once
	got     bytes.Buffer
	err     error
}

func (w *gateWriter) Write(p []byte) (int, error) {
	if w.entered != nil {
		w.once.Do(func() { close(w.entered) })
	}
	<-w.open
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	return w.got.Write(p)
}

func (w *gateWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.got.String()
}

// A stalled output never blocks Write; what does not fit is dropped, counted, and reported
// once the output takes lines again; Close gives up after logExitWait.
func TestBufferedLogStalledReader(t *testing.T) {
	w := &gateWriter{open: make(chan struct{})}
	b := newBufferedLog(w)
	reported := make(chan uint64, 1)
	b.reportDrops(func(n uint64) { reported <- n })
	line := strings.Repeat("x", 1023) + "\n"
	start := time.Now()
	for i := 0; i < 3*logQueueMax/len(line); i++ {
		b.Write([]byte(line))
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("writes with the output stalled took %v; want no blocking", d)
	}
	if b.Dropped() == 0 {
		t.Fatal("nothing dropped with 3 MiB queued behind a stalled output")
	}
	close(w.open)
	select {
	case n := <-reported:
		if n != b.Dropped() {
			t.Fatalf("reported %d dropped lines; want %d", n, b.Dropped())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no drop report after the output came back")
	}
	b.Close()
	if got := strings.Count(w.String(), "\n"); uint64(got)+b.Dropped() != uint64(3*logQueueMax/len(line)) {
		t.Fatalf("%d lines written + %d dropped; want every line accounted for", got, b.Dropped())
	}
}

func TestBufferedLogCloseBounded(t *testing.T) {
	w := &gateWriter{open: make(chan struct{}), entered: make(chan struct{})}
	b := newBufferedLog(w)
	b.Write([]byte("one\n"))
	<-w.entered // the flusher is now stuck in Write
	start := time.Now()
	b.Close()
	if d := time.Since(start); d > 3*logExitWait {
		t.Fatalf("Close with a stalled output took %v; want about %v", d, logExitWait)
	}
	close(w.open)
}

// A failing output (EPIPE: the reader is gone) counts its lines as dropped.
func TestBufferedLogFailingOutput(t *testing.T) {
	w := &gateWriter{open: make(chan struct{}), err: errors.New("broken pipe")}
	close(w.open)
	b := newBufferedLog(w)
	b.Write([]byte("a\n"))
	b.Write([]byte("b\n"))
	b.Close()
	if b.Dropped() != 2 {
		t.Fatalf("dropped %d; want 2", b.Dropped())
	}
}
