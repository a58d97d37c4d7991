// sockdir.go owns the private directory of the API child's Unix socket: it is made fresh and
// 0700 in the temporary directory, named for the fluxlit that made it, removed at stop, and —
// since a killed fluxlit (kill -9, OOM) cannot remove its own — swept at the next start when
// the fluxlit that made it is gone.

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sockDirPrefix starts every such directory's name; the owner's pid and a random part follow:
// fluxlit-api-<pid>-<random>.
const sockDirPrefix = "fluxlit-api-"

// sockDirSocket is the one file a socket directory holds.
const sockDirSocket = "api.sock"

// sockDirProbeTimeout bounds the connect that asks whether anyone still serves a socket: a
// listening socket on this machine accepts at once.
const sockDirProbeTimeout = 200 * time.Millisecond

// makeSockDir sweeps the stale socket directories of dead instances, then makes this one's.
func makeSockDir() (string, error) {
	tmp := os.TempDir()
	sweepSockDirs(tmp, os.Getpid())
	dir, err := os.MkdirTemp(tmp, sockDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", fmt.Errorf("cannot create the API socket directory in %s: %v", tmp, errText(err))
	}
	return dir, nil
}

// sweepSockDirs removes the socket directories in tmp that a dead fluxlit left. It removes
// only what it can tell is such a leftover, and leaves anything it is unsure of:
//   - the name is fluxlit-api-<pid>-<random> (directories of older fluxlit versions, without
//     the pid, are left alone), and the entry is a directory, not a link, of mode 0700 — one
//     of another user cannot even be listed;
//   - pid is not a live process, or is this process (a container restarted fluxlit as pid 1
//     again: the one before it is dead). A live pid may be a fluxlit whose API child is being
//     restarted, whose socket refuses connections meanwhile; a reused pid only costs a leak;
//   - the directory holds nothing but api.sock, a socket nobody accepts on.
//
// Only api.sock and the then empty directory are removed, never anything else.
func sweepSockDirs(tmp string, self int) {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, ok := sockDirOwner(e.Name())
		if !ok || (pid != self && processAlive(pid)) {
			continue
		}
		dir := filepath.Join(tmp, e.Name())
		if info, err := os.Lstat(dir); err != nil || !info.IsDir() || info.Mode().Perm() != 0o700 {
			continue
		}
		if sockDirDead(dir) {
			os.Remove(filepath.Join(dir, sockDirSocket))
			os.Remove(dir)
		}
	}
}

// sockDirOwner parses the pid out of fluxlit-api-<pid>-<random>.
func sockDirOwner(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, sockDirPrefix)
	if !ok {
		return 0, false
	}
	pidText, random, ok := strings.Cut(rest, "-")
	if !ok || random == "" {
		return 0, false
	}
	pid, err := strconv.Atoi(pidText)
	return pid, err == nil && pid > 0
}

// sockDirDead reports whether dir holds nothing but an api.sock that refuses connections (or
// nothing at all).
func sockDirDead(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.Name() != sockDirSocket || e.Type()&fs.ModeSocket == 0 {
			return false
		}
	}
	if len(entries) == 0 {
		return true
	}
	c, err := net.DialTimeout("unix", filepath.Join(dir, sockDirSocket), sockDirProbeTimeout)
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, fs.ErrNotExist)
}
