//go:build !race

// observe_overhead_test.go holds TestObservabilityOverhead: the access log and the metrics
// cost under 5 % of a small request. The race detector multiplies CPU and allocations, so the
// file is built without it only: .ci/run runs it in its race-free step (-run 'Alloc|Overhead').

package main

import (
	"bufio"
	"runtime"
	"slices"
	"testing"
	"time"
)

// TestObservabilityOverhead measures the cost of the access log and the metrics on small
// requests in three ways, in one run:
//
//   - throughput, "off" and "on" gateways interleaved (5 rounds x 300 ms each side, the order
//     alternating), as the median of the per-round on/off ratios;
//   - process CPU time per request of each side (getrusage: client, gateway and upstream);
//   - the recording alone (obsRecord): on, its lines to a buffered file, minus off.
//
// On this 2-core machine shared with other test runs, the throughput ratio of two identical
// gateways swings by 15-25 % from run to run, so asserting it at 95 % would fail on noise. The
// test therefore asserts on the recording's cost as a share of the CPU one request takes in
// the same run (what throughput loses when the machine is CPU-bound), and on allocations, and
// only logs the throughput ratio. Both costs are the least of several short runs: other work
// on the machine can only add to a run's time, never take from it.
func TestObservabilityOverhead(t *testing.T) {
	skipInShortMode(t, "throughput measurement")
	const (
		rounds = 5
		each   = 300 * time.Millisecond
		// maxShare is the README's bound: observability costs under 5 % of a request.
		maxShare = 0.05
		// maxExtraAllocs bounds what recording adds per request: the access line's attrs
		// and strings (4 today); a regression to per-request maps or closures shows here.
		maxExtraAllocs = 8
		// recordRuns short runs of recordIters recordings each side, alternating.
		recordRuns  = 15
		recordIters = 5000
	)
	up := obsBenchUpstream(t)
	file := obsBenchFile(t)
	direct := up + "/api/small?x=1"
	off := obsBenchGateway(t, up, false, nil).URL + "/api/small?x=1"
	// The on side logs as fluxlit run does: through bufferedLog (logwriter.go) to a file.
	logOut := newBufferedLog(file)
	t.Cleanup(logOut.Close)
	on := obsBenchGateway(t, up, true, logOut).URL + "/api/small?x=1"
	c := obsBenchClient()
	for _, u := range []string{direct, off, on} {
		obsRound(t, c, u, 100*time.Millisecond) // warm the connection pools
	}
	var nOff, nOn int64
	var ratios, cpuOff, cpuOn, cpuDirect []float64 // per round; CPU in ns per request
	for i := 0; i < rounds; i++ {
		order := []string{off, on}
		if i%2 == 1 {
			order = []string{on, off}
		}
		var rOff, rOn int64
		for _, u := range order {
			n, cpu := obsRound(t, c, u, each)
			perReq := float64(cpu) / float64(max(n, 1))
			if u == on {
				nOn, rOn, cpuOn = nOn+n, n, append(cpuOn, perReq)
			} else {
				nOff, rOff, cpuOff = nOff+n, n, append(cpuOff, perReq)
			}
		}
		ratios = append(ratios, float64(rOn)/float64(max(rOff, 1)))
		n, cpu := obsRound(t, c, direct, each/3)
		cpuDirect = append(cpuDirect, float64(cpu)/float64(max(n, 1)))
	}
	if nOff == 0 || nOn == 0 {
		t.Fatalf("no requests completed: off %d on %d", nOff, nOn)
	}
	slices.Sort(ratios)
	perOff := time.Duration(slices.Min(cpuOff))
	perOn := time.Duration(slices.Min(cpuOn))
	perGateway := perOff - time.Duration(slices.Min(cpuDirect)) // what the gateway hop adds

	// The recording alone, its lines through a 64 KiB buffer to a file (the asserted figure:
	// formatting and metrics) and unbuffered (one write(2) per line: reported).
	recBuf, recOff := obsObservers(bufio.NewWriterSize(obsBenchFile(t), 64<<10)) // slog's handler serializes writes
	recFile, _ := obsObservers(obsBenchFile(t))
	sides := []func(){obsRecord(recOff), obsRecord(recBuf), obsRecord(recFile)}
	best := []time.Duration{time.Hour, time.Hour, time.Hour}
	for range recordRuns {
		for i, record := range sides {
			runtime.GC()
			start := time.Now()
			for range recordIters {
				record()
			}
			best[i] = min(best[i], time.Since(start)/recordIters)
		}
	}
	record, recordFile := best[1]-best[0], best[2]-best[0]
	allocs := testing.AllocsPerRun(1000, sides[1]) - testing.AllocsPerRun(1000, sides[0])
	share := float64(record) / float64(perOff)

	t.Logf("throughput (on side logs through bufferedLog to a file): off %.0f/s, on %.0f/s; median on/off ratio %.3f (rounds %.3f)",
		float64(nOff)/(rounds*each.Seconds()), float64(nOn)/(rounds*each.Seconds()), ratios[len(ratios)/2], ratios)
	t.Logf("CPU per request (client+gateway+upstream, least of %d rounds): off %v, on %v (ratio %.3f); gateway hop alone about %v",
		rounds, perOff, perOn, float64(perOn)/float64(perOff), perGateway)
	for _, r := range []struct {
		name string
		cost time.Duration
	}{{"buffered file", record}, {"unbuffered file", recordFile}} {
		t.Logf("recording, access line to a %s + metrics: %v per request = %.1f%% of a request's CPU, %.1f%% of the gateway hop's",
			r.name, r.cost, 100*float64(r.cost)/float64(perOff), 100*float64(r.cost)/float64(max(perGateway, 1)))
	}
	logOut.Flush()
	if st, err := file.Stat(); err != nil || st.Size() == 0 {
		t.Errorf("the on side wrote no access line to its file")
	}
	if share >= maxShare {
		t.Errorf("recording costs %v, %.1f%% of a request's CPU (%v); want under %.0f%%", record, 100*share, perOff, 100*maxShare)
	}
	if allocs > maxExtraAllocs {
		t.Errorf("recording adds %.0f allocations per request; want at most %d", allocs, maxExtraAllocs)
	}
}
