// memory.go: giving memory back after a burst of connections. Go frees memory only in a
// collection, and starts one when the program allocates; once a burst has ended, an idle
// fluxlit allocates almost nothing, so the memory of 10,000 connections — the buffers they
// gave to sync.Pools when they went idle, then the connections themselves once closed —
// stayed resident for minutes (issue #16). So every memoryCheckEvery: when at least
// memoryBurst connections opened or closed since the last release and the last interval was
// quiet (under a tenth of that), the burst is over, and a collection runs and returns the
// free memory to the system (debug.FreeOSMemory). Steady traffic never meets the rule (and
// the collector keeps up with it on its own); an idle fluxlit has nothing to release.

package main

import (
	"context"
	"runtime"
	"runtime/debug"
	"time"
)

// memoryCheckEvery is how often the connection count is looked at: the memory of a burst is
// back within about twice this after its end.
const memoryCheckEvery = 10 * time.Second

// memoryBurst: a thousand connections hold tens of megabytes; two full collections of an idle
// heap of a few megabytes cost a millisecond or two.
const memoryBurst = 1000

// releaseAfterBursts runs until ctx ends. events counts the client connections opened and
// closed so far.
func releaseAfterBursts(ctx context.Context, events func() uint64) {
	t := time.NewTicker(memoryCheckEvery)
	defer t.Stop()
	released := events()
	last := released
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := events()
		if now-released >= memoryBurst && now-last < memoryBurst/10 {
			// Two collections: the first sets aside what sync.Pools hold, the second —
			// FreeOSMemory's — frees it, and the free memory goes back to the system.
			runtime.GC()
			debug.FreeOSMemory()
			released = now
		}
		last = now
	}
}
