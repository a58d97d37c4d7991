// childlog.go owns turning a child's output into log records: the level a line carries
// (uvicorn's and Streamlit's "INFO:" / "WARNING:" / "ERROR:" prefixes, Python's warnings), a
// Python traceback together with the line that announced it as one record that names the
// file and line and, where fluxlit can tell, the request that failed, and the lines a
// person need not see at INFO (the children's internal URLs, Streamlit's blank lines).

package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// childQuiet is how long a record that may continue (an ERROR line, a traceback) waits for
// its next line before it is written. Python writes a logged exception in one write, so its
// lines arrive within microseconds of each other; a tenth of a second more only delays an
// error line, never an ordinary one.
const childQuiet = 100 * time.Millisecond

// childCorrelateWait is how long a traceback from a serving API waits for the 5xx answer it
// caused: uvicorn logs the exception before it sends the 500, and fluxlit records the answer
// once the response has passed, usually within milliseconds.
const childCorrelateWait = time.Second

// childTracebackMax bounds the lines one record may hold: a recursion error's traceback is
// thousands of lines; the head and the tail say what happened.
const childTracebackMax = 200

// childLogOptions connect a child's output to the rest of fluxlit.
type childLogOptions struct {
	Log     *slog.Logger
	Child   string // "api" or "streamlit"
	Stream  string // "stdout" or "stderr"
	Project string // the project directory: frames in it are the user's code
	// Serving reports whether the child is up and answering requests: only then can a
	// traceback be about one.
	Serving func() bool
	// RequestID returns the id of the one failed (5xx) request the child answered since t,
	// or "" when there is none or more than one (nil: no correlation).
	RequestID func(since time.Time) string
	// Quiet replaces childQuiet when set (tests that feed a whole output at once).
	Quiet time.Duration
}

// childLog assembles one stream of a child's output into records.
type childLog struct {
	opts childLogOptions

	mu      sync.Mutex
	pending *childRecord
	timer   *time.Timer
}

// childRecord is a record being assembled: a prefixed WARNING/ERROR line, a traceback, or both.
type childRecord struct {
	level   slog.Level
	msg     string   // the announcing line without its level prefix ("" for a bare traceback)
	lines   []string // the traceback (or a warning's source line), as printed
	dropped int      // lines past childTracebackMax
	exc     string   // the exception line ("ZeroDivisionError: division by zero")
	tb      bool     // a traceback header was seen
	afterEx bool     // the exception line was seen: further unindented lines are its message
	start   time.Time
}

func newChildLog(opts childLogOptions) *childLog { return &childLog{opts: opts} }

var (
	// childLevelPrefix is the level prefix of uvicorn's default format ("ERROR:    ") and of
	// the format fluxlit gives Streamlit ("ERROR: ", see streamlitLogOptions).
	childLevelPrefix = regexp.MustCompile(`^(TRACE|DEBUG|INFO|WARNING|ERROR|CRITICAL):\s+`)
	// childPyWarning is a line of Python's warnings module: "path.py:12: DeprecationWarning: ...".
	childPyWarning = regexp.MustCompile(`^\S+\.py:\d+: [A-Za-z]*Warning: `)
	// childFrame is a traceback's frame line.
	childFrame = regexp.MustCompile(`^\s*(?:\|\s*)?File "([^"]+)", line (\d+)(?:, in (.+))?$`)
)

// childInternal are lines that announce a child's own address. The address is private
// (fluxlit's gateway is the one to open), so they are DEBUG, not INFO.
var childInternal = []string{
	"Uvicorn running on ",        // uvicorn
	"Uvicorn server started on ", // Streamlit >= 1.50 (its own Starlette server)
	"You can now view your Streamlit app in your browser",
	"URL: http", "Local URL: ", "Network URL: ", "External URL: ",
}

const (
	tracebackHeader = "Traceback (most recent call last):"
	chainCause      = "The above exception was the direct cause of the following exception:"
	chainContext    = "During handling of the above exception, another exception occurred:"
)

// childLineLevel reads a line's level and text: a known prefix gives its level, anything
// else is INFO (print output, Streamlit's own lines).
func childLineLevel(line string) (level slog.Level, text string, prefixed bool) {
	m := childLevelPrefix.FindStringSubmatch(line)
	if m == nil {
		if childPyWarning.MatchString(line) {
			return slog.LevelWarn, line, true
		}
		return slog.LevelInfo, line, false
	}
	text = line[len(m[0]):]
	switch m[1] {
	case "TRACE", "DEBUG":
		return slog.LevelDebug, text, true
	case "INFO":
		return slog.LevelInfo, text, true
	case "WARNING":
		return slog.LevelWarn, text, true
	}
	return slog.LevelError, text, true
}

// Line takes one line of output (without its newline, escaped).
func (c *childLog) Line(line string) {
	level, text, prefixed := childLineLevel(line)
	c.mu.Lock()
	if p := c.pending; p != nil && !prefixed && p.continues(line) {
		p.add(line)
		c.timer.Reset(childQuiet)
		c.mu.Unlock()
		return
	}
	flush := c.takeLocked()
	switch {
	case strings.TrimSpace(line) == tracebackHeader || strings.HasPrefix(strings.TrimSpace(line), "+ Exception Group Traceback"):
		c.hold(&childRecord{level: slog.LevelError, lines: []string{line}, tb: true, start: time.Now()})
		line = ""
	case prefixed && level >= slog.LevelWarn:
		c.hold(&childRecord{level: level, msg: text, start: time.Now()})
		line = ""
	}
	c.mu.Unlock()
	if flush != nil {
		c.emit(flush, true)
	}
	if line != "" {
		c.emitLine(level, text)
	}
}

// Close writes what is pending: the stream ended (the child exited), so nothing follows.
func (c *childLog) Close() {
	c.mu.Lock()
	p := c.takeLocked()
	c.mu.Unlock()
	if p != nil {
		c.emit(p, false)
	}
}

// hold makes p the pending record and starts its quiet timer. Called with c.mu held.
func (c *childLog) hold(p *childRecord) {
	c.pending = p
	quiet := childQuiet
	if c.opts.Quiet > 0 {
		quiet = c.opts.Quiet
	}
	if c.timer == nil {
		c.timer = time.AfterFunc(quiet, c.quiet)
	} else {
		c.timer.Reset(quiet)
	}
}

// quiet runs when the pending record's lines stopped coming.
func (c *childLog) quiet() {
	c.mu.Lock()
	p := c.takeLocked()
	c.mu.Unlock()
	if p != nil {
		c.emit(p, true)
	}
}

func (c *childLog) takeLocked() *childRecord {
	p := c.pending
	c.pending = nil
	if c.timer != nil {
		c.timer.Stop()
	}
	return p
}

// continues reports whether an unprefixed line belongs to the record being assembled.
func (p *childRecord) continues(line string) bool {
	trimmed := strings.TrimSpace(line)
	indented := line != trimmed && strings.TrimLeft(line, " \t") != line
	if len(p.lines) == 0 { // an announcing line: only a traceback or indented detail may follow
		return trimmed == "" || trimmed == tracebackHeader || indented
	}
	switch {
	case trimmed == "", indented, trimmed == tracebackHeader, trimmed == chainCause, trimmed == chainContext:
		return true
	}
	// An unindented line after the frames is the exception, then its message's further lines.
	return p.tb
}

func (p *childRecord) add(line string) {
	trimmed := strings.TrimSpace(line)
	switch {
	case strings.Contains(line, "Traceback (most recent call last)"):
		p.tb, p.afterEx = true, false
	case trimmed != "" && line == strings.TrimLeft(line, " \t") && trimmed != chainCause && trimmed != chainContext:
		if !p.afterEx && p.tb {
			p.exc, p.afterEx = trimmed, true
		}
	}
	if len(p.lines) >= childTracebackMax {
		p.dropped++
		// Keep the tail: the exception and the frames nearest to it are at the end.
		copy(p.lines[childTracebackMax/2:], p.lines[childTracebackMax/2+1:])
		p.lines[len(p.lines)-1] = line
		return
	}
	p.lines = append(p.lines, line)
}

// emitLine writes an ordinary line: blank lines are dropped (Streamlit frames its start-up
// text with them), the children's own addresses go to DEBUG.
func (c *childLog) emitLine(level slog.Level, text string) {
	if strings.TrimSpace(text) == "" {
		return
	}
	trimmed := strings.TrimSpace(text)
	for _, p := range childInternal {
		if strings.HasPrefix(trimmed, p) {
			level = slog.LevelDebug
			break
		}
	}
	c.opts.Log.LogAttrs(context.Background(), level, trimmed,
		slog.String("child", c.opts.Child), slog.String("stream", c.opts.Stream))
}

// emit writes an assembled record: its message names the exception and where it was raised
// in the user's code, the traceback is one attribute, and the request id is added when the
// record is about the one request that failed meanwhile. mayWait is false at the end of the
// stream, when the child is gone and nothing is worth waiting for.
func (c *childLog) emit(p *childRecord, mayWait bool) {
	detail := trimBlankLines(p.lines)
	if len(detail) == 0 {
		c.emitLine(p.level, p.msg)
		return
	}
	msg := p.msg
	if p.exc != "" {
		if msg != "" {
			msg += ": "
		}
		msg += p.exc
	}
	if msg == "" {
		msg = strings.TrimSpace(detail[0])
	}
	attrs := []slog.Attr{slog.String("child", c.opts.Child), slog.String("stream", c.opts.Stream)}
	if file, line, fn := c.userFrame(detail); file != "" {
		where := c.relative(file) + ":" + strconv.Itoa(line)
		if fn != "" && fn != "<module>" {
			where += ", in " + fn
		}
		msg += " (" + where + ")"
		attrs = append(attrs, slog.String("file", file), slog.Int("line", line))
	}
	text := strings.Join(detail, "\n")
	if p.dropped > 0 {
		text += "\n[fluxlit: " + strconv.Itoa(p.dropped) + " lines left out]"
	}
	key := "detail" // a warning's source line
	if p.tb {
		key = "traceback"
	}
	attrs = append(attrs, slog.String(key, text))
	if id := c.requestID(p.start, mayWait); id != "" {
		attrs = append(attrs, slog.String("request_id", id))
	}
	c.opts.Log.LogAttrs(context.Background(), p.level, msg, attrs...)
}

// trimBlankLines drops the blank lines around a record's detail.
func trimBlankLines(lines []string) []string {
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// requestID finds the request a traceback is about. Only a serving child answers requests;
// its 500 reaches fluxlit just after the traceback, so it is waited for a little.
func (c *childLog) requestID(start time.Time, mayWait bool) string {
	if c.opts.RequestID == nil || c.opts.Serving == nil || !c.opts.Serving() {
		return ""
	}
	since := start.Add(-time.Second)
	deadline := time.Now().Add(childCorrelateWait)
	for {
		if id := c.opts.RequestID(since); id != "" || !mayWait || time.Now().After(deadline) {
			return id
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// userFrame is the frame to name: the innermost one in the project (the user's code), else
// the innermost one. A SyntaxError's last "File" line is the file that does not parse.
func (c *childLog) userFrame(lines []string) (file string, line int, fn string) {
	var lastFile, lastFn string
	var lastLine int
	for _, l := range lines {
		m := childFrame.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		lastFile, lastLine, lastFn = m[1], n, m[3]
		if c.inProject(m[1]) {
			file, line, fn = m[1], n, m[3]
		}
	}
	if file == "" {
		return lastFile, lastLine, lastFn
	}
	return file, line, fn
}

func (c *childLog) inProject(path string) bool {
	if c.opts.Project == "" || !filepath.IsAbs(path) || libraryFrame(path) {
		return false
	}
	rel, err := filepath.Rel(c.opts.Project, path)
	return err == nil && !strings.HasPrefix(rel, "..")
}

// pythonStdlib matches the directory of Python's standard library in a path.
var pythonStdlib = regexp.MustCompile(`/lib/python3\.\d+/`)

// packageDirs are the directories installed packages live in (Debian's Python says
// dist-packages), a project's .venv included.
var packageDirs = []string{"/site-packages/", "/dist-packages/"}

// libraryFrame reports whether a traceback frame's file is library code, not the user's: an
// installed package's or the standard library's, frozen modules too.
func libraryFrame(path string) bool {
	return libraryPackage(path) != ""
}

// libraryPackage is the top-level package or module of a library frame's file: "starlette"
// for .../site-packages/starlette/routing.py, "asyncio" for /usr/lib/python3.11/asyncio/...,
// "importlib" for <frozen importlib._bootstrap>; "" for any other file, which is not library
// code.
func libraryPackage(path string) string {
	if name, ok := strings.CutPrefix(path, "<frozen "); ok {
		top, _, _ := strings.Cut(strings.TrimSuffix(name, ">"), ".")
		return top
	}
	rest, found := "", false
	for _, dir := range packageDirs {
		if _, rest, found = strings.Cut(path, dir); found {
			break
		}
	}
	if !found {
		loc := pythonStdlib.FindStringIndex(path)
		if loc == nil {
			return ""
		}
		rest = path[loc[1]:]
	}
	top, _, _ := strings.Cut(rest, "/")
	return strings.TrimSuffix(top, ".py")
}

// collapseLibraryFrames shortens a traceback for a person at a terminal: each run of two or
// more library frames (libraryFrame) becomes one line naming their packages, "[14 frames in
// uvicorn, starlette, fastapi]", at the frames' indent. The user's frames, the exception
// and the chain lines stay as Python printed them.
func collapseLibraryFrames(lines []string) []string {
	out := make([]string, 0, len(lines))
	for i := 0; i < len(lines); {
		start, frames := i, 0
		var pkgs []string
		for i < len(lines) {
			m := childFrame.FindStringSubmatch(lines[i])
			if m == nil {
				break
			}
			p := libraryPackage(m[1])
			if p == "" {
				break
			}
			frames++
			if !slices.Contains(pkgs, p) {
				pkgs = append(pkgs, p)
			}
			i = frameEnd(lines, i)
		}
		switch {
		case frames >= 2:
			indent := lines[start][:tracebackIndent(lines[start])]
			out = append(out, indent+"["+strconv.Itoa(frames)+" frames in "+strings.Join(pkgs, ", ")+"]")
		case frames == 1:
			out = append(out, lines[start:i]...)
		default:
			out = append(out, lines[i])
			i++
		}
	}
	return out
}

// frameEnd is the index just past frame line i and the lines under it (its source line and
// Python 3.11's carets), which are indented further.
func frameEnd(lines []string, i int) int {
	depth := tracebackIndent(lines[i])
	for i++; i < len(lines) && tracebackIndent(lines[i]) > depth; i++ {
	}
	return i
}

// tracebackIndent is where a traceback line's text starts: past its indent and an exception
// group's "|" bars.
func tracebackIndent(line string) int {
	return len(line) - len(strings.TrimLeft(line, " |"))
}

// relative shortens a path in the project to the project-relative one a person types.
func (c *childLog) relative(path string) string {
	if c.inProject(path) {
		if rel, err := filepath.Rel(c.opts.Project, path); err == nil {
			return rel
		}
	}
	return path
}

// failedRequests remembers the last few requests a child answered with a 5xx, so that a
// traceback it logs can name the request it is about. Only failures are recorded: the
// common request costs nothing.
type failedRequests struct {
	mu   sync.Mutex
	last [failedRequestsKeep]failedRequest
	next int
}

// failedRequestsKeep: a traceback is matched within a second of its failure, and more than
// one failure in that second makes the match ambiguous anyway.
const failedRequestsKeep = 8

type failedRequest struct {
	dispatch string
	id       string
	at       time.Time
}

func (f *failedRequests) add(dispatch, id string) {
	if f == nil {
		return
	}
	f.mu.Lock()
	f.last[f.next%failedRequestsKeep] = failedRequest{dispatch: dispatch, id: id, at: time.Now()}
	f.next++
	f.mu.Unlock()
}

// since returns the id of the one failure of dispatch since t, or "" for none or several:
// naming the wrong request would be worse than naming none.
func (f *failedRequests) since(dispatch string, t time.Time) string {
	if f == nil {
		return ""
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	found := ""
	for _, r := range f.last {
		if r.dispatch != dispatch || r.at.Before(t) {
			continue
		}
		if found != "" {
			return ""
		}
		found = r.id
	}
	return found
}
