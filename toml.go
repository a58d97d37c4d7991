// toml.go owns the reader for fluxlit.toml and pyproject.toml: a hand-written parser for TOML
// 1.0 (the version Python's tomllib reads). It returns every key assignment as a flat dotted key
// with its position and rejects malformed input with a "LINE:COL: message" error instead of
// guessing. Columns count runes (Unicode code points), as editors show them. What no fluxlit
// setting uses (arrays of tables, tables inside arrays, dates) is parsed and checked all the
// same, so that a whole pyproject.toml reads.

package main

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// tomlEntry is one key assignment, with its full dotted key ("a.b.c" after table headers and
// dotted keys). Inline tables are flattened: `a = { b = 1 }` yields the entry "a.b".
type tomlEntry struct {
	// Key is the full dotted key in canonical form: a part that is a valid bare key is written
	// bare (`"port"` and `port` are the same TOML key, so both give "port"); any other part is
	// written as a TOML basic string (`"a.b"`), so the dotted form is never ambiguous.
	Key   string
	Line  int // 1-based line of the key's first part
	Col   int // 1-based column of the key's first part, counted in runes
	Value any // string, int64, float64, bool, or []any of those (nested arrays allowed)
}

// tomlError is a parse error at a position; Error() is "LINE:COL: message".
// Col counts runes from the start of the line, starting at 1.
type tomlError struct {
	Line, Col int
	Msg       string
}

func (e *tomlError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg) }

// tomlMaxDepth bounds how deeply arrays and inline tables may nest. Real configuration nests at
// most two levels; the bound keeps recursion (and so the stack) small on hostile input such as
// ten thousand '[' in a row, which must fail with an error, not a stack overflow.
const tomlMaxDepth = 32

// tomlBOM is the UTF-8 byte order mark some Windows editors put at the start of a file. It is
// not content, and dropping it keeps the columns of the first line what the editor shows.
const tomlBOM = "\uFEFF"

// tomlDefKind records how a key or table came to exist, which decides what may later extend
// or redefine it (TOML 1.0 "Table" and "Keys" sections).
type tomlDefKind int

const (
	tomlUndefined   tomlDefKind = iota // zero value: the map has no such key
	tomlImplicit                       // table created as a prefix of a header ([a.b] creates a); a later [a] may define it
	tomlHeader                         // table defined by its own [header]; only once
	tomlDotted                         // table created by a dotted key (a.b = 1 creates a); no header may define it later
	tomlInline                         // table written as { ... }; closed to any later addition
	tomlValue                          // key holding a value
	tomlArrayTables                    // array of tables ([[a]]); each [[a]] adds an element
)

// tomlDatetime is a TOML date, time or date-time, kept as written (after validation): no
// setting takes one, so it only has to be told apart from a string.
type tomlDatetime string

// tomlKeyPart is one part of a dotted key, already unquoted, with its byte offset.
type tomlKeyPart struct {
	name string
	pos  int
}

// tomlScanner holds the parse state: the input, a cursor, and what has been defined so far.
type tomlScanner struct {
	data       []byte
	pos        int                    // byte offset of the next unread byte
	lineStarts []int                  // byte offset where each line begins, to turn offsets into line:col
	defs       map[string]tomlDefKind // every key and table defined so far, by canonical dotted key
	aot        map[string]int         // elements of each array of tables so far
	anon       int                    // inline tables inside arrays so far (see parseInlineTableValue)
	entries    []tomlEntry
	last       struct{ pos, line, col int } // the last position computed, to count on from
}

// parseTOML parses a fluxlit.toml document and returns its key assignments in document order.
// A non-nil error is always a *tomlError.
func parseTOML(data []byte) ([]tomlEntry, error) {
	data = bytes.TrimPrefix(data, []byte(tomlBOM))
	s := &tomlScanner{data: data, lineStarts: []int{0}, defs: map[string]tomlDefKind{}, aot: map[string]int{}}
	for i, c := range data {
		if c == '\n' {
			s.lineStarts = append(s.lineStarts, i+1)
		}
	}
	if err := s.checkEncoding(); err != nil {
		return nil, err
	}
	if err := s.parseDocument(); err != nil {
		return nil, err
	}
	return s.entries, nil
}

// position turns a byte offset into a 1-based line and a 1-based rune column. Entries come in
// document order, so it counts on from the last position asked for when it can; recounting
// from the line start each time would be quadratic on a long one-line inline table.
func (s *tomlScanner) position(pos int) (line, col int) {
	line = sort.Search(len(s.lineStarts), func(i int) bool { return s.lineStarts[i] > pos })
	from, col := s.lineStarts[line-1], 1
	if s.last.line == line && s.last.pos <= pos {
		from, col = s.last.pos, s.last.col
	}
	col += utf8.RuneCount(s.data[from:pos])
	s.last.pos, s.last.line, s.last.col = pos, line, col
	return line, col
}

func (s *tomlScanner) errorf(pos int, format string, args ...any) error {
	line, col := s.position(pos)
	return &tomlError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

// peek returns the next byte, or 0 at the end of input (NUL bytes are rejected up front, so 0
// cannot be mistaken for content).
func (s *tomlScanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// describe names the next character for an error message.
func (s *tomlScanner) describe() string {
	switch {
	case s.pos >= len(s.data):
		return "end of file"
	case s.data[s.pos] == '\n' || s.data[s.pos] == '\r':
		return "end of line"
	}
	r, _ := utf8.DecodeRune(s.data[s.pos:])
	return fmt.Sprintf("%q", r)
}

// checkEncoding rejects invalid UTF-8 and NUL bytes anywhere, before parsing starts.
func (s *tomlScanner) checkEncoding() error {
	for pos := 0; pos < len(s.data); {
		r, size := utf8.DecodeRune(s.data[pos:])
		if r == utf8.RuneError && size == 1 {
			return s.errorf(pos, "invalid UTF-8 (fluxlit.toml must be UTF-8 encoded)")
		}
		if r == 0 {
			return s.errorf(pos, "NUL byte is not allowed")
		}
		pos += size
	}
	return nil
}

func (s *tomlScanner) parseDocument() error {
	table := "" // canonical key of the table from the last [header]; "" is the root
	for s.pos < len(s.data) {
		s.skipSpace()
		var err error
		switch s.peek() {
		case '#', '\n', '\r', 0:
			err = s.endLine("comment")
		case '[':
			table, err = s.parseHeader()
		default:
			if err = s.parseKeyValue(table, 0); err == nil {
				err = s.endLine("value")
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// skipSpace skips TOML whitespace, which is only space and tab.
func (s *tomlScanner) skipSpace() {
	for s.peek() == ' ' || s.peek() == '\t' {
		s.pos++
	}
}

// skipNewline consumes one LF or CRLF and reports whether it did; a CR alone is an error.
func (s *tomlScanner) skipNewline() (bool, error) {
	switch {
	case s.peek() == '\n':
		s.pos++
		return true, nil
	case bytes.HasPrefix(s.data[s.pos:], []byte("\r\n")):
		s.pos += 2
		return true, nil
	case s.peek() == '\r':
		return false, s.errorf(s.pos, "carriage return must be followed by a newline")
	}
	return false, nil
}

// skipComment skips from '#' to the end of the line. TOML forbids control characters other
// than tab in comments.
func (s *tomlScanner) skipComment() error {
	for s.pos < len(s.data) && s.data[s.pos] != '\n' {
		c := s.data[s.pos]
		if c == '\r' && s.pos+1 < len(s.data) && s.data[s.pos+1] == '\n' {
			return nil
		}
		if tomlIsControl(rune(c)) {
			return s.errorf(s.pos, "control character %U is not allowed in a comment", c)
		}
		s.pos++
	}
	return nil
}

// endLine finishes a line after a value or header: optional space and comment, then a newline
// or the end of the file. Anything else is junk after what came before.
func (s *tomlScanner) endLine(after string) error {
	s.skipSpace()
	if s.peek() == '#' {
		if err := s.skipComment(); err != nil {
			return err
		}
	}
	if s.pos >= len(s.data) {
		return nil
	}
	ok, err := s.skipNewline()
	if err != nil || ok {
		return err
	}
	return s.errorf(s.pos, "unexpected %s after %s", s.describe(), after)
}

// skipBlank skips whitespace, newlines and comments, as allowed between array elements.
func (s *tomlScanner) skipBlank() error {
	for {
		s.skipSpace()
		if s.peek() == '#' {
			if err := s.skipComment(); err != nil {
				return err
			}
		}
		ok, err := s.skipNewline()
		if err != nil || !ok {
			return err
		}
	}
}

// parseHeader parses a "[a.b]" or "[[a.b]]" line, defines the table and returns its canonical
// key (for an array of tables, the key of its new element).
func (s *tomlScanner) parseHeader() (string, error) {
	start := s.pos
	s.pos++ // '['
	array := s.peek() == '['
	if array {
		s.pos++
	}
	s.skipSpace()
	parts, err := s.parseKey()
	if err != nil {
		return "", err
	}
	if s.peek() != ']' || array && !bytes.HasPrefix(s.data[s.pos:], []byte("]]")) {
		closing := "']'"
		if array {
			closing = "']]'"
		}
		return "", s.errorf(s.pos, "expected %s to close the table header, found %s", closing, s.describe())
	}
	s.pos++
	if array {
		s.pos++
	}
	table, err := s.defineHeader(start, parts, array)
	if err != nil {
		return "", err
	}
	return table, s.endLine("table header")
}

// tomlElementKey is the canonical key of element i of the array of tables name. It cannot be
// confused with a written key: "[0]" is neither a bare key nor a quoted one.
func tomlElementKey(name string, i int) string { return fmt.Sprintf("%s.[%d]", name, i) }

// defineHeader records the table named by a header, checking it against earlier definitions.
// A prefix that names an array of tables means its last element ([[a]] then [a.b]).
func (s *tomlScanner) defineHeader(start int, parts []tomlKeyPart, array bool) (string, error) {
	name := ""
	for i, part := range parts {
		name = tomlJoinKey(name, part.name)
		got := s.defs[name]
		last := i == len(parts)-1
		switch {
		case got == tomlValue:
			return "", s.errorf(part.pos, "key %s already has a value, so it cannot be a table", name)
		case got == tomlInline:
			return "", s.errorf(part.pos, "table %s was written inline ({...}) and cannot be extended", name)
		case !last && got == tomlArrayTables:
			name = tomlElementKey(name, s.aot[name]-1)
		case !last:
			if got == tomlUndefined {
				s.defs[name] = tomlImplicit
			}
		case array && (got == tomlUndefined || got == tomlArrayTables):
			s.defs[name] = tomlArrayTables
			elem := tomlElementKey(name, s.aot[name])
			s.aot[name]++
			s.defs[elem] = tomlHeader
			return elem, nil
		case array:
			return "", s.errorf(start, "table %s is already defined, so [[%s]] cannot make it an array of tables", name, name)
		case got == tomlArrayTables:
			return "", s.errorf(start, "%s is an array of tables; add an element with [[%s]]", name, name)
		case got == tomlUndefined || got == tomlImplicit:
			s.defs[name] = tomlHeader
		case got == tomlHeader:
			return "", s.errorf(start, "duplicate table [%s]", name)
		case got == tomlDotted:
			return "", s.errorf(start, "table %s was already defined by dotted keys", name)
		}
	}
	return name, nil
}

// parseKey parses a possibly dotted key and the whitespace after it.
func (s *tomlScanner) parseKey() ([]tomlKeyPart, error) {
	var parts []tomlKeyPart
	for {
		part, err := s.parseKeyPart()
		if err != nil {
			return nil, err
		}
		parts = append(parts, part)
		s.skipSpace()
		if s.peek() != '.' {
			return parts, nil
		}
		s.pos++
		s.skipSpace()
	}
}

// parseKeyPart parses one bare, basic-quoted or literal-quoted key part.
func (s *tomlScanner) parseKeyPart() (tomlKeyPart, error) {
	start := s.pos
	c := s.peek()
	switch {
	case c == '"' || c == '\'':
		if bytes.HasPrefix(s.data[s.pos:], []byte{c, c, c}) {
			return tomlKeyPart{}, s.errorf(start, "multi-line strings cannot be keys")
		}
		name, err := s.parseString(c, false)
		return tomlKeyPart{name: name, pos: start}, err
	case tomlIsBareKeyByte(c):
		for tomlIsBareKeyByte(s.peek()) {
			s.pos++
		}
		return tomlKeyPart{name: string(s.data[start:s.pos]), pos: start}, nil
	}
	return tomlKeyPart{}, s.errorf(start, "expected a key, found %s", s.describe())
}

// parseKeyValue parses "key = value" inside table and records the entries it produces
// (several when the value is an inline table). depth counts enclosing inline tables.
func (s *tomlScanner) parseKeyValue(table string, depth int) error {
	keyPos := s.pos
	parts, err := s.parseKey()
	if err != nil {
		return err
	}
	full := table
	for _, p := range parts {
		full = tomlJoinKey(full, p.name)
	}
	if s.peek() != '=' {
		return s.errorf(s.pos, "expected '=' after key %s, found %s", tomlShownKey(full), s.describe())
	}
	s.pos++
	s.skipSpace()
	if s.peek() == '{' {
		if err := s.defineKey(table, parts, tomlInline); err != nil {
			return err
		}
		return s.parseInlineTable(full, depth+1)
	}
	if err := s.defineKey(table, parts, tomlValue); err != nil {
		return err
	}
	value, err := s.parseValue(depth + 1)
	if err != nil {
		return err
	}
	line, col := s.position(keyPos)
	s.entries = append(s.entries, tomlEntry{Key: full, Line: line, Col: col, Value: value})
	return nil
}

// defineKey records a key assigned inside table, creating the tables its dotted prefix names.
// Dotted keys may pass through tables they or a header's prefix created, but may not add to a
// table that has its own header, an inline table, or a value.
func (s *tomlScanner) defineKey(table string, parts []tomlKeyPart, kind tomlDefKind) error {
	name := table
	for i, part := range parts {
		name = tomlJoinKey(name, part.name)
		got := s.defs[name]
		if i == len(parts)-1 {
			switch got {
			case tomlUndefined:
				s.defs[name] = kind
				return nil
			case tomlValue:
				return s.errorf(part.pos, "duplicate key %s", tomlShownKey(name))
			default:
				return s.errorf(part.pos, "key %s is already a table", tomlShownKey(name))
			}
		}
		switch got {
		case tomlUndefined, tomlImplicit:
			s.defs[name] = tomlDotted
		case tomlValue:
			return s.errorf(part.pos, "key %s already has a value, so it cannot be a table", tomlShownKey(name))
		case tomlInline:
			return s.errorf(part.pos, "table %s was written inline ({...}) and cannot be extended", tomlShownKey(name))
		case tomlHeader:
			return s.errorf(part.pos, "table %s has its own [%s] header; set its keys there", name, name)
		case tomlArrayTables:
			return s.errorf(part.pos, "%s is an array of tables; add an element with [[%s]]", name, name)
		}
	}
	return nil
}

// parseInlineTable parses "{ k = v, ... }" whose key is table; its keys become entries under
// table. TOML 1.0 inline tables are on one line with no trailing comma.
func (s *tomlScanner) parseInlineTable(table string, depth int) error {
	start := s.pos
	if depth > tomlMaxDepth {
		return s.errorf(start, "arrays and inline tables nested more than %d deep", tomlMaxDepth)
	}
	s.pos++ // '{'
	s.skipSpace()
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	for {
		if err := s.parseKeyValue(table, depth); err != nil {
			return err
		}
		s.skipSpace()
		switch s.peek() {
		case ',':
			s.pos++
			s.skipSpace()
			if s.peek() == '}' {
				return s.errorf(s.pos, "trailing comma is not allowed in an inline table")
			}
		case '}':
			s.pos++
			return nil
		case 0:
			return s.errorf(start, "unterminated inline table")
		case '\n', '\r':
			return s.errorf(s.pos, "inline table must be on one line")
		default:
			return s.errorf(s.pos, "expected ',' or '}' in inline table, found %s", s.describe())
		}
	}
}

// parseValue parses a value other than an inline table. depth counts enclosing arrays and
// inline tables.
func (s *tomlScanner) parseValue(depth int) (any, error) {
	if depth > tomlMaxDepth {
		return nil, s.errorf(s.pos, "arrays and inline tables nested more than %d deep", tomlMaxDepth)
	}
	switch c := s.peek(); c {
	case '"', '\'':
		multi := bytes.HasPrefix(s.data[s.pos:], []byte{c, c, c})
		return s.parseString(c, multi)
	case '[':
		return s.parseArray(depth)
	case '{':
		return s.parseInlineTableValue(depth)
	}
	return s.parseScalar()
}

// parseInlineTableValue parses an inline table inside an array into a map. It is parsed as an
// inline table under a key of its own that no written key can equal (canonical keys never
// start with a space), so every check of parseInlineTable applies; its entries are then taken
// back out of the document's and nested into the map.
func (s *tomlScanner) parseInlineTableValue(depth int) (map[string]any, error) {
	s.anon++
	table := fmt.Sprintf(" [%d]", s.anon)
	s.defs[table] = tomlInline
	first := len(s.entries)
	if err := s.parseInlineTable(table, depth+1); err != nil {
		return nil, err
	}
	m := map[string]any{}
	for _, e := range s.entries[first:] {
		tomlSetNested(m, tomlSplitKey(strings.TrimPrefix(e.Key, table+".")), e.Value)
	}
	s.entries = s.entries[:first]
	return m, nil
}

// tomlSetNested sets m[a][b]...[z] = v for the key parts a..z, creating the inner tables.
func tomlSetNested(m map[string]any, parts []string, v any) {
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

// parseArray parses "[ v, ... ]"; newlines, comments and a trailing comma are allowed.
func (s *tomlScanner) parseArray(depth int) ([]any, error) {
	start := s.pos
	s.pos++ // '['
	values := []any{}
	for {
		if err := s.skipBlank(); err != nil {
			return nil, err
		}
		if s.peek() == ']' {
			s.pos++
			return values, nil
		}
		if s.peek() == 0 {
			return nil, s.errorf(start, "unterminated array")
		}
		v, err := s.parseValue(depth + 1)
		if err != nil {
			return nil, err
		}
		values = append(values, v)
		if err := s.skipBlank(); err != nil {
			return nil, err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return values, nil
		case 0:
			return nil, s.errorf(start, "unterminated array")
		default:
			return nil, s.errorf(s.pos, "expected ',' or ']' in array, found %s", s.describe())
		}
	}
}

// parseString parses a basic (quote ") or literal (quote ') string, single- or multi-line.
// Newlines inside multi-line strings come back as "\n" whether the file uses LF or CRLF.
func (s *tomlScanner) parseString(quote byte, multi bool) (string, error) {
	start := s.pos
	if !multi {
		s.pos++
	} else {
		s.pos += 3
		if _, err := s.skipNewline(); err != nil { // a newline right after the opening quotes is not content
			return "", err
		}
	}
	var b strings.Builder
	for {
		if s.pos >= len(s.data) {
			if multi {
				return "", s.errorf(start, "unterminated multi-line string")
			}
			return "", s.errorf(start, "unterminated string")
		}
		c := s.data[s.pos]
		switch {
		case c == quote && !multi:
			s.pos++
			return b.String(), nil
		case c == quote:
			if end, err := s.quoteRun(&b, quote); end || err != nil {
				return b.String(), err
			}
		case c == '\\' && quote == '"':
			if err := s.parseEscape(&b, start, multi); err != nil {
				return "", err
			}
		case c == '\n' || c == '\r':
			if !multi {
				return "", s.errorf(start, "unterminated string (newline before the closing quote)")
			}
			if _, err := s.skipNewline(); err != nil {
				return "", err
			}
			b.WriteByte('\n')
		default:
			r, size := utf8.DecodeRune(s.data[s.pos:])
			if tomlIsControl(r) {
				return "", s.errorf(s.pos, "control character %U must be escaped in a string", r)
			}
			b.WriteRune(r)
			s.pos += size
		}
	}
}

// quoteRun reads a run of quotes inside a multi-line string and reports whether it closed the
// string. Up to two quotes may sit right before the closing three: `"""a""""` is `a"`.
func (s *tomlScanner) quoteRun(b *strings.Builder, quote byte) (end bool, err error) {
	n := 0
	for s.pos+n < len(s.data) && s.data[s.pos+n] == quote {
		n++
	}
	if n > 5 {
		return false, s.errorf(s.pos, "three or more quotes in a row must be escaped inside a multi-line string")
	}
	s.pos += n
	end = n >= 3
	if end {
		n -= 3
	}
	b.WriteString(strings.Repeat(string(quote), n))
	return end, nil
}

// tomlEscapes maps the single-character escapes of TOML 1.0 to what they stand for.
var tomlEscapes = map[byte]byte{'b': '\b', 't': '\t', 'n': '\n', 'f': '\f', 'r': '\r', '"': '"', '\\': '\\'}

// parseEscape parses one escape sequence at the backslash and writes what it stands for.
// start is the string's opening quote, for the unterminated-string error.
func (s *tomlScanner) parseEscape(b *strings.Builder, start int, multi bool) error {
	at := s.pos
	s.pos++ // '\\'
	if s.pos >= len(s.data) {
		return s.errorf(start, "unterminated string")
	}
	c := s.data[s.pos]
	if r, ok := tomlEscapes[c]; ok {
		b.WriteByte(r)
		s.pos++
		return nil
	}
	switch {
	case c == 'u' || c == 'U':
		n := 4
		if c == 'U' {
			n = 8
		}
		hex := s.data[s.pos+1 : min(s.pos+1+n, len(s.data))]
		v, err := strconv.ParseUint(string(hex), 16, 32)
		if len(hex) != n || err != nil {
			return s.errorf(at, "invalid escape \\%c: want %d hex digits", c, n)
		}
		if !utf8.ValidRune(rune(v)) {
			return s.errorf(at, "escape \\%c%s is not a valid Unicode scalar value", c, hex)
		}
		b.WriteRune(rune(v))
		s.pos += 1 + n
		return nil
	case multi && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
		return s.skipLineEndingBackslash(at)
	}
	if r, _ := utf8.DecodeRune(s.data[s.pos:]); r != ' ' && unicode.IsPrint(r) {
		return s.errorf(at, "invalid escape sequence \\%c", r)
	}
	return s.errorf(at, "invalid escape: backslash before %s", s.describe())
}

// skipLineEndingBackslash handles a backslash that ends a line in a multi-line basic string:
// it and all whitespace and newlines after it are dropped. Whitespace after the backslash
// must run to the end of the line.
func (s *tomlScanner) skipLineEndingBackslash(at int) error {
	s.skipSpace()
	ok, err := s.skipNewline()
	if err != nil {
		return err
	}
	if !ok {
		return s.errorf(at, "invalid escape: a backslash followed by whitespace must end the line")
	}
	for {
		s.skipSpace()
		if ok, err := s.skipNewline(); err != nil || !ok {
			return err
		}
	}
}

// parseScalar parses a bare value token: a boolean, an integer, a float, or a date, time or
// date-time (RFC 3339 as TOML 1.0 allows it, the date and time also separated by one space).
func (s *tomlScanner) parseScalar() (any, error) {
	start := s.pos
	for tomlIsTokenByte(s.peek()) {
		s.pos++
	}
	tok := string(s.data[start:s.pos])
	switch {
	case tok == "":
		return nil, s.errorf(start, "expected a value, found %s", s.describe())
	case tok == "true" || tok == "false":
		return tok == "true", nil
	case tomlLooksLikeDate(tok):
		if len(tok) == 10 && s.peek() == ' ' && s.pos+3 < len(s.data) && s.data[s.pos+3] == ':' {
			s.pos++ // "1979-05-27 07:32:00": the time is part of the value
			for tomlIsTokenByte(s.peek()) {
				s.pos++
			}
			tok = string(s.data[start:s.pos])
		}
		if msg := tomlCheckDatetime(tok); msg != "" {
			return nil, s.errorf(start, "%s", msg)
		}
		return tomlDatetime(tok), nil
	}
	v, msg := tomlParseNumber(tok)
	if msg == "" {
		return v, nil
	}
	if c := tok[0]; c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		return nil, s.errorf(start, "invalid value %s (strings must be quoted)", tok)
	}
	return nil, s.errorf(start, "%s", msg)
}

// tomlLooksLikeDate reports whether tok starts like a date (1979-05-27) or a time (07:32:00).
func tomlLooksLikeDate(tok string) bool {
	digits := func(s string) bool { return strings.Trim(s, "0123456789") == "" }
	return len(tok) >= 5 && digits(tok[:4]) && tok[4] == '-' ||
		len(tok) >= 3 && digits(tok[:2]) && tok[2] == ':'
}

// tomlCheckDatetime validates a local date (1979-05-27), local time (07:32:00.5), local
// date-time or offset date-time (…T07:32:00Z, …07:32:00-07:00), returning an error message.
func tomlCheckDatetime(tok string) string {
	invalid := fmt.Sprintf("invalid date or time %s", tok)
	num := func(s string) (int, bool) {
		if s == "" || strings.Trim(s, "0123456789") != "" {
			return 0, false
		}
		n, err := strconv.Atoi(s)
		return n, err == nil
	}
	checkTime := func(t string) bool {
		if len(t) < 8 || t[2] != ':' || t[5] != ':' {
			return false
		}
		h, ok1 := num(t[0:2])
		m, ok2 := num(t[3:5])
		sec, ok3 := num(t[6:8])
		if frac := t[8:]; frac != "" && (frac[0] != '.' || !tomlValidDigits(frac[1:], 10) || strings.Contains(frac, "_")) {
			return false
		}
		// No leap second and no year 0: Python's tomllib (datetime) refuses both, and a file
		// both readers take must mean the same to both.
		return ok1 && ok2 && ok3 && h <= 23 && m <= 59 && sec <= 59
	}
	if tok[2] == ':' {
		if !checkTime(tok) {
			return invalid
		}
		return ""
	}
	if len(tok) < 10 || tok[7] != '-' {
		return invalid
	}
	y, ok1 := num(tok[0:4])
	mo, ok2 := num(tok[5:7])
	d, ok3 := num(tok[8:10])
	if !ok1 || !ok2 || !ok3 || y < 1 || mo < 1 || mo > 12 || d < 1 || d > time.Date(y, time.Month(mo)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return invalid
	}
	if len(tok) == 10 {
		return ""
	}
	if sep := tok[10]; sep != 'T' && sep != 't' && sep != ' ' {
		return invalid
	}
	rest := tok[11:]
	if i := strings.IndexAny(rest, "Zz+-"); i >= 0 {
		off := rest[i:]
		rest = rest[:i]
		if off != "Z" && off != "z" {
			if len(off) != 6 || off[3] != ':' {
				return invalid
			}
			oh, okh := num(off[1:3])
			om, okm := num(off[4:6])
			if !okh || !okm || oh > 23 || om > 59 {
				return invalid
			}
		}
	}
	if !checkTime(rest) {
		return invalid
	}
	return ""
}

// tomlParseNumber parses an integer (decimal, 0x, 0o, 0b) or a float, returning an int64 or a
// float64, or else an error message.
func tomlParseNumber(tok string) (any, string) {
	invalid := fmt.Sprintf("invalid number %s", tok)
	if len(tok) > 2 && tok[0] == '0' {
		base := map[byte]int{'x': 16, 'o': 8, 'b': 2}[tok[1]]
		if base != 0 {
			if !tomlValidDigits(tok[2:], base) {
				return nil, invalid
			}
			n, err := strconv.ParseInt(strings.ReplaceAll(tok[2:], "_", ""), base, 64)
			if err != nil {
				return nil, fmt.Sprintf("integer %s does not fit in 64 bits", tok)
			}
			return n, ""
		}
	}
	body := strings.TrimLeft(tok, "+-")
	if len(tok)-len(body) > 1 {
		return nil, invalid
	}
	switch body {
	case "inf":
		if tok[0] == '-' {
			return math.Inf(-1), ""
		}
		return math.Inf(1), ""
	case "nan":
		return math.NaN(), ""
	}
	mantissa, exponent, hasExp := strings.Cut(strings.ToLower(body), "e")
	whole, fraction, hasFrac := strings.Cut(mantissa, ".")
	if !tomlValidDigits(whole, 10) || hasFrac && !tomlValidDigits(fraction, 10) ||
		hasExp && !tomlValidDigits(strings.TrimLeft(exponent, "+-"), 10) ||
		hasExp && len(exponent)-len(strings.TrimLeft(exponent, "+-")) > 1 {
		return nil, invalid
	}
	if len(whole) > 1 && whole[0] == '0' {
		return nil, fmt.Sprintf("leading zeros are not allowed in %s", tok)
	}
	clean := strings.ReplaceAll(tok, "_", "")
	if !hasFrac && !hasExp {
		n, err := strconv.ParseInt(clean, 10, 64)
		if err != nil {
			return nil, fmt.Sprintf("integer %s does not fit in 64 bits", tok)
		}
		return n, ""
	}
	f, err := strconv.ParseFloat(clean, 64)
	if err != nil {
		return nil, fmt.Sprintf("float %s is out of range", tok)
	}
	return f, ""
}

// tomlValidDigits reports whether s is digits of base, with single '_' only between digits.
func tomlValidDigits(s string, base int) bool {
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' || strings.Contains(s, "__") {
		return false
	}
	for _, c := range s {
		if c != '_' && !strings.ContainsRune(tomlDigitsOf[base], c) {
			return false
		}
	}
	return true
}

// tomlDigitsOf lists the digits allowed in each base TOML integers use.
var tomlDigitsOf = map[int]string{2: "01", 8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}

// tomlIsBareKeyByte reports whether c may appear in a bare key: A-Z a-z 0-9 _ -.
func tomlIsBareKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// tomlIsTokenByte reports whether c may appear in a bare value token: the characters of
// booleans, numbers, inf and nan, plus ':' so dates and times are read whole and rejected.
func tomlIsTokenByte(c byte) bool {
	return tomlIsBareKeyByte(c) || c == '+' || c == '.' || c == ':'
}

// tomlIsControl reports whether r is a control character TOML forbids unescaped (tab is fine).
func tomlIsControl(r rune) bool {
	return r < 0x20 && r != '\t' || r == 0x7f
}

// tomlJoinKey appends one key part to a canonical dotted key: bare if it can be, else quoted.
func tomlJoinKey(prefix, part string) string {
	if !tomlIsBareKey(part) {
		part = tomlQuote(part)
	}
	if prefix == "" {
		return part
	}
	return prefix + "." + part
}

func tomlIsBareKey(s string) bool {
	for i := 0; i < len(s); i++ {
		if !tomlIsBareKeyByte(s[i]) {
			return false
		}
	}
	return s != ""
}

// tomlQuote writes s as a TOML basic string.
func tomlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case tomlIsControl(r) || r == '\t':
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// tomlShownKey is a canonical key as error messages show it: without the private prefix of
// an inline table inside an array (see parseInlineTableValue).
func tomlShownKey(name string) string {
	if strings.HasPrefix(name, " [") {
		if _, rest, ok := strings.Cut(name, "]."); ok {
			return rest
		}
	}
	return name
}

// tomlSplitKey splits a canonical dotted key (tomlEntry.Key) back into its unquoted parts.
func tomlSplitKey(key string) []string {
	s := &tomlScanner{data: []byte(key), lineStarts: []int{0}}
	parts, err := s.parseKey()
	if err != nil || s.pos != len(s.data) {
		return []string{key} // not canonical: cannot happen for an entry's key
	}
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = p.name
	}
	return out
}
