package main

import (
	"regexp"
	"strings"
	"testing"
)

// FuzzSplitPath checks the routing invariants for any path and root_path: the API path is
// never empty and always starts with "/", Streamlit always sees root_path in front, and the
// decision is the same for the two proxy shapes (prefix kept or stripped by an edge proxy).
func FuzzSplitPath(f *testing.F) {
	for _, s := range []string{"/", "/api", "/api/", "/api/users", "/apix", "/ui/api/x", "/ui", "/__fluxlit/debug", "//api", "/docs", "/%2e%2e/api"} {
		f.Add(s, "")
		f.Add(s, "/ui")
	}
	cfgs := map[string]*Config{"": testConfig(f, nil), "/ui": testConfig(f, map[string]string{"root_path": "/ui"})}
	f.Fuzz(func(t *testing.T, p, root string) {
		if root != "" && root != "/ui" {
			return
		}
		if !strings.HasPrefix(p, "/") {
			return
		}
		g := &gateway{cfg: cfgs[root], rootPath: root, mount: "/api", apiPrefix: root + "/api"}
		rt := g.splitPath(p)
		switch rt.dispatch {
		case dispatchAPI:
			if !strings.HasPrefix(rt.apiPath, "/") {
				t.Fatalf("splitPath(%q).apiPath = %q; want a leading /", p, rt.apiPath)
			}
		case dispatchStreamlit:
			if !strings.HasPrefix(rt.uiPath, root) {
				t.Fatalf("splitPath(%q).uiPath = %q; want root %q in front", p, rt.uiPath, root)
			}
		case dispatchFluxlit:
		default:
			t.Fatalf("unknown dispatch %q", rt.dispatch)
		}
		if root != "" && !pathUnder(p, root) {
			full := g.splitPath(root + p)
			if full.dispatch != rt.dispatch || full.apiPath != rt.apiPath || full.uiPath != rt.uiPath {
				t.Fatalf("shapes disagree: %q -> %+v, %q -> %+v", p, rt, root+p, full)
			}
		}
	})
}

// requestIDRule is the README's rule for a client's X-Request-ID, written independently of
// validRequestID: 1-128 characters of [A-Za-z0-9._:-].
var requestIDRule = regexp.MustCompile(`\A[A-Za-z0-9._:-]{1,128}\z`)

// FuzzRequestID checks fromRequest against the README's rule: a client's id is kept exactly
// when the rule holds, and anything returned (kept or generated) is itself well-formed, so
// safe for a header and a log line.
func FuzzRequestID(f *testing.F) {
	for _, s := range []string{"", "abc", "a\r\nb", strings.Repeat("x", 128), strings.Repeat("x", 129), "trace:1.2_3-4", "ü", "a b", "a/b", "id\x00", "-", "a\n"} {
		f.Add(s)
	}
	src := newRequestIDSource()
	f.Fuzz(func(t *testing.T, in string) {
		got := src.fromRequest(in)
		if !requestIDRule.MatchString(got) {
			t.Fatalf("fromRequest(%q) = %q, which breaks the rule", in, got)
		}
		if kept, valid := got == in, requestIDRule.MatchString(in); kept != valid {
			t.Fatalf("fromRequest(%q) = %q: kept %v; the rule says %v", in, got, kept, valid)
		}
	})
}
