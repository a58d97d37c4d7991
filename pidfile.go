// pidfile.go owns the pidfile that names the running fluxlit ("<pid>\n", the Python
// package's format) and the "fluxlit shutdown" command that reads it to stop that instance.
// Liveness checks and signals are per OS (processAlive, superviseSignalProcess).

package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// pidfilePoll is how often shutdown checks whether the process is gone: the Python package's
// 50 ms, short enough that "fluxlit shutdown" returns as soon as the process exits.
const pidfilePoll = 50 * time.Millisecond

// pidfileMaxBytes bounds what is read from a pidfile: a pid is at most 20 digits, so anything
// longer is not ours (someone pointed --pidfile at a log file).
const pidfileMaxBytes = 64

// errPidfileInvalid marks a pidfile whose content is not a positive pid.
var errPidfileInvalid = errors.New("not a pid")

// readPidfile returns the pid in path. A missing file wraps fs.ErrNotExist; bad content
// wraps errPidfileInvalid.
func readPidfile(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, pidfileMaxBytes+1))
	if err != nil {
		return 0, fmt.Errorf("pidfile %s: %w", path, err)
	}
	pid, err := parsePidfile(b)
	if err != nil {
		return 0, fmt.Errorf("pidfile %s: %w", path, err)
	}
	return pid, nil
}

// parsePidfile parses "<pid>" with optional surrounding whitespace.
func parsePidfile(b []byte) (int, error) {
	if len(b) > pidfileMaxBytes {
		return 0, fmt.Errorf("%w: longer than %d bytes", errPidfileInvalid, pidfileMaxBytes)
	}
	s := strings.TrimSpace(string(b))
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%w: %q", errPidfileInvalid, s)
	}
	return pid, nil
}

// writePidfile records this process in path. It refuses when the file names another live
// process; a stale or invalid file is replaced. The file is written to a temporary name in
// the same directory and renamed, so a reader never sees a half-written pid.
func writePidfile(path string) error { return writePidfileOver(path, 0) }

// writePidfileOver is writePidfile that may also replace the pidfile of the live process from
// (the one a binary upgrade replaces).
func writePidfileOver(path string, from int) error {
	self := os.Getpid()
	if pid, err := readPidfile(path); err == nil && pid != self && pid != from && processAlive(pid) {
		return fmt.Errorf("pidfile %s: another fluxlit (pid %d) is running; run \"fluxlit shutdown\"", path, pid)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("pidfile %s: %w", path, err)
	}
	if err := writeFileAtomic(path, []byte(strconv.Itoa(self)+"\n")); err != nil {
		return fmt.Errorf("pidfile %s: %w", path, err)
	}
	return nil
}

// pidfileError is the one line a run that cannot write its pidfile ends with: the path, the
// system's reason, and the ways out.
func pidfileError(path string, err error) error {
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		return err // another live instance: writePidfile's own words
	}
	return fmt.Errorf("cannot write pidfile %s: %s (make its folder writable, choose another with --pidfile, or set --no-pidfile)", path, pe.Err)
}

// removePidfile removes path only if it still names pid, so an instance shutting down
// cannot delete the pidfile of the one that replaced it.
func removePidfile(path string, pid int) error {
	got, err := readPidfile(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errPidfileInvalid) || (err == nil && got != pid) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pidfile %s: %w", path, err)
	}
	return nil
}

// shutdownCommand stops the fluxlit named by pidfile and returns the exit code: 0 stopped
// (or a stale/invalid pidfile removed), 1 could not stop or still running after wait, 2 no
// pidfile. It sends SIGTERM (SIGKILL with force; taskkill /T, /F with force, on Windows)
// and polls until the process is gone.
func shutdownCommand(pidfile string, force bool, wait time.Duration, stdout io.Writer) int {
	pid, err := readPidfile(pidfile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(stdout, "No pid file at %s (is fluxlit running? see --pidfile)\n", pidfile)
		return 2
	case errors.Is(err, errPidfileInvalid):
		os.Remove(pidfile)
		fmt.Fprintf(stdout, "Removed invalid pid file at %s\n", pidfile)
		return 0
	case err != nil:
		fmt.Fprintf(stdout, "Cannot read %v\n", err)
		return 1
	}
	if !processAlive(pid) {
		removePidfile(pidfile, pid)
		fmt.Fprintf(stdout, "Removed stale pid file (pid %d not running)\n", pid)
		return 0
	}
	verb := "Stopped"
	if force {
		verb = "Killed"
	}
	if err := superviseSignalProcess(pid, force); err != nil && !superviseGone(err) {
		fmt.Fprintf(stdout, "Cannot signal pid %d: %v\n", pid, err)
		return 1
	}
	deadline := time.Now().Add(wait)
	for processAlive(pid) {
		if !time.Now().Before(deadline) {
			hint := " (try --force)"
			if force {
				hint = ""
			}
			fmt.Fprintf(stdout, "Process %d still running after %.1fs%s\n", pid, wait.Seconds(), hint)
			return 1
		}
		time.Sleep(pidfilePoll)
	}
	// fluxlit removes its own pidfile on a clean exit; this covers a SIGKILLed one.
	removePidfile(pidfile, pid)
	fmt.Fprintf(stdout, "%s process %d\n", verb, pid)
	return 0
}

// writeFileAtomic writes data to path through a temporary file in the same directory, synced
// and renamed, so a reader never sees a half-written file. The temporary file has a name of
// its own (CreateTemp), so the rename never writes through a link someone else put there; it
// is made 0644 (CreateTemp makes 0600) because scripts read these files.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
