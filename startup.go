// startup.go owns what a run says about its start: what it runs, progress while it waits
// (the app probe's import, the children's readiness), the URLs to open once ready, and, when
// the start fails, the one line that names the fix.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// loadAppConfig with a progress line every startProgressInterval: the app probe imports the
// target, which for a slow app takes as long as the API child's start will.
func loadAppConfigShowingProgress(in loadInput, base *Config, log *slog.Logger) (*Config, error) {
	if !appProbeNeeded(base) {
		return loadAppConfig(in)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		start := time.Now()
		t := time.NewTicker(startProgressInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				log.Info(fmt.Sprintf("still importing %s to read its settings after %ds (child_ready_timeout_s = %g)",
					base.Target, int(time.Since(start).Seconds()), base.ChildReadyTimeoutS))
			}
		}
	}()
	return loadAppConfig(in)
}

// printFatal prints the one-line error a failing run ends with: "fluxlit: <what>" in the
// console format, an ERROR record in JSON.
func printFatal(w io.Writer, log *slog.Logger, style logStyle, msg string) {
	if style.json {
		log.Error(msg)
		return
	}
	fmt.Fprintf(w, "fluxlit: %s\n", msg)
}

// startProgressInterval: a start that takes longer than this says what it waits for, so a
// slow import does not look like a hang. Five seconds is past a healthy start on a laptop.
const startProgressInterval = 5 * time.Second

// logStartProgress names the children still starting and how long they may take.
func (r *runner) logStartProgress() {
	var waiting []string
	for _, st := range r.sup.Status() {
		if st.State != childReady {
			waiting = append(waiting, st.Name)
		}
	}
	if len(waiting) == 0 {
		return
	}
	r.log.Info(fmt.Sprintf("still starting %s after %ds (child_ready_timeout_s = %g)",
		strings.Join(waiting, " and "), int(time.Since(r.started).Seconds()), r.cfg.ChildReadyTimeoutS))
}

// doctorHint ends a start-up failure: doctor says the same and more without starting anything.
const doctorHint = "\"fluxlit doctor\" checks the interpreter, the imports and the script"

// startHint is what to do about a first start that failed, read from the error and the
// child's last output: the setting or variable to change, and doctor, which checks the
// interpreter, the imports and the script without starting anything.
func startHint(cfg *Config, err error) string {
	const doctor = doctorHint
	var se *childStartError
	if !errors.As(err, &se) {
		return doctor
	}
	out := strings.Join(se.Output, "\n")
	if m := missingModule.FindStringSubmatch(out); m != nil && (m[1] == "streamlit" || m[1] == "uvicorn" || m[1] == "fastapi") {
		return fmt.Sprintf("install %s into %s (pip install %s), or set python (FLUXLIT_PYTHON) to the interpreter that has it; %s", m[1], cfg.Python, m[1], doctor)
	}
	switch {
	case errors.As(se.Err, new(superviseSpawnError)):
		return fmt.Sprintf("set python (FLUXLIT_PYTHON) to your interpreter, activate its virtualenv, or create the project's .venv; %s", doctor)
	case strings.Contains(se.Err.Error(), "not ready after"):
		return fmt.Sprintf("if %s is only slow to start, raise child_ready_timeout_s (now %g; FLUXLIT_CHILD_READY_TIMEOUT_S); %s", se.Child, cfg.ChildReadyTimeoutS, doctor)
	case se.Child == dispatchAPI && len(cfg.APICommand) == 0:
		return fmt.Sprintf("fix the error above, or check target (now %q: module:attribute, imported from %s); %s", cfg.Target, cfg.ProjectDir, doctor)
	}
	return "fix the error above; " + doctor
}

// setupProblem reports a start that no change to the project's code can mend: the
// interpreter or the child's own program (uvicorn, streamlit) is missing.
func setupProblem(e *childStartError) bool {
	if errors.As(e.Err, new(superviseSpawnError)) {
		return true
	}
	m := missingModule.FindStringSubmatch(strings.Join(e.Output, "\n"))
	return m != nil && (m[1] == "streamlit" || m[1] == "uvicorn")
}

// missingModule finds Python's "No module named x" (from "python -m x", unquoted, or from an
// import, quoted).
var missingModule = regexp.MustCompile(`No module named '?([A-Za-z0-9_]+)`)

// describeChildren says what runs, briefly: "api (uvicorn app:app) and streamlit (streamlit
// run streamlit_app.py)", or the FluxLit app. The full command lines are in the
// [fluxlit-debug] lines.
func describeChildren(cfg *Config, specs []childSpec) string {
	if cfg.App != nil {
		return appDescribe(cfg)
	}
	parts := make([]string, 0, len(specs))
	for _, s := range specs {
		parts = append(parts, s.Name+" ("+shortCommand(s.Argv)+")")
	}
	return strings.Join(parts, " and ")
}

// shortCommand is argv as a person would type it: the module after "python -m", or the
// program's base name, with the arguments up to the first flag.
func shortCommand(argv []string) string {
	if len(argv) == 0 {
		return ""
	}
	words := []string{filepath.Base(argv[0])}
	rest := argv[1:]
	if len(rest) > 1 && rest[0] == "-m" {
		words, rest = []string{rest[1]}, rest[2:]
	}
	for _, a := range rest {
		if strings.HasPrefix(a, "-") {
			break
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}

// reportReady runs once every child is ready: systemd READY=1, then the URLs to open.
func (r *runner) reportReady() {
	r.gw.ready.starting.Store(false)
	r.ready.Store(true)
	r.notify.Notify("READY=1\nSTATUS=ready: serving on " + r.gw.listen)
	urls := publicURLsFor(r.cfg, r.gw)
	took := time.Since(r.started)
	if r.style.json {
		attrs := []any{"addr", r.gw.listen, "startup_s", math.Round(took.Seconds()*10) / 10}
		for _, u := range urls {
			attrs = append(attrs, u.key, u.url)
		}
		r.log.Info("fluxlit ready", attrs...)
	} else {
		r.log.Info("fluxlit ready in " + formatMS(float64(took.Milliseconds())))
		if r.log.Enabled(context.Background(), slog.LevelInfo) || r.cfg.StartupBanner {
			printURLBanner(r.logOut, r.cfg, urls, r.style.color)
		}
	}
	if r.sup != nil {
		for _, st := range r.sup.Status() {
			if st.State == childWaiting {
				r.log.Warn(st.Name+" is not running: fix the error above and save; the gateway serves the rest meanwhile", "child", st.Name)
			}
		}
	}
	if r.cfg.StartupBanner && r.cfg.TrustProxy {
		allow := "loopback only"
		if len(r.cfg.ForwardedAllowIPs) > 0 {
			allow = strings.Join(r.cfg.ForwardedAllowIPs, ", ")
		}
		r.log.Warn("X-Forwarded-* headers are trusted from " + allow + ": only expose this port behind the proxy that sets them")
	}
}

// publicURL is one address the banner and the "fluxlit ready" record name.
type publicURL struct {
	key, label, url string
}

// publicURLsFor are the URLs to open once fluxlit is ready: the app (when there is a
// Streamlit), the API docs (when there is an API) and the health route, at the public base
// URL when one is set, else at the gateway's own address.
func publicURLsFor(cfg *Config, g *gateway) []publicURL {
	base := cfg.PublicBaseURL
	if base == "" {
		base = "http://" + loopbackDialAddr(g.listen) + cfg.RootPath
	}
	base = strings.TrimSuffix(base, "/")
	var urls []publicURL
	if len(g.gens.current().ui) > 0 {
		urls = append(urls, publicURL{"app", "App", base + "/"})
	}
	if g.gens.api() != nil {
		urls = append(urls, publicURL{"api_docs", "API docs", base + cfg.APIMountPath + "/docs"})
	}
	return append(urls, publicURL{"health", "Health", base + cfg.APIMountPath + "/healthz"})
}

// printURLBanner is the console's answer to "what do I open": the public URLs, set apart
// from the log lines around them.
func printURLBanner(w io.Writer, cfg *Config, urls []publicURL, color bool) {
	var b strings.Builder
	b.WriteString("\n")
	for _, u := range urls {
		v := u.url
		if color && u.key == "app" {
			v = "\x1b[1m" + v + "\x1b[0m"
		}
		fmt.Fprintf(&b, "  %-10s %s\n", u.label+":", v)
	}
	if ip := net.ParseIP(cfg.GatewayHost); ip != nil && ip.IsUnspecified() {
		fmt.Fprintf(&b, "  %-10s every interface (gateway_host = %s)\n", "Listening:", cfg.GatewayHost)
	}
	b.WriteString("\n")
	io.WriteString(w, b.String())
}
