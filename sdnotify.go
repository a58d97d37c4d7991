// sdnotify.go owns fluxlit's side of systemd's notify protocol (READY=1, STATUS=, STOPPING=1,
// WATCHDOG=1 datagrams to $NOTIFY_SOCKET), the watchdog interval, and the children's
// environment, from which the systemd hand-over variables are removed so that a child can
// neither notify for fluxlit nor claim its sockets.

package main

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"
)

// sdNotifyTimeout bounds one notification: systemd reads its socket promptly, and a stuck
// socket must not stall fluxlit's main loop.
const sdNotifyTimeout = time.Second

// sdNotifier sends state datagrams to systemd. A nil *sdNotifier (no NOTIFY_SOCKET) is valid
// and sends nothing.
type sdNotifier struct {
	addr *net.UnixAddr
}

// newSDNotifier returns a notifier for the NOTIFY_SOCKET value, or nil when it is empty.
// A leading '@' names a socket in Linux's abstract namespace (a leading NUL byte).
func newSDNotifier(socket string) *sdNotifier {
	if socket == "" {
		return nil
	}
	if strings.HasPrefix(socket, "@") {
		socket = "\x00" + socket[1:]
	}
	return &sdNotifier{addr: &net.UnixAddr{Name: socket, Net: "unixgram"}}
}

// Notify sends one state string such as "READY=1" or "STATUS=api=up ui=starting".
func (n *sdNotifier) Notify(state string) error {
	if n == nil {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer conn.Close()
	conn.SetWriteDeadline(time.Now().Add(sdNotifyTimeout))
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}

// watchdogInterval is how often to send WATCHDOG=1: half of WATCHDOG_USEC, as sd_watchdog_enabled(3)
// recommends, when the watchdog is meant for us (WATCHDOG_PID empty or our pid); else 0.
func watchdogInterval(usec string, pid string, selfPID int) time.Duration {
	if pid != "" {
		p, err := strconv.Atoi(pid)
		if err != nil || p != selfPID {
			return 0
		}
	}
	us, err := strconv.ParseUint(usec, 10, 63)
	if err != nil || us == 0 || us > uint64(time.Duration(1<<63-1)/time.Microsecond) {
		return 0
	}
	return time.Duration(us) * time.Microsecond / 2
}

// childEnvSystemd are the variables systemd hands to fluxlit alone: a child that saw
// NOTIFY_SOCKET could send READY=1 or STOPPING=1 for fluxlit, one that saw LISTEN_* could
// take fluxlit's sockets.
var childEnvSystemd = []string{
	"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES",
}

// childEnv builds a child's environment: parent minus the systemd variables, minus names deny
// rejects (secrets), with add set (sorted, so the result is deterministic). Entries without
// a name, like Windows' "=C:=C:\dir", are kept.
func childEnv(parent []string, add map[string]string, deny func(name string) bool) []string {
	drop := func(name string) bool {
		for _, s := range childEnvSystemd {
			if childEnvSameName(name, s) {
				return true
			}
		}
		for k := range add {
			if childEnvSameName(name, k) {
				return true
			}
		}
		return deny != nil && deny(name)
	}
	out := make([]string, 0, len(parent)+len(add))
	for _, kv := range parent {
		name, _, _ := strings.Cut(kv, "=")
		if name != "" && drop(name) {
			continue
		}
		out = append(out, kv)
	}
	keys := make([]string, 0, len(add))
	for k := range add {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+add[k])
	}
	return out
}

func childEnvSameName(a, b string) bool {
	if childEnvFoldCase {
		return strings.EqualFold(a, b)
	}
	return a == b
}
