package main

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestNewSecurityHeaders(t *testing.T) {
	tests := []struct {
		name string
		in   time.Duration
		want string
	}{
		{"two years", 63072000 * time.Second, "max-age=63072000; includeSubDomains"},
		{"fraction truncated", 90*time.Second + 500*time.Millisecond, "max-age=90; includeSubDomains"},
		{"zero is off", 0, ""},
		{"negative is off", -time.Second, ""},
		{"sub-second is off", 500 * time.Millisecond, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := http.Header{}
			newSecurityHeaders(tt.in).apply(got, true)
			if got := got.Get("Strict-Transport-Security"); got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

func TestSecurityHeadersApply(t *testing.T) {
	const hsts = "max-age=63072000; includeSubDomains"
	base := map[string][]string{
		"X-Content-Type-Options": {"nosniff"},
		"X-Frame-Options":        {"SAMEORIGIN"},
		"Referrer-Policy":        {"strict-origin-when-cross-origin"},
	}
	with := func(extra map[string][]string) http.Header {
		h := http.Header{}
		for k, v := range base {
			h[k] = v
		}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	tests := []struct {
		name  string
		in    http.Header
		https bool
		want  http.Header
	}{
		{"http: no hsts", http.Header{}, false, with(nil)},
		{"https: hsts added", http.Header{}, true, with(map[string][]string{"Strict-Transport-Security": {hsts}})},
		{"upstream values kept",
			http.Header{"X-Frame-Options": {"DENY"}, "Referrer-Policy": {"no-referrer"}, "Strict-Transport-Security": {"max-age=60"}},
			true,
			http.Header{"X-Content-Type-Options": {"nosniff"}, "X-Frame-Options": {"DENY"},
				"Referrer-Policy": {"no-referrer"}, "Strict-Transport-Security": {"max-age=60"}}},
		{"other headers untouched",
			http.Header{"Content-Type": {"application/json"}}, false,
			with(map[string][]string{"Content-Type": {"application/json"}})},
	}
	s := newSecurityHeaders(63072000 * time.Second)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.apply(tt.in, tt.https)
			if !reflect.DeepEqual(tt.in, tt.want) {
				t.Errorf("got %v; want %v", tt.in, tt.want)
			}
		})
	}
}

func TestSecurityHeadersApplyTwiceNoDuplicates(t *testing.T) {
	s := newSecurityHeaders(time.Hour)
	h := http.Header{}
	s.apply(h, true)
	s.apply(h, true)
	for k, v := range h {
		if len(v) != 1 {
			t.Errorf("%s: got %v; want one value", k, v)
		}
	}
}

func TestSecurityHeadersHSTSOff(t *testing.T) {
	h := http.Header{}
	newSecurityHeaders(0).apply(h, true)
	if v, ok := h["Strict-Transport-Security"]; ok {
		t.Errorf("got HSTS %v; want none when off", v)
	}
}

func TestSecurityHeadersSharedSlicesNotMutated(t *testing.T) {
	// A later Add (as ReverseProxy's copyHeader does) must not write into the shared values.
	s := newSecurityHeaders(time.Hour)
	h := http.Header{}
	s.apply(h, true)
	h.Add("X-Frame-Options", "DENY")
	h.Add("Strict-Transport-Security", "max-age=1")
	h2 := http.Header{}
	s.apply(h2, true)
	if got := h2["X-Frame-Options"]; len(got) != 1 || got[0] != "SAMEORIGIN" {
		t.Errorf("got %v; want [SAMEORIGIN]", got)
	}
	if got := h2["Strict-Transport-Security"]; len(got) != 1 || got[0] != "max-age=3600; includeSubDomains" {
		t.Errorf("got %v; want [max-age=3600; includeSubDomains]", got)
	}
}

func TestSecurityHeadersApplyZeroAlloc(t *testing.T) {
	s := newSecurityHeaders(63072000 * time.Second)
	h := http.Header{"Content-Type": {"text/html"}}
	got := testing.AllocsPerRun(100, func() {
		s.apply(h, true)
		secResetHeaders(h)
	})
	if got != 0 {
		t.Errorf("got %v allocs; want 0", got)
	}
}

// secResetHeaders removes what apply adds, keeping the map's capacity.
func secResetHeaders(h http.Header) {
	delete(h, "X-Content-Type-Options")
	delete(h, "X-Frame-Options")
	delete(h, "Referrer-Policy")
	delete(h, "Strict-Transport-Security")
}

func BenchmarkSecurityHeadersApply(b *testing.B) {
	s := newSecurityHeaders(63072000 * time.Second)
	b.Run("fresh", func(b *testing.B) {
		h := http.Header{"Content-Type": {"text/html"}, "Content-Length": {"42"}}
		b.ReportAllocs()
		for b.Loop() {
			s.apply(h, true)
			secResetHeaders(h)
		}
	})
	b.Run("upstream_set_all", func(b *testing.B) {
		h := http.Header{}
		s.apply(h, true)
		b.ReportAllocs()
		for b.Loop() {
			s.apply(h, true)
		}
	})
}
