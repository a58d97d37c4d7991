//go:build !linux

// harness_other_test.go: without Pdeathsig, a child of a test binary that dies early outlives it.

package main

import "syscall"

func harnessDieWithTest(*syscall.SysProcAttr) {}
