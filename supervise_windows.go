//go:build windows

// supervise_windows.go holds Windows process control: children in their own process group,
// stopped through `taskkill /T` (the whole tree), and liveness through GetExitCodeProcess.
// There is no Pdeathsig equivalent here (that needs a job object), so a killed fluxlit can
// leave children behind on Windows.

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// childEnvFoldCase: Windows environment names are case-insensitive.
const childEnvFoldCase = true

// superviseTaskkillTimeout bounds one taskkill run; it normally takes well under a second.
// The Python package allows 90 s; 30 s is plenty and keeps Stop bounded.
const superviseTaskkillTimeout = 30 * time.Second

// superviseStillActive is GetExitCodeProcess's STILL_ACTIVE (259): the process runs.
const superviseStillActive = 259

// superviseQueryLimited is PROCESS_QUERY_LIMITED_INFORMATION, the least access that allows
// GetExitCodeProcess (works on other users' processes too).
const superviseQueryLimited = 0x1000

func superviseSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// superviseSignalGroup runs `taskkill /T /PID n` (the process and its descendants), with /F
// when force. Without /F, console programs may refuse; Stop then forces after the grace.
func superviseSignalGroup(pid int, force bool) error {
	err := superviseTaskkill(pid, force)
	if superviseGone(err) {
		return nil
	}
	return err
}

// superviseKillLeftovers does nothing: once the leader is gone, taskkill /T cannot find
// its tree any more.
func superviseKillLeftovers(pid int) {}

// superviseSignalProcess stops pid and its tree for "fluxlit shutdown".
func superviseSignalProcess(pid int, force bool) error { return superviseTaskkill(pid, force) }

// errSuperviseNoProcess is what taskkill's "not found" output maps to.
var errSuperviseNoProcess = errors.New("process not found")

func superviseGone(err error) bool { return errors.Is(err, errSuperviseNoProcess) }

func superviseTaskkill(pid int, force bool) error {
	args := []string{"/T", "/PID", strconv.Itoa(pid)}
	if force {
		args = append(args, "/F")
	}
	ctx, cancel := context.WithTimeout(context.Background(), superviseTaskkillTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "taskkill", args...).CombinedOutput()
	if err == nil {
		return nil
	}
	text := strings.ToLower(string(out))
	if strings.Contains(text, "not found") || strings.Contains(text, "could not find") {
		return errSuperviseNoProcess
	}
	return fmt.Errorf("taskkill %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
}

// processAlive opens the process and asks for its exit code. Access denied means it exists.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	h, err := syscall.OpenProcess(superviseQueryLimited, false, uint32(pid))
	if err != nil {
		return errors.Is(err, syscall.ERROR_ACCESS_DENIED)
	}
	defer syscall.CloseHandle(h)
	var code uint32
	if err := syscall.GetExitCodeProcess(h, &code); err != nil {
		return true
	}
	return code == superviseStillActive
}

// signalReload: Windows has no SIGHUP to send; reload is a Unix feature.
func signalReload(pid int) error {
	return errors.New("fluxlit reload needs SIGHUP, which Windows does not have: restart fluxlit instead")
}

// upgradeSignal is never delivered on Windows (os/signal delivers only Interrupt there).
const upgradeSignal = syscall.Signal(0x1f)

func upgradeSysProcAttr() *syscall.SysProcAttr { return nil }

// listenerNonblocking: no upgrade, so no socket is ever handed over.
func listenerNonblocking(net.Listener) error { return nil }

// signalUpgrade: the upgrade hands a socket to a new process, which needs Unix's fd passing.
func signalUpgrade(pid int) error {
	return errors.New("fluxlit upgrade is a Unix feature: restart fluxlit instead")
}
