// dotenv.go owns reading the project's .env file the way Python FluxLit reads it
// (pydantic-settings over python-dotenv 1.x): KEY=VALUE lines, an optional "export", quoted
// values (single: literal; double: backslash escapes; both may span lines), "#" comments, and
// ${VAR} / ${VAR:-default} expansion. Only FLUXLIT_* names matter to fluxlit; the file's
// values are never exported to the children (a FluxLit app there reads .env itself).

package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// dotenvBinding is one KEY=VALUE of the file, after expansion.
type dotenvBinding struct {
	Key, Value string
	Line       int // where the key is
}

// dotenvFile is a parsed .env: its bindings in order, and one warning per line python-dotenv
// would have skipped ("could not parse statement").
type dotenvFile struct {
	bindings []dotenvBinding
	skipped  []string
}

// readDotEnvFile reads path if it exists. env is the process environment, which ${VAR}
// expansion sees, with the file's earlier values winning (python-dotenv's override=True).
func readDotEnvFile(path string, env map[string]string) (dotenvFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return dotenvFile{}, nil
	}
	if err != nil {
		return dotenvFile{}, &configError{Where: path, Msg: "cannot read: " + errText(err)}
	}
	if !utf8.Valid(data) {
		return dotenvFile{}, &configError{Where: ".env", Msg: "not UTF-8 (Python FluxLit cannot read it either)"}
	}
	return parseDotEnv(string(data), env), nil
}

// dotenvReader walks the text; line counts the newlines before pos.
type dotenvReader struct {
	s    string
	pos  int
	line int
}

func (r *dotenvReader) peek() byte {
	if r.pos < len(r.s) {
		return r.s[r.pos]
	}
	return 0
}

func (r *dotenvReader) advance(n int) {
	r.line += strings.Count(r.s[r.pos:r.pos+n], "\n") + strings.Count(strings.ReplaceAll(r.s[r.pos:r.pos+n], "\r\n", ""), "\r")
	r.pos += n
}

// skipHorizontal skips spaces and tabs (python-dotenv's [^\S\r\n]*, ASCII part).
func (r *dotenvReader) skipHorizontal() int {
	start := r.pos
	for r.pos < len(r.s) && (r.s[r.pos] == ' ' || r.s[r.pos] == '\t' || r.s[r.pos] == '\f' || r.s[r.pos] == '\v') {
		r.pos++
	}
	return r.pos - start
}

var errDotenvSyntax = errors.New("could not parse statement")

func parseDotEnv(text string, env map[string]string) dotenvFile {
	text = strings.TrimPrefix(text, "\uFEFF")
	r := &dotenvReader{s: text, line: 1}
	var out dotenvFile
	values := map[string]*string{} // the file's values so far, for expansion; nil: "KEY" alone
	for {
		// Blank space, newlines included, between statements.
		for r.pos < len(r.s) && strings.IndexByte(" \t\r\n\f\v", r.s[r.pos]) >= 0 {
			r.advance(1)
		}
		if r.pos >= len(r.s) {
			return out
		}
		line := r.line
		key, value, hasValue, err := r.statement()
		if err != nil {
			for r.pos < len(r.s) && r.s[r.pos] != '\n' && r.s[r.pos] != '\r' {
				r.pos++
			}
			out.skipped = append(out.skipped, fmt.Sprintf(".env:%d: python-dotenv could not parse this line; it is ignored", line))
			continue
		}
		if key == "" {
			continue // a comment
		}
		if !hasValue {
			// "KEY" alone: python-dotenv gives it no value, which also takes back an
			// earlier KEY=... of the file, and ${KEY} expands to "" from here on.
			values[key] = nil
			out.bindings = slices.DeleteFunc(out.bindings, func(b dotenvBinding) bool { return b.Key == key })
			continue
		}
		value = dotenvExpand(value, env, values)
		values[key] = &value
		out.bindings = append(out.bindings, dotenvBinding{Key: key, Value: value, Line: line})
	}
}

// statement reads one binding and the end of its line.
func (r *dotenvReader) statement() (key, value string, hasValue bool, err error) {
	if strings.HasPrefix(r.s[r.pos:], "export") {
		save := r.pos
		r.pos += len("export")
		if r.skipHorizontal() == 0 {
			r.pos = save // "exportX=1" is the key exportX
		}
	}
	switch c := r.peek(); {
	case c == '#':
		// a comment line: no key
	case c == '\'':
		end := strings.IndexByte(r.s[r.pos+1:], '\'')
		if end <= 0 {
			return "", "", false, errDotenvSyntax
		}
		key = r.s[r.pos+1 : r.pos+1+end]
		r.advance(end + 2)
	default:
		start := r.pos
		for r.pos < len(r.s) && strings.IndexByte("=# \t\r\n\f\v", r.s[r.pos]) < 0 {
			r.pos++
		}
		if r.pos == start {
			return "", "", false, errDotenvSyntax
		}
		key = r.s[start:r.pos]
	}
	r.skipHorizontal()
	if key != "" && r.peek() == '=' {
		r.pos++
		hasValue = true
		spaced := r.skipHorizontal() > 0
		if spaced && r.peek() == '#' {
			value = "" // "KEY= # comment"
		} else if value, err = r.value(); err != nil {
			return "", "", false, err
		}
	}
	// Optional comment, then the end of the line.
	r.skipHorizontal()
	if r.peek() == '#' {
		for r.pos < len(r.s) && r.s[r.pos] != '\n' && r.s[r.pos] != '\r' {
			r.pos++
		}
	}
	r.skipHorizontal()
	switch {
	case r.pos >= len(r.s):
	case strings.HasPrefix(r.s[r.pos:], "\r\n"):
		r.advance(2)
	case r.s[r.pos] == '\n' || r.s[r.pos] == '\r':
		r.advance(1)
	default:
		return "", "", false, errDotenvSyntax
	}
	return key, value, hasValue, nil
}

// value reads a quoted or unquoted value.
func (r *dotenvReader) value() (string, error) {
	switch q := r.peek(); q {
	case '\'', '"':
		var b strings.Builder
		i := r.pos + 1
		for ; i < len(r.s) && r.s[i] != q; i++ {
			c := r.s[i]
			if c != '\\' || i+1 >= len(r.s) {
				b.WriteByte(c)
				continue
			}
			i++
			if d, ok := dotenvEscape(q, r.s[i]); ok {
				b.WriteByte(d)
			} else {
				b.WriteByte('\\') // an unknown escape stays as written
				b.WriteByte(r.s[i])
			}
		}
		if i >= len(r.s) {
			return "", errDotenvSyntax // unterminated quote
		}
		r.advance(i + 1 - r.pos)
		return b.String(), nil
	case 0, '\n', '\r':
		return "", nil
	}
	start := r.pos
	for r.pos < len(r.s) && r.s[r.pos] != '\n' && r.s[r.pos] != '\r' {
		r.pos++
	}
	v := r.s[start:r.pos]
	// A "#" after whitespace starts a comment; a "#" inside a word is content (a#b).
	for i := 1; i < len(v); i++ {
		if v[i] == '#' && strings.IndexByte(" \t\f\v", v[i-1]) >= 0 {
			v = v[:i]
			break
		}
	}
	return strings.TrimRight(v, " \t\f\v"), nil
}

// dotenvEscape decodes python-dotenv's escapes: in single quotes only \\ and \', in double
// quotes also \" and the C escapes \a \b \f \n \r \t \v.
func dotenvEscape(quote, c byte) (byte, bool) {
	switch c {
	case '\\', '\'':
		return c, true
	}
	if quote == '\'' {
		return 0, false
	}
	i := strings.IndexByte("\"abfnrtv", c)
	if i < 0 {
		return 0, false
	}
	return "\"\a\b\f\n\r\t\v"[i], true
}

// dotenvExpand replaces ${NAME} and ${NAME:-default} as python-dotenv does: the file's own
// earlier values first, then the environment, else the default (used only when NAME is not
// set at all), else "". "$NAME" without braces is left alone.
func dotenvExpand(v string, env map[string]string, file map[string]*string) string {
	var b strings.Builder
	for {
		i := strings.Index(v, "${")
		if i < 0 {
			b.WriteString(v)
			return b.String()
		}
		end := strings.IndexByte(v[i:], '}')
		if end < 0 {
			b.WriteString(v)
			return b.String()
		}
		inner := v[i+2 : i+end]
		name, def, hasDef := strings.Cut(inner, ":-")
		if strings.Contains(name, ":") || !hasDef && strings.Contains(inner, ":") {
			b.WriteString(v[:i+1]) // not the ${NAME[:-default]} form here: look further on
			v = v[i+1:]
			continue
		}
		b.WriteString(v[:i])
		if val, ok := file[name]; ok {
			if val != nil {
				b.WriteString(*val)
			}
		} else if val, ok := env[name]; ok {
			b.WriteString(val)
		} else {
			b.WriteString(def)
		}
		v = v[i+end+1:]
	}
}
