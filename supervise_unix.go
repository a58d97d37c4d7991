//go:build unix

// supervise_unix.go holds the Unix process control shared by Linux and the BSDs/macOS:
// signalling a child's process group, stopping a pid for "fluxlit shutdown", and telling
// whether a pid is alive.

package main

import (
	"errors"
	"net"
	"syscall"
)

// childEnvFoldCase: Unix environment names are case-sensitive.
const childEnvFoldCase = false

// superviseSignalGroup sends SIGTERM (SIGKILL when force) to the process group led by pid.
// The group, not the pid: `sh -c`, uvicorn workers and Streamlit's helpers are grandchildren
// that a single-pid kill would orphan. A group that is already gone is not an error.
func superviseSignalGroup(pid int, force bool) error {
	sig := syscall.SIGTERM
	if force {
		sig = syscall.SIGKILL
	}
	if err := syscall.Kill(-pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// superviseKillLeftovers SIGKILLs whatever remains of the group after its leader was reaped.
// The pgid cannot have been recycled while members remain (the kernel keeps the number
// reserved), and with none left the kill finds nothing (ESRCH).
func superviseKillLeftovers(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

// superviseSignalProcess stops one pid for "fluxlit shutdown": SIGTERM, or SIGKILL when
// force. fluxlit itself then stops its children; its group may be the user's shell's.
func superviseSignalProcess(pid int, force bool) error {
	sig := syscall.SIGTERM
	if force {
		sig = syscall.SIGKILL
	}
	return syscall.Kill(pid, sig)
}

// superviseGone reports whether a signalling error means the process no longer exists.
func superviseGone(err error) bool { return errors.Is(err, syscall.ESRCH) }

// processAlive reports whether pid names a running process. EPERM means it exists but is
// someone else's; a zombie (exited, not yet reaped) counts as gone.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	return !superviseIsZombie(pid)
}

// signalReload asks the fluxlit with pid for a reload (SIGHUP).
func signalReload(pid int) error { return syscall.Kill(pid, syscall.SIGHUP) }

// upgradeSignal asks a fluxlit for a binary upgrade: SIGUSR2, nginx's.
const upgradeSignal = syscall.SIGUSR2

// signalUpgrade asks the fluxlit with pid for a binary upgrade.
func signalUpgrade(pid int) error { return syscall.Kill(pid, upgradeSignal) }

// upgradeSysProcAttr puts the new process of an upgrade in a session of its own: it outlives
// this one, and a terminal's Ctrl-C or hang-up meant for this one does not reach it.
func upgradeSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// listenerNonblocking puts ln's socket back in non-blocking mode, which Go's poller needs
// (see upgrade: handing the socket to a new process makes it blocking).
func listenerNonblocking(ln net.Listener) error {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil // not a socket of its own (a test's listener)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var setErr error
	if err := rc.Control(func(fd uintptr) { setErr = syscall.SetNonblock(int(fd), true) }); err != nil {
		return err
	}
	return setErr
}
