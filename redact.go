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
