// console.go owns how fluxlit's log looks. There are two formats: the console format, for a
// person at a terminal (local time, level, one short line that fits 120 columns, colour on
// a TTY unless NO_COLOR is set, a traceback as an indented block under its line), and JSON,
// for machines (log_format = "json", or "auto" when stderr is not a terminal), where every
// line fluxlit writes, on either stream, is one JSON object.

package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// consoleWidth is the width console lines are wrapped to: wide enough for an access line
// with a long path, narrow enough for a laptop's split terminal. The terminal's own width
// is not asked for: a log is also read later, in a file or a pager.
const consoleWidth = 120

// consoleIndent is where a record's text starts ("15:04:05 ERROR "); continuation lines and
// tracebacks are indented to it, so the time and level column stays clean.
const consoleIndent = len("15:04:05 ERROR ")

// logStyle is the output format of one run, decided once from the configuration and the
// terminal.
type logStyle struct {
	json  bool // one JSON object per line, on both streams
	color bool // ANSI colour (console format on a terminal, NO_COLOR unset)
}

// logStyleFor decides the format: log_format "json" or "text" as asked; "auto" is the
// console format on a terminal and JSON otherwise (a pipe, a file, journald, a shipper).
func logStyleFor(cfg *Config, terminal bool, env map[string]string) logStyle {
	asJSON := cfg.LogFormat == "json" || cfg.LogFormat == "auto" && !terminal
	return logStyle{json: asJSON, color: !asJSON && useColor(terminal, env)}
}

// useColor: colour only on a terminal, never when NO_COLOR is set (no-color.org) or the
// terminal says it cannot show it (TERM=dumb).
func useColor(terminal bool, env map[string]string) bool {
	return terminal && env["NO_COLOR"] == "" && env["TERM"] != "dumb"
}

// logLevel is the slog level of log_level (validated by the configuration): uvicorn's names,
// trace being slog's lowest (debug) and critical above error (logformat.go).
func logLevel(name string) slog.Level {
	switch name {
	case "trace", "debug":
		return slog.LevelDebug
	case "critical":
		return slogLevelCritical
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// newLogger is the run's logger in the chosen style, writing to w.
func newLogger(cfg *Config, w io.Writer, style logStyle) *slog.Logger {
	level := logLevel(cfg.LogLevel)
	if style.json {
		return slog.New(pyJSONHandler{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: pythonLevelNames})})
	}
	return slog.New(&consoleHandler{w: w, level: level, color: style.color})
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// consoleHandler is the slog.Handler of the console format:
//
//	15:04:05 INFO  api: Application startup complete.
//	15:04:07 INFO  GET /api/users 200 3.1ms 512B (api) id=4f2a9c1b7e3d-1 client=127.0.0.1
//	15:04:09 ERROR api: ZeroDivisionError: division by zero (app.py:6, in boom) id=4f2a9c1b7e3d-2
//	               Traceback (most recent call last):
//	                 ...
//
// Each record is written in one Write call, as the queue in front of stderr expects.
type consoleHandler struct {
	w      io.Writer
	level  slog.Level
	color  bool
	attrs  []slog.Attr // from WithAttrs, keys already qualified by their groups
	prefix string      // WithGroup: "group." prepended to later keys
}

func (h *consoleHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *consoleHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(slices.Clip(h.attrs), qualify(h.prefix, as)...)
	return &c
}

func (h *consoleHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix = h.prefix + name + "."
	return &c
}

// qualify flattens groups into dotted keys, as slog's text handler does.
func qualify(prefix string, as []slog.Attr) []slog.Attr {
	var out []slog.Attr
	for _, a := range as {
		a.Value = a.Value.Resolve()
		if a.Value.Kind() == slog.KindGroup {
			p := prefix
			if a.Key != "" {
				p += a.Key + "."
			}
			out = append(out, qualify(p, a.Value.Group())...)
			continue
		}
		if a.Key == "" {
			continue
		}
		a.Key = prefix + a.Key
		out = append(out, a)
	}
	return out
}

func (h *consoleHandler) Handle(_ context.Context, r slog.Record) error {
	attrs := slices.Clone(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, qualify(h.prefix, []slog.Attr{a})...)
		return true
	})
	text, block := consoleText(r.Message, attrs, h.level <= slog.LevelDebug)
	_, err := h.w.Write(h.format(r.Time, r.Level, text, block))
	return err
}

// format lays out one record: the time and level column, the text wrapped to consoleWidth,
// and the block (a traceback) indented under it, each of its lines wrapped too.
func (h *consoleHandler) format(t time.Time, level slog.Level, text string, block []string) []byte {
	b := make([]byte, 0, 128)
	stamp := t.Local().Format("15:04:05")
	if t.IsZero() {
		stamp = "--:--:--"
	}
	b = h.paint(b, "\x1b[2m", stamp)
	b = append(b, ' ')
	name := level.String()
	if level > slog.LevelError {
		name = "CRIT" // uvicorn's critical; slog would say ERROR+4
	}
	b = h.paint(b, levelColor(level), name)
	b = append(b, strings.Repeat(" ", max(1, consoleIndent-len(stamp)-1-len(name)))...)
	pad := strings.Repeat(" ", consoleIndent)
	width := consoleWidth - consoleIndent
	for i, line := range wrapLine(text, width, width) {
		if i > 0 {
			b = append(b, pad...)
		}
		b = append(b, line...)
		b = append(b, '\n')
	}
	// A block line that does not fit goes on under itself, indented a little further, so
	// that a traceback's frames stay readable.
	for _, l := range block {
		for i, line := range wrapLine(l, width, width-consoleBlockIndent) {
			b = append(b, pad...)
			if i > 0 {
				b = append(b, strings.Repeat(" ", consoleBlockIndent)...)
			}
			b = append(b, line...)
			b = append(b, '\n')
		}
	}
	return b
}

// consoleBlockIndent is the further indent of a block line's continuation.
const consoleBlockIndent = 6

func (h *consoleHandler) paint(b []byte, code, s string) []byte {
	if !h.color || code == "" {
		return append(b, s...)
	}
	b = append(b, code...)
	b = append(b, s...)
	return append(b, "\x1b[0m"...)
}

func levelColor(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "\x1b[1;31m"
	case l >= slog.LevelWarn:
		return "\x1b[33m"
	case l >= slog.LevelInfo:
		return "\x1b[32m"
	}
	return "\x1b[36m"
}

// consoleHidden are attributes the console leaves out: the child's stream (stdout or
// stderr says nothing to a reader).
var consoleHidden = map[string]bool{"stream": true}

// consoleChildHidden are a child record's attributes that its message already says
// ("ZeroDivisionError: division by zero (app.py:6, in boom)").
var consoleChildHidden = map[string]bool{"file": true, "line": true}

// consoleText is a record's one line of text and the block shown under it. A child's line
// reads "api: <line>"; an access record reads like a server's access log; other attributes
// follow as key=value, and a multi-line value (a traceback) becomes the block. A traceback's
// library frames are collapsed (collapseLibraryFrames) unless every frame is asked for (full:
// log_level debug); JSON logs keep them all.
func consoleText(msg string, attrs []slog.Attr, full bool) (string, []string) {
	var sb strings.Builder
	var block []string
	if line, ok := consoleAccess(attrs); ok {
		return line, nil
	}
	for _, a := range attrs {
		if a.Key == "child" {
			sb.WriteString(a.Value.String())
			sb.WriteString(": ")
			break
		}
	}
	sb.WriteString(msg)
	child := sb.Len() > len(msg)
	for _, a := range attrs {
		if a.Key == "child" || consoleHidden[a.Key] || child && consoleChildHidden[a.Key] {
			continue
		}
		v := a.Value.String()
		if strings.Contains(v, "\n") || a.Key == "traceback" || a.Key == "detail" {
			lines := strings.Split(strings.TrimRight(v, "\n"), "\n")
			if a.Key == "traceback" && !full {
				lines = collapseLibraryFrames(lines)
			}
			block = append(block, lines...)
			continue
		}
		sb.WriteByte(' ')
		sb.WriteString(a.Key)
		sb.WriteByte('=')
		sb.WriteString(quoteIfNeeded(escapeControl(v)))
	}
	return sb.String(), block
}

// consoleAccess renders an access record (it has method, path and status) as
//
//	GET /api/users?page=2 200 3.1ms 512B (api) id=4f2a9c1b7e3d-1 client=127.0.0.1
//
// and a WebSocket's open and close records in the same shape. It reads the access log's
// attributes by name, whatever the record's message says.
func consoleAccess(attrs []slog.Attr) (string, bool) {
	get := map[string]slog.Value{}
	for _, a := range attrs {
		get[a.Key] = a.Value
	}
	method, okM := get["method"]
	path, okP := get["path"]
	status, okS := get["status"]
	if !okM || !okP || !okS {
		return "", false
	}
	var sb strings.Builder
	sb.WriteString(strings.ToUpper(method.String()))
	sb.WriteByte(' ')
	sb.WriteString(path.String())
	if q, ok := get["query"]; ok && q.String() != "" {
		sb.WriteString("?" + q.String())
	}
	sb.WriteString(" " + status.String())
	closedBy, closed := get["closed_by"]
	if closed {
		sb.WriteString(" closed by " + closedBy.String())
	}
	if d, ok := get["duration_ms"]; ok {
		sb.WriteString(" " + formatMS(number(d)))
	}
	if n, ok := get["bytes"]; ok {
		sb.WriteString(" " + formatBytes(int64(number(n))))
	}
	if closed {
		sb.WriteString(" in " + formatBytes(int64(number(get["bytes_in"]))) + " out " + formatBytes(int64(number(get["bytes_out"]))))
	}
	if d, ok := get["dispatch"]; ok {
		sb.WriteString(" (" + d.String() + ")")
	}
	if id, ok := get["request_id"]; ok {
		sb.WriteString(" id=" + id.String())
	}
	if c, ok := get["client"]; ok {
		sb.WriteString(" client=" + c.String())
	}
	return sb.String(), true
}

// number reads a numeric attribute whatever its kind (0 when it is not a number), so that
// a renamed or retyped field cannot make the console panic.
func number(v slog.Value) float64 {
	switch v.Kind() {
	case slog.KindInt64:
		return float64(v.Int64())
	case slog.KindUint64:
		return float64(v.Uint64())
	case slog.KindFloat64:
		return v.Float64()
	}
	f, _ := strconv.ParseFloat(v.String(), 64)
	return f
}

// formatMS is a duration in milliseconds as a person reads it: 0.4ms, 3.1ms, 120ms, 2.5s.
func formatMS(ms float64) string {
	switch {
	case ms >= 1000:
		return strconv.FormatFloat(ms/1000, 'f', 1, 64) + "s"
	case ms >= 100:
		return strconv.FormatFloat(ms, 'f', 0, 64) + "ms"
	}
	return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
}

// formatBytes is a size with one unit: 512B, 1.5kB, 12MB.
func formatBytes(n int64) string {
	switch {
	case n >= 1e9:
		return strconv.FormatFloat(float64(n)/1e9, 'f', 1, 64) + "GB"
	case n >= 1e6:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + "MB"
	case n >= 1e3:
		return strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64) + "kB"
	}
	return strconv.FormatInt(n, 10) + "B"
}

// quoteIfNeeded quotes a value that would not read back as one word.
func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " =\"") {
		return strconv.Quote(s)
	}
	return s
}

// wrapLine cuts s into lines of at most first characters, then rest, at spaces where it can
// (a word longer than a line is cut where it must). Leading spaces, a traceback's
// indentation, are kept on the first line.
func wrapLine(s string, first, rest int) []string {
	width := first
	if utf8.RuneCountInString(s) <= width {
		return []string{s}
	}
	var lines []string
	for ; utf8.RuneCountInString(s) > width; width = rest {
		cut := byteIndexOfRune(s, width)
		if sp := strings.LastIndexByte(s[:cut+1], ' '); sp > 0 && strings.TrimSpace(s[:sp]) != "" {
			lines = append(lines, strings.TrimRight(s[:sp], " "))
			s = strings.TrimLeft(s[sp:], " ")
			continue
		}
		lines = append(lines, s[:cut])
		s = s[cut:]
	}
	if s != "" {
		lines = append(lines, s)
	}
	return lines
}

// byteIndexOfRune is the byte offset of the n-th rune of s (len(s) past the end).
func byteIndexOfRune(s string, n int) int {
	i := 0
	for pos := range s {
		if i == n {
			return pos
		}
		i++
	}
	return len(s)
}

// logLineWriter turns text written to it into log records, one per line, for output that
// is written as plain lines in the console format (the [fluxlit-debug] lines) and must be
// JSON like everything else in JSON mode.
type logLineWriter struct {
	log   *slog.Logger
	level slog.Level
}

func (w logLineWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.log.Log(context.Background(), w.level, line)
	}
	return len(p), nil
}
