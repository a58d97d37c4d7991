//go:build !linux

// hangup_other.go: outside Linux every SIGHUP asks for a reload.

package main

import "io"

func terminalHungUp(w io.Writer) bool { return false }
