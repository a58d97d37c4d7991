package main

import (
	"fmt"
	"math"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// sdnotifyListen opens a unixgram socket at name (a path, or "@name" for the abstract
// namespace) and returns it with the NOTIFY_SOCKET value systemd would set.
func sdnotifyListen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	addr := &net.UnixAddr{Name: name, Net: "unixgram"}
	conn, err := net.ListenUnixgram("unixgram", addr)
	if err != nil {
		t.Fatalf("listen %q: %v", name, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func sdnotifyReceive(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(buf[:n])
}

func TestSDNotifier(t *testing.T) {
	if runtime.GOOS == "windows" {
		skipTest(t, "no unixgram sockets on Windows")
	}
	// A short directory: socket paths are limited to about 104 bytes.
	dir, err := os.MkdirTemp("", "sd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	tests := []struct {
		name   string
		socket string // NOTIFY_SOCKET value
		listen string // what the listener binds
		linux  bool
	}{
		{"path", filepath.Join(dir, "notify"), filepath.Join(dir, "notify"), false},
		{"abstract", fmt.Sprintf("@fluxlit-test-%d", os.Getpid()), fmt.Sprintf("@fluxlit-test-%d", os.Getpid()), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.linux && runtime.GOOS != "linux" {
				skipTest(t, "abstract sockets are Linux-only")
			}
			conn := sdnotifyListen(t, tt.listen)
			n := newSDNotifier(tt.socket)
			for _, msg := range []string{"READY=1", "STATUS=api=up ui=starting\nWATCHDOG=1"} {
				if err := n.Notify(msg); err != nil {
					t.Fatalf("Notify: %v", err)
				}
				if got := sdnotifyReceive(t, conn); got != msg {
					t.Errorf("got %q; want %q", got, msg)
				}
			}
		})
	}
}

func TestSDNotifierDisabled(t *testing.T) {
	n := newSDNotifier("")
	if n != nil {
		t.Fatalf("newSDNotifier(\"\") = %v; want nil", n)
	}
	if err := n.Notify("READY=1"); err != nil {
		t.Errorf("nil Notify = %v; want nil", err)
	}
}

func TestSDNotifierNoListener(t *testing.T) {
	n := newSDNotifier(filepath.Join(t.TempDir(), "absent"))
	if err := n.Notify("READY=1"); err == nil || !strings.Contains(err.Error(), "sd_notify") {
		t.Errorf("Notify to a missing socket = %v; want an sd_notify error", err)
	}
}

func TestWatchdogInterval(t *testing.T) {
	const self = 4242
	tests := []struct {
		name      string
		usec, pid string
		want      time.Duration
	}{
		{"unset", "", "", 0},
		{"no pid: ours", "30000000", "", 15 * time.Second},
		{"our pid", "2000000", "4242", time.Second},
		{"other pid", "2000000", "1", 0},
		{"bad pid", "2000000", "x", 0},
		{"zero", "0", "", 0},
		{"negative", "-5", "", 0},
		{"not a number", "10s", "", 0},
		{"odd microseconds", "3", "", 1500 * time.Nanosecond},
		{"overflow", "99999999999999999999", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := watchdogInterval(tt.usec, tt.pid, self); got != tt.want {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}

// watchdogRule is sd_watchdog_enabled(3) written independently of watchdogInterval: when
// WATCHDOG_PID is unset or names this process, and WATCHDOG_USEC is a positive decimal
// number of microseconds that a time.Duration holds, ping at half of it; else never (0).
func watchdogRule(usec, pid string, self int) time.Duration {
	if pid != "" {
		n, ok := new(big.Int).SetString(pid, 10)
		if !ok || n.Cmp(big.NewInt(int64(self))) != 0 {
			return 0
		}
	}
	if usec == "" || strings.Trim(usec, "0123456789") != "" {
		return 0
	}
	us, _ := new(big.Int).SetString(usec, 10)
	if us.Sign() == 0 || us.Cmp(big.NewInt(math.MaxInt64/int64(time.Microsecond))) > 0 {
		return 0
	}
	return time.Duration(us.Int64()) * time.Microsecond / 2
}

func FuzzWatchdogInterval(f *testing.F) {
	for _, seed := range [][2]string{{"30000000", ""}, {"1", "4242"}, {"18446744073709551615", ""}, {"9223372036854775", ""},
		{"9223372036854776", ""}, {"+5", ""}, {"0030", "04242"}, {"5", "+4242"}, {"5", "4243"}, {" 5", ""}, {"5", "-4242"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, usec, pid string) {
		if got, want := watchdogInterval(usec, pid, 4242), watchdogRule(usec, pid, 4242); got != want {
			t.Fatalf("watchdogInterval(%q, %q) = %v; want %v", usec, pid, got, want)
		}
	})
}

// TestChildEnv: each child gets the parent's environment without systemd's variables, plus
// the contract; the Streamlit child's filter (streamlitEnvDenied, with child_env_deny =
// ["MY_API_TOKEN"]) also drops FLUXLIT_JWT_*, FLUXLIT_OIDC_*, every secret setting and the
// names listed (README, Children).
func TestChildEnv(t *testing.T) {
	var secrets []string // every secret setting's variable: none may reach Streamlit
	for _, s := range settingsTable {
		if s.secret {
			secrets = append(secrets, "FLUXLIT_"+strings.ToUpper(s.name)+"=secret")
		}
	}
	if len(secrets) == 0 {
		t.Fatal("no secret settings found; the test would check nothing")
	}
	kept := []string{"PATH=/usr/bin", "FLUXLIT_JWT_SECRET=s", "HOME=/root", "FLUXLIT_APP=old", "=C:=C:\\dir",
		"FLUXLIT_OIDC_CLIENT_ID=c", "MY_API_TOKEN=t", "MY_API_TOKEN_2=u", "FLUXLIT_DEBUG=1"}
	systemd := []string{"NOTIFY_SOCKET=/run/systemd/notify", "WATCHDOG_USEC=1", "WATCHDOG_PID=1", "LISTEN_PID=1",
		"LISTEN_FDS=2", "LISTEN_FDNAMES=a:b"}
	parent := append(append(append([]string{}, kept...), systemd...), secrets...)
	tests := []struct {
		name string
		add  map[string]string
		deny func(string) bool
		want []string
	}{
		{"systemd variables dropped", nil, nil, append(append([]string{}, kept...), secrets...)},
		{"streamlit: secrets denied, contract added", map[string]string{"FLUXLIT_APP": "app:app", "FLUXLIT_API_PREFIX": "/api"},
			streamlitEnvDenied([]string{"MY_API_TOKEN"}),
			[]string{"PATH=/usr/bin", "HOME=/root", "=C:=C:\\dir", "MY_API_TOKEN_2=u", "FLUXLIT_DEBUG=1",
				"FLUXLIT_API_PREFIX=/api", "FLUXLIT_APP=app:app"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := childEnv(parent, tt.add, tt.deny)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}
