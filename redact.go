// redact.go owns what may be printed: sensitive query values are replaced before a query
// reaches a log line or the debug page, and control characters from clients are escaped so
// that no raw client byte can forge a log line or drive a terminal.

package main

import (
	"net/url"
	"strconv"
	"strings"
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
// case-insensitively after unescaping, so "%74oken=" is caught too.
func (q *queryRedactor) redact(rawQuery string) string {
	if rawQuery == "" {
		return ""
	}
	parts := strings.Split(rawQuery, "&")
	for i, p := range parts {
		k, _, hasValue := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if hasValue && q.keys[strings.ToLower(name)] {
			parts[i] = k + "=" + redactedValue
		}
	}
	return strings.Join(parts, "&")
}

// escapeControl quotes control characters (and invalid UTF-8) so that a client-chosen path
// or header cannot inject a newline or an ANSI escape into a log line.
func escapeControl(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	q := strconv.QuoteToASCII(s)
	return q[1 : len(q)-1]
}
