// supervise_linux.go holds what only Linux has: Pdeathsig, so that children die with
// fluxlit even when it is SIGKILLed, and zombie detection through /proc.

package main

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// superviseSysProcAttr puts the child in its own process group (so one signal reaches its
// grandchildren) and asks the kernel to SIGKILL it when the forking thread dies. The thread
// is locked for the child's whole life (see spawn), so in practice: when fluxlit dies.
func superviseSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// superviseIsZombie reads the state letter from /proc/PID/stat ("pid (comm) S ...";
// comm may contain spaces and parentheses, hence the last ')').
func superviseIsZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}
