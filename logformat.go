// logformat.go owns what Python FluxLit's names add to fluxlit's JSON log lines (console.go
// owns the formats): its level names (WARNING, CRITICAL) and its base fields "logger" and
// "message" (JSON_LOG_BASE_FIELDS: time, level, logger, message), next to slog's own "msg",
// which fluxlit's runbooks read.

package main

import (
	"context"
	"log/slog"
)

// Loggers named in JSON lines, as Python FluxLit names its own: the gateway's access lines
// are "fluxlit.gateway", everything else fluxlit says is "fluxlit".
const (
	loggerGateway = "fluxlit.gateway"
	loggerFluxlit = "fluxlit"
)

// slogLevelCritical is uvicorn's "critical": fluxlit logs nothing that severe through slog,
// so only the one-line fatal errors remain.
const slogLevelCritical = slog.LevelError + 4

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
