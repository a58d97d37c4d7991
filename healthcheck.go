// healthcheck.go owns "fluxlit healthcheck [URL]": one GET of the gateway's liveness route,
// for a container HEALTHCHECK where there is no curl (the scratch image). Exit 0 on 2xx,
// 1 otherwise, 2 on a usage or configuration error.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"time"
)

// healthcheckTimeout bounds the whole request. Docker's HEALTHCHECK default timeout is 30 s
// and Kubernetes probes use 1-5 s; healthz is answered by the gateway itself without an
// upstream, so an answer slower than 3 s already means the gateway is in trouble.
const healthcheckTimeout = 3 * time.Second

// healthcheckMaxBody caps what is read of the answer: the status is the verdict, the body is
// only drained so the connection closes cleanly.
const healthcheckMaxBody = 64 << 10

func healthcheckCommand(args []string, stdout, stderr io.Writer) int {
	cf := newCommandFlags("healthcheck", stderr)
	in, err := cf.parse(args)
	if err != nil {
		return usageError(stderr, err)
	}
	// The one positional argument is the URL, not a TARGET.
	raw := in.Positional
	in.Positional = ""
	if in.PositionalScript != "" {
		return usageError(stderr, fmt.Errorf("fluxlit healthcheck: unexpected argument %q (the one argument is URL)", in.PositionalScript))
	}
	if raw == "" {
		cfg, err := loadConfig(in)
		if err != nil {
			fmt.Fprintf(stderr, "fluxlit: %v\n", err)
			return 2
		}
		raw = healthcheckDefaultURL(cfg)
	}
	target, err := healthcheckParseURL(raw)
	if err != nil {
		fmt.Fprintf(stderr, "fluxlit healthcheck: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), healthcheckTimeout)
	defer cancel()
	status, err := healthcheckGet(ctx, target)
	if err != nil {
		fmt.Fprintf(stderr, "fluxlit healthcheck: GET %s: %s\n", target, err)
		return 1
	}
	if status < 200 || status > 299 {
		fmt.Fprintf(stderr, "fluxlit healthcheck: GET %s: %d %s\n", target, status, http.StatusText(status))
		return 1
	}
	fmt.Fprintf(stdout, "fluxlit healthcheck: GET %s: %d %s\n", target, status, http.StatusText(status))
	return 0
}

// healthcheckDefaultURL is the local liveness route. An unspecified listen address
// (0.0.0.0 or ::, as in a container) is reached through 127.0.0.1.
func healthcheckDefaultURL(cfg *Config) string {
	host := cfg.GatewayHost
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.GatewayPort)) + cfg.publicAPIMount() + "/healthz"
}

// healthcheckParseURL accepts an absolute http(s) URL with a host; anything else is a
// usage error, reported with the text the user gave.
func healthcheckParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL (for example http://127.0.0.1:8000/api/healthz)", raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%q: port %q is not in 1-65535", raw, p)
		}
	}
	return u, nil
}

// healthcheckGet returns the status of one GET, following no redirect (a redirect is not a
// healthy answer) and using no proxy from the environment.
func healthcheckGet(ctx context.Context, target *url.URL) (int, error) {
	client := &http.Client{
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", "fluxlit-healthcheck/"+version)
	res, err := client.Do(req)
	if err != nil {
		return 0, errors.New(healthcheckErrText(err))
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, healthcheckMaxBody))
	return res.StatusCode, nil
}

// healthcheckErrText turns a client error into the few words an operator needs.
func healthcheckErrText(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused (is fluxlit running on that port?)"
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("no answer within %v", healthcheckTimeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
