//go:build unix && !linux

// supervise_otherunix.go covers macOS and the BSDs: process groups without Pdeathsig, so a
// SIGKILLed fluxlit leaves its children behind there (run it under launchd or a supervisor).

package main

import "syscall"

// superviseSysProcAttr puts the child in its own process group so one signal reaches its
// grandchildren. There is no Pdeathsig outside Linux.
func superviseSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// superviseIsZombie is not detected here: a zombie counts as alive until its parent reaps it.
func superviseIsZombie(pid int) bool { return false }
