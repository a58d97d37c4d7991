// logformat.go owns what a log line looks like: slog's text (on a terminal) or JSON lines,
// with Python FluxLit's names where it has them. Level names are Python's (WARNING,
// CRITICAL); JSON lines also carry its base fields "logger" and "message" (JSON_LOG_BASE_FIELDS:
// time, level, logger, message), next to slog's own "msg", which fluxlit's runbooks read.

package main

import (
	"context"
	"io"
	"log/slog"
)

// Loggers named in JSON lines, as Python FluxLit names its own: the gateway's access lines
// are "fluxlit.gateway", everything else fluxlit says is "fluxlit".
const (
	loggerGateway = "fluxlit.gateway"
	loggerFluxlit = "fluxlit"
)

func newLogger(cfg *Config, w io.Writer, terminal bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slogLevel(cfg.LogLevel), ReplaceAttr: pythonLevelNames}
	format := cfg.LogFormat
	if format == "auto" {
		format = "json"
		if terminal {
			format = "text"
		}
	}
	if format == "json" {
		return slog.New(pyJSONHandler{slog.NewJSONHandler(w, opts)})
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// slogLevelCritical is uvicorn's "critical": fluxlit logs nothing that severe through slog,
// so only the one-line fatal errors (printed directly) remain.
const slogLevelCritical = slog.LevelError + 4

// slogLevel maps log_level (uvicorn's names) onto slog; trace is slog's lowest, debug.
func slogLevel(name string) slog.Level {
	switch name {
	case "trace", "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	case "critical":
		return slogLevelCritical
	}
	return slog.LevelInfo
}

// pythonLevelNames writes levels as Python's logging does: WARNING (slog: WARN) and CRITICAL.
func pythonLevelNames(groups []string, a slog.Attr) slog.Attr {
	if a.Key != slog.LevelKey || len(groups) > 0 {
		return a
	}
	switch l, _ := a.Value.Any().(slog.Level); {
	case l >= slogLevelCritical:
		a.Value = slog.StringValue("CRITICAL")
	case l == slog.LevelWarn:
		a.Value = slog.StringValue("WARNING")
	}
	return a
}

// pyJSONHandler adds Python FluxLit's "logger" and "message" to every JSON line that does
// not carry them already (the access lines name their own: observe.go).
type pyJSONHandler struct{ slog.Handler }

func (h pyJSONHandler) Handle(ctx context.Context, r slog.Record) error {
	named := false
	r.Attrs(func(a slog.Attr) bool {
		named = a.Key == "logger"
		return false // the access lines put it first; only the first attribute is looked at
	})
	if !named {
		r.AddAttrs(slog.String("logger", loggerFluxlit), slog.String("message", r.Message))
	}
	return h.Handler.Handle(ctx, r)
}

func (h pyJSONHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return pyJSONHandler{h.Handler.WithAttrs(attrs)}
}

func (h pyJSONHandler) WithGroup(name string) slog.Handler {
	return pyJSONHandler{h.Handler.WithGroup(name)}
}

// logsPythonJSON reports whether log writes JSON lines with Python FluxLit's base fields.
func logsPythonJSON(log *slog.Logger) bool {
	_, ok := log.Handler().(pyJSONHandler)
	return ok
}
