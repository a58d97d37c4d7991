// Command idle measures what idle keep-alive connections cost fluxlit, and whether that memory
// goes back once they close (issue #16, BENCHMARKS.md). It starts fluxlit in front of an
// origin of its own, opens N client connections that each make one request and then stay
// open and silent, samples fluxlit's resident memory while they are held, closes them all,
// and samples it again for a while after.
//
//	go run ./bench/idle -bin ./fluxlit [-n 10000] [-hold 30s] [-after 60s] [-every 5s] [-env FLUXLIT_X=y]
//
// The result is one Markdown block: the samples, the cost per idle connection
// ((RSS held - RSS before) / N) and RSS -after the connections closed. Everything runs on
// 127.0.0.1; fluxlit is stopped (SIGTERM, then SIGKILL) on every way out.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// dialers is how many connections are opened at once: enough to open 10,000 in a few
// seconds, few enough not to overflow fluxlit's accept backlog.
const dialers = 128

func main() {
	bin := flag.String("bin", "./fluxlit", "the fluxlit binary to measure")
	n := flag.Int("n", 10000, "idle keep-alive connections to hold")
	hold := flag.Duration("hold", 30*time.Second, "how long they are held (RSS sampled throughout)")
	after := flag.Duration("after", 60*time.Second, "how long RSS is sampled after they closed")
	every := flag.Duration("every", 5*time.Second, "sampling interval")
	path := flag.String("path", "/api/x", "the one request each connection makes")
	var env envFlags
	flag.Var(&env, "env", "an environment variable for fluxlit, NAME=value (repeatable)")
	flag.Parse()
	if *n <= 0 || *n > 50000 || *hold <= 0 || *hold > 10*time.Minute || *after < 0 || *after > 30*time.Minute || *every <= 0 {
		log.Fatal("idle: -n must be 1..50000, -hold at most 10m, -after at most 30m, -every > 0")
	}
	if err := run(*bin, *n, *hold, *after, *every, *path, env); err != nil {
		log.Fatalf("idle: %v", err)
	}
}

type envFlags []string

func (e *envFlags) String() string     { return strings.Join(*e, " ") }
func (e *envFlags) Set(v string) error { *e = append(*e, v); return nil }

func run(bin string, n int, hold, after, every time.Duration, path string, env []string) error {
	origin, err := startOrigin()
	if err != nil {
		return err
	}
	fl, addr, err := startFluxlit(bin, origin, env)
	if err != nil {
		return err
	}
	defer stop(fl)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() { <-sigs; stop(fl); os.Exit(1) }()

	pid := fl.Process.Pid
	for i := 0; i < 100; i++ { // warm: pools, first allocations
		if err := oneRequest(addr, path); err != nil {
			return fmt.Errorf("warm-up request: %v", err)
		}
	}
	time.Sleep(2 * time.Second)
	before := rss(pid)
	fmt.Printf("| phase | t (s) | fluxlit RSS (MiB) |\n|---|---:|---:|\n")
	fmt.Printf("| before | 0 | %.1f |\n", mib(before))

	start := time.Now()
	conns, err := openIdle(addr, path, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err != nil {
		return err
	}
	opened := time.Since(start)
	var held int64
	for t := time.Duration(0); t < hold; t += every {
		time.Sleep(min(every, hold-t))
		held = rss(pid)
		fmt.Printf("| %d held | %.0f | %.1f |\n", n, time.Since(start).Seconds(), mib(held))
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	closed := time.Now()
	var last int64
	for t := time.Duration(0); t < after; t += every {
		time.Sleep(min(every, after-t))
		last = rss(pid)
		fmt.Printf("| closed | %.0f | %.1f |\n", time.Since(closed).Seconds(), mib(last))
	}
	fmt.Printf("\n%d connections opened in %.1f s. Before: %.1f MiB; held: %.1f MiB, **%.1f KiB per idle connection**; %.0f s after they closed: **%.1f MiB**.\n",
		n, opened.Seconds(), mib(before), mib(held), float64(held-before)/1024/float64(n), after.Seconds(), mib(last))
	return nil
}

// startOrigin serves 100 bytes on every path: the upstream costs nothing to measure around.
func startOrigin() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	body := strings.Repeat("x", 100)
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}))
	return "http://" + ln.Addr().String(), nil
}

func startFluxlit(bin, origin string, env []string) (*exec.Cmd, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir, err := os.MkdirTemp("", "fluxlit-idle-")
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(bin, "run", "--no-pidfile", "--port", strconv.Itoa(port),
		"--api-upstream", origin, "--streamlit-upstream", origin)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "FLUXLIT_LOG_FORMAT=json"), env...)
	logFile, err := os.Create(dir + "/fluxlit.log")
	if err != nil {
		return nil, "", err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for i := 0; i < 100; i++ {
		if oneRequest(addr, "/api/healthz") == nil {
			return cmd, addr, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop(cmd)
	return nil, "", errors.New("fluxlit did not answer /api/healthz within 10 s (log: " + logFile.Name() + ")")
}

func stop(cmd *exec.Cmd) {
	if cmd.ProcessState != nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// oneRequest makes a request on a fresh connection and closes it.
func oneRequest(addr, path string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	return request(c, bufio.NewReader(c), path)
}

func request(c net.Conn, br *bufio.Reader, path string) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: idle\r\n\r\n"); err != nil {
		return err
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err == nil && res.StatusCode != 200 {
		err = fmt.Errorf("%s: %s", path, res.Status)
	}
	return err
}

// openIdle opens n connections, each making one request and staying open.
func openIdle(addr, path string, n int) ([]net.Conn, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conns := make([]net.Conn, n)
	next := make(chan int)
	go func() {
		defer close(next)
		for i := 0; i < n; i++ {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for w := 0; w < dialers; w++ {
		wg.Go(func() {
			for i := range next {
				c, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if err == nil {
					if err = request(c, bufio.NewReader(c), path); err != nil {
						c.Close()
					}
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("connection %d: %v", i, err)
						cancel()
					}
					mu.Unlock()
					continue
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	kept := conns[:0]
	for _, c := range conns {
		if c != nil {
			kept = append(kept, c)
		}
	}
	return kept, first
}

// rss is the resident set of pid in bytes (VmRSS in /proc/PID/status).
func rss(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
