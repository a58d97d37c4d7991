// Command relay is the least work a Go program can do as a front door: it accepts TCP
// connections and relays each one, byte for byte, to one upstream connection of its own. It
// parses nothing (no HTTP, no WebSocket frames), checks nothing and logs nothing, so what it
// costs is what Go's runtime and the kernel cost. bench/run.sh --floor runs it as two doors:
//
//   - go-copy: io.Copy in each direction, one goroutine each, as most Go proxies tunnel
//     (between two *net.TCPConn it moves the bytes with splice(2));
//   - go-raw: a read/write loop inside one RawConn.Read per direction, as fluxlit's tunnels do,
//     reading again until EAGAIN after every read.
//
// A workload on which fluxlit comes close to these doors is bound by Go and the machine,
// not by fluxlit's own work (BENCHMARKS.md, "The Go floor").
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strings"
	"syscall"
	"unsafe"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to accept on (loopback)")
	to := flag.String("to", "", "upstream address, host:port (loopback)")
	mode := flag.String("mode", "copy", "copy (io.Copy) or raw (RawConn read/write loops)")
	flag.Parse()
	pump, err := pumpFor(*mode)
	switch {
	case err != nil:
	case *to == "":
		err = errors.New("-to is required")
	case !loopbackOnly(*to) || !loopbackOnly(*listen):
		err = fmt.Errorf("-listen %s and -to %s must both be loopback addresses", *listen, *to)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		os.Exit(2)
	}
	lc := net.ListenConfig{}
	lc.SetMultipathTCP(false) // as fluxlit's gateway listener (and nginx)
	ln, err := lc.Listen(nil, "tcp", *listen)
	if err != nil {
		log.Fatalf("relay: %v", err)
	}
	fmt.Printf("BENCH relay=%s addr=%s\n", *mode, ln.Addr())
	serve(ln, *to, pump)
}

// pump copies src to dst until src ends or either fails.
type pump func(dst, src *net.TCPConn)

func pumpFor(mode string) (pump, error) {
	switch mode {
	case "copy":
		return copyPump, nil
	case "raw":
		return rawPump, nil
	}
	return nil, fmt.Errorf("-mode %q: want copy or raw", mode)
}

func serve(ln net.Listener, to string, p pump) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go relay(c.(*net.TCPConn), to, p)
	}
}

// relay joins one client to a new upstream connection; each end's EOF is passed on as a
// half-close, and both close when both directions have ended.
func relay(client *net.TCPConn, to string, p pump) {
	defer client.Close()
	c, err := net.Dial("tcp", to)
	if err != nil {
		return
	}
	up := c.(*net.TCPConn)
	defer up.Close()
	done := make(chan struct{})
	go func() {
		p(up, client)
		up.CloseWrite()
		close(done)
	}()
	p(client, up)
	client.CloseWrite()
	<-done
}

func copyPump(dst, src *net.TCPConn) { io.Copy(dst, src) }

// rawPump reads with read(2) inside one RawConn.Read and writes each piece with write(2)
// inside RawConn.Write, waiting in Go's poller only on EAGAIN.
func rawPump(dst, src *net.TCPConn) {
	rs, err := src.SyscallConn()
	if err != nil {
		return
	}
	wd, err := dst.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 16<<10)
	rs.Read(func(fd uintptr) bool {
		for {
			n, errno := sysIO(syscall.SYS_READ, fd, buf)
			switch {
			case errno == syscall.EAGAIN:
				return false
			case errno != 0 || n == 0:
				return true
			}
			if !writeAll(wd, buf[:n]) {
				return true
			}
		}
	})
}

func writeAll(wd syscall.RawConn, p []byte) bool {
	ok := true
	err := wd.Write(func(fd uintptr) bool {
		for len(p) > 0 {
			n, errno := sysIO(syscall.SYS_WRITE, fd, p)
			switch {
			case errno == syscall.EAGAIN:
				return false
			case errno != 0:
				ok = false
				return true
			}
			p = p[n:]
		}
		return true
	})
	return ok && err == nil
}

func sysIO(trap, fd uintptr, p []byte) (int, syscall.Errno) {
	for {
		n, _, e := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if e != syscall.EINTR {
			return int(n), e
		}
	}
}

// loopbackOnly is the benchmark's rule: relay never fronts anything off this machine.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
