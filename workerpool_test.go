package main

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// goroutineID is the number runtime.Stack prints first ("goroutine 42 [running]:").
func goroutineID() uint64 {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	buf = bytes.TrimPrefix(buf, []byte("goroutine "))
	id, _ := strconv.ParseUint(string(buf[:bytes.IndexByte(buf, ' ')]), 10, 64)
	return id
}

// waitIdle waits until p has n idle workers, for up to 5 s.
func waitIdle(t *testing.T, p *workerPool, n int32) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for p.idle.Load() != n {
		if time.Now().After(deadline) {
			t.Fatalf("idle workers: %d; want %d", p.idle.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWorkerPoolReusesAnIdleWorker(t *testing.T) {
	p := newWorkerPool(4)
	ids := make(chan uint64, 2)
	p.goPooled(func() { ids <- goroutineID() })
	first := <-ids
	waitIdle(t, p, 1)
	p.goPooled(func() { ids <- goroutineID() })
	if second := <-ids; second != first {
		t.Fatalf("second function ran on goroutine %d; want the idle worker %d", second, first)
	}
	waitIdle(t, p, 1)
}

func TestWorkerPoolRunsFunctionsConcurrently(t *testing.T) {
	// Each function waits until all have started: one worker running them in turn would
	// never get past the first.
	const n = 8
	p := newWorkerPool(2)
	var started, done sync.WaitGroup
	started.Add(n)
	done.Add(n)
	for range n {
		p.goPooled(func() {
			started.Done()
			started.Wait()
			done.Done()
		})
	}
	finished := make(chan struct{})
	go func() { done.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatal("pooled functions did not all run at once")
	}
}

func TestWorkerPoolKeepsAtMostMaxIdle(t *testing.T) {
	p := newWorkerPool(2)
	release := make(chan struct{})
	var ran sync.WaitGroup
	ran.Add(5)
	for range 5 {
		p.goPooled(func() { <-release; ran.Done() })
	}
	close(release)
	ran.Wait()
	waitIdle(t, p, 2)
	time.Sleep(20 * time.Millisecond) // the other three must have ended, not gone idle late
	if got := p.idle.Load(); got != 2 {
		t.Fatalf("idle workers after a burst of 5: %d; want the cap, 2", got)
	}
}

// TestWorkerPoolsKeepREADMEsIdleCount: "up to 256 per pool wait for work after their job
// ends" (README, Performance), for both pools.
func TestWorkerPoolsKeepREADMEsIdleCount(t *testing.T) {
	for name, p := range map[string]*workerPool{"connections": connWorkers, "tunnel pumps": pumpWorkers} {
		if p.maxIdle != 256 {
			t.Errorf("%s pool keeps up to %d idle workers; the README says 256", name, p.maxIdle)
		}
	}
}
