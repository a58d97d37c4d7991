// testnet_test.go owns the test upstreams whose behaviour a test asserts on without timing:
// dead upstreams that stay dead (a listener that accepts and closes, a TCP port or Unix
// socket path that refuses), and an upstream that counts what reached it and lets a test
// wait until every request it started has ended.

package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// closingUpstream is a loopback listener that accepts every connection and closes it at
// once: an upstream that is down. Unlike a port freed after listening, nobody else can take
// it while the test runs. It returns "http://127.0.0.1:PORT".
func closingUpstream(t testing.TB) string {
	return fastRawUpstream(t, func(net.Conn, *bufio.Reader) {})
}

// refusedPort is "http://127.0.0.1:PORT" for a port that refuses connections for the whole
// test: a TCP socket bound to it and never listening holds it (without SO_REUSEADDR, so no
// listener can take it over), where a port freed after listening may be taken by anyone.
func refusedPort(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return "http://127.0.0.1:" + strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)
}

// refusingUnixSocket is the path of a Unix socket that refuses connections (its listener is
// closed, the file stays): "unix:" plus it is an API upstream that is down.
func refusingUnixSocket(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "down.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	return path
}

// countedUpstream answers 200 "ok" after reading each request's body, and counts the
// connections and requests that reached it and the bodies that arrived complete.
type countedUpstream struct {
	*httptest.Server
	conns    atomic.Int64 // connections accepted
	started  atomic.Int64 // requests whose handler ran
	complete atomic.Int64 // requests whose body arrived to its end
	mu       sync.Mutex
	changed  *sync.Cond                  // signalled at every connection state change
	states   map[net.Conn]http.ConnState // each connection's last state
}

func newCountedUpstream(t testing.TB) *countedUpstream {
	u := &countedUpstream{states: map[net.Conn]http.ConnState{}}
	u.changed = sync.NewCond(&u.mu)
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.started.Add(1)
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return
		}
		u.complete.Add(1)
		io.WriteString(w, "ok")
	}))
	u.Config.ConnState = func(c net.Conn, s http.ConnState) {
		u.mu.Lock()
		defer u.mu.Unlock()
		if s == http.StateNew {
			u.conns.Add(1)
		}
		u.states[c] = s
		u.changed.Broadcast()
	}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

// settle waits until every connection to the upstream is idle or closed: no request is
// still arriving, so that complete counts every body that ever will. The gateway answers
// its client (413) before the upstream has seen the aborted body end.
func (u *countedUpstream) settle(t testing.TB) {
	t.Helper()
	const within = 10 * time.Second
	timer := time.AfterFunc(within, func() {
		u.mu.Lock()
		u.changed.Broadcast()
		u.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(within)
	u.mu.Lock()
	defer u.mu.Unlock()
	for {
		busy := 0
		for _, s := range u.states {
			if s == http.StateNew || s == http.StateActive {
				busy++
			}
		}
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d upstream connections still busy after %v", busy, within)
		}
		u.changed.Wait()
	}
}
