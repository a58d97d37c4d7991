//go:build race

package main

// raceEnabled: the race detector changes what escapes and allocates, so the allocation
// guards skip under it; .ci/run runs them again without it.
const raceEnabled = true
