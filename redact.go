// redact.go owns what may be printed: sensitive query values are replaced before a query
// reaches a log line or the debug page, and control characters from clients are escaped so
// that no raw client byte can forge a log line or drive a terminal.

package main

import (
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// defaultRedactedQueryKeys are the Python package's, plus OAuth's own names.
var defaultRedactedQueryKeys = []string{"auth_code", "fluxlit_sid", "token", "access_token", "id_token",
	"code", "state", "refresh_token", "client_secret", "password", "api_key", "apikey", "key", "secret"}

const redactedValue = "[REDACTED]"

type queryRedactor struct {
	keys map[string]bool
}

func newQueryRedactor(extra []string, sessionParam string) *queryRedactor {
	q := &queryRedactor{keys: map[string]bool{}}
	for _, k := range append(append(defaultRedactedQueryKeys, extra...), sessionParam) {
		if k != "" {
			q.keys[strings.ToLower(k)] = true
		}
	}
	return q
}

// redact returns rawQuery with the values of sensitive keys replaced. Keys are compared
// case-insensitively after unescaping, so "%74oken=" is caught too. A query with nothing to
// redact is returned as is, without allocating: this runs for every logged request.
func (q *queryRedactor) redact(rawQuery string) string {
	if rawQuery == "" || !q.anySensitive(rawQuery) {
		return rawQuery
	}
	parts := strings.Split(rawQuery, "&")
	for i, p := range parts {
		if k, ok := q.sensitiveKey(p); ok {
			parts[i] = k + "=" + redactedValue
		}
	}
	return strings.Join(parts, "&")
}

func (q *queryRedactor) anySensitive(rawQuery string) bool {
	for rest := rawQuery; rest != ""; {
		var p string
		p, rest, _ = strings.Cut(rest, "&")
		if _, ok := q.sensitiveKey(p); ok {
			return true
		}
	}
	return false
}

// sensitiveKey reports whether the parameter "k=v" has a sensitive key, and returns k.
func (q *queryRedactor) sensitiveKey(param string) (string, bool) {
	k, _, hasValue := strings.Cut(param, "=")
	if !hasValue {
		return k, false
	}
	name := k
	if strings.ContainsAny(k, "%+") {
		if u, err := url.QueryUnescape(k); err == nil {
			name = u
		}
	}
	return k, q.keys[strings.ToLower(name)]
}

// escapeControl quotes control characters, invalid UTF-8 and non-printing runes (bidi
// overrides, zero-width characters) so that a client-chosen path or header cannot inject a
// newline or an ANSI escape into a log line or a terminal. Printable Unicode stays readable.
// A backslash is doubled whenever anything is escaped, so "\n" in the output always means
// an escaped newline and never a client's literal backslash followed by n.
func escapeControl(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '\\' || c >= 0x80 {
			return escapeControlSlow(s)
		}
	}
	return s
}

func escapeControlSlow(s string) string {
	plain := true
	for _, r := range s {
		if r == utf8.RuneError || r == '\\' || !unicode.IsPrint(r) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	q := strconv.Quote(s)
	return strings.ReplaceAll(q[1:len(q)-1], `\"`, `"`)
}

// lineRedactor hides what must never be printed in a line fluxlit relays but did not write, a
// child's output (uvicorn's and Streamlit's logs, an app's prints, a traceback): the values of
// sensitive query keys wherever "key=value" stands in it (a URL, a form, an assignment), the
// token after "Bearer", and the values of secret settings. fluxlit's own lines never hold
// these: a query goes through queryRedactor, and credentials are never logged.
type lineRedactor struct {
	query   *queryRedactor
	secrets []string
}

// lineRedactMinSecret: a secret setting shorter than this is not searched for in lines (it
// would blank common words); the JWT secret is 32 bytes at least (authHSMinBytes).
const lineRedactMinSecret = 4

func newLineRedactor(query *queryRedactor, secrets []string) *lineRedactor {
	r := &lineRedactor{query: query}
	for _, s := range secrets {
		if len(s) >= lineRedactMinSecret {
			r.secrets = append(r.secrets, s)
		}
	}
	return r
}

// redact returns line with every secret replaced by [REDACTED]. A line with nothing to hide is
// returned as is, which is almost every line.
func (r *lineRedactor) redact(line string) string {
	for _, s := range r.secrets {
		line = strings.ReplaceAll(line, s, redactedValue)
	}
	if i := indexFold(line, "bearer"); i >= 0 {
		line = redactBearer(line, i)
	}
	if strings.IndexByte(line, '=') >= 0 {
		line = r.redactPairs(line)
	}
	return line
}

// redactPairs replaces the value of every "key=value" whose key is sensitive, as in a query:
// the key stands at the start of the line or after one of ?&; ( [ { , | quotes or blanks, and
// the value runs to the next such separator.
func (r *lineRedactor) redactPairs(line string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(line); i++ {
		if line[i] != '=' {
			continue
		}
		j := i
		for j > 0 && lineKeyByte(line[j-1]) {
			j--
		}
		if j == i || j > 0 && !strings.ContainsRune("?&;([{,| \t\"'", rune(line[j-1])) {
			continue
		}
		if _, ok := r.query.sensitiveKey(line[j : i+1]); !ok {
			continue
		}
		k := i + 1
		for k < len(line) && !strings.ContainsRune("&;)]},| \t\"'<>#", rune(line[k])) {
			k++
		}
		if k == i+1 {
			continue
		}
		b.WriteString(line[last : i+1])
		b.WriteString(redactedValue)
		last, i = k, k-1
	}
	if last == 0 {
		return line
	}
	b.WriteString(line[last:])
	return b.String()
}

func lineKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_-.%+", c) >= 0
}

// redactBearer replaces each token that follows "Bearer" and blanks (RFC 6750's b64token, 8
// characters or more, so that prose like "the bearer of" stays), from the first at i on.
func redactBearer(line string, i int) string {
	var b strings.Builder
	last := 0
	for i >= 0 {
		k := i + len("bearer")
		for k < len(line) && (line[k] == ' ' || line[k] == '\t') {
			k++
		}
		end := k
		for end < len(line) && (line[end] >= 'a' && line[end] <= 'z' || line[end] >= 'A' && line[end] <= 'Z' ||
			line[end] >= '0' && line[end] <= '9' || strings.IndexByte("-._~+/=", line[end]) >= 0) {
			end++
		}
		if k > i+len("bearer") && end-k >= 8 {
			b.WriteString(line[last:k])
			b.WriteString(redactedValue)
			last = end
		}
		next := indexFold(line[end:], "bearer")
		if next < 0 {
			break
		}
		i = end + next
	}
	if last == 0 {
		return line
	}
	b.WriteString(line[last:])
	return b.String()
}

// indexFold is strings.Index ignoring ASCII case, for a lower-case needle.
func indexFold(s, lower string) int {
	for i := 0; i+len(lower) <= len(s); i++ {
		if s[i]|0x20 == lower[0] && asciiEqualFold(s[i:i+len(lower)], lower) {
			return i
		}
	}
	return -1
}
