//go:build (!linux || 386) && !nofastpath

// idlepark_other.go: off Linux (and on 32-bit x86 Linux) an idle keep-alive connection of the
// fast engine waits on its own goroutine; idlepark_linux.go parks it instead.

package main

import "time"

type parker struct{}

func idleParker() *parker { return nil }

func (p *parker) park(*fastConn, time.Time) bool { return false }

func (p *parker) wakeAll() {}
