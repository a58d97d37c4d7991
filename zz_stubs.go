package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"time"
)

type tomlEntry struct {
	Key       string
	Line, Col int
	Value     any
}
type tomlError struct {
	Line, Col int
	Msg       string
}

func (e *tomlError) Error() string               { return e.Msg }
func parseTOML(data []byte) ([]tomlEntry, error) { return nil, nil }

type authConfig struct {
	HSSecret       []byte
	HSSecretFile   string
	PublicKeyFile  string
	JWKSFile       string
	JWKSURL        string
	Issuer         string
	Audience       []string
	Algorithms     []string
	Leeway         time.Duration
	RequiredScopes []string
	Protect        []string
	PublicPaths    []string
	HTTPClient     *http.Client
}
type edgeAuth struct{}
type jwtError struct{}

func newEdgeAuth(cfg authConfig, log *slog.Logger) (*edgeAuth, error)              { return nil, nil }
func (a *edgeAuth) authorize(r *http.Request, sub string) (http.Header, *jwtError) { return nil, nil }
func (e *jwtError) Status() int                                                    { return 401 }
func (e *jwtError) Reason() string                                                 { return "" }
func (e *jwtError) WWWAuthenticate() string                                        { return "" }
func stripFluxlitHeaders(h http.Header)                                            {}

type ipAllowList struct{}

func (l *ipAllowList) String() string                    { return "" }
func parseAllowIPs(items []string) (*ipAllowList, error) { return nil, nil }
func loopbackAllowList() *ipAllowList                    { return nil }

type forwardedInfo struct {
	ClientIP netip.Addr
	Proto    string
	Host     string
	Prefix   string
	Trusted  bool
	XFF      string
}

func resolveForwarded(r *http.Request, allow *ipAllowList) forwardedInfo { return forwardedInfo{} }

type rateLimiter struct{}

func newRateLimiter(rps float64, burst int, maxKeys int) *rateLimiter        { return nil }
func (l *rateLimiter) allow(key string, now time.Time) (bool, time.Duration) { return true, 0 }

type corsPolicy struct{}

func newCORSPolicy(o []string, c bool, m, h []string, a time.Duration) (*corsPolicy, error) {
	return nil, nil
}
func (p *corsPolicy) handlePreflight(w http.ResponseWriter, r *http.Request) bool { return false }
func (p *corsPolicy) decorate(h http.Header, origin string)                       {}

type securityHeaders struct{}

func newSecurityHeaders(d time.Duration) *securityHeaders  { return nil }
func (s *securityHeaders) apply(h http.Header, https bool) {}

type childSpec struct {
	Name  string
	Argv  []string
	Dir   string
	Env   []string
	Ready func(ctx context.Context) error
}
type childState string

const childReady childState = "ready"

type childStatus struct {
	Name      string
	State     childState
	PID       int
	Restarts  int
	LastExit  string
	StartedAt time.Time
	Output    []string
	LastError string
}
type supervisorOptions struct {
	MaxBackoff   time.Duration
	CrashLimit   int
	CrashWindow  time.Duration
	StopGrace    time.Duration
	ReadyTimeout time.Duration
	Log          *slog.Logger
	OnChange     func(childStatus)
}
type supervisor struct{}

func newSupervisor(specs []childSpec, opts supervisorOptions) *supervisor { return nil }
func (s *supervisor) Start(ctx context.Context) error                     { return nil }
func (s *supervisor) Done() <-chan struct{}                               { return nil }
func (s *supervisor) Err() error                                          { return nil }
func (s *supervisor) Ready(name string) bool                              { return true }
func (s *supervisor) Status() []childStatus                               { return nil }
func (s *supervisor) Restart(name string) error                           { return nil }
func (s *supervisor) Stop(ctx context.Context)                            {}

func writePidfile(path string) error                                       { return nil }
func readPidfile(path string) (int, error)                                 { return 0, nil }
func removePidfile(path string, pid int)                                   {}
func processAlive(pid int) bool                                            { return false }
func shutdownCommand(p string, f bool, w time.Duration, out io.Writer) int { return 0 }

type sdNotifier struct{}

func newSDNotifier(s string) *sdNotifier                                               { return nil }
func (n *sdNotifier) Notify(state string) error                                        { return nil }
func watchdogInterval(u, p string, self int) time.Duration                             { return 0 }
func childEnv(parent []string, add map[string]string, deny func(string) bool) []string { return parent }

func doctorCommand(args []string, stdout, stderr io.Writer) int      { return 0 }
func newCommand(args []string, stdout, stderr io.Writer) int         { return 0 }
func buildCommand(args []string, stdout, stderr io.Writer) int       { return 0 }
func healthcheckCommand(args []string, stdout, stderr io.Writer) int { return 0 }
