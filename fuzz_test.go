package main

import (
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

// FuzzRequestID checks that only well-formed ids are kept and that whatever is returned is
// safe to put in a header and a log line.
func FuzzRequestID(f *testing.F) {
	for _, s := range []string{"", "abc", "a\r\nb", strings.Repeat("x", 129), "trace:1.2_3-4", "ü"} {
		f.Add(s)
	}
	src := newRequestIDSource()
	f.Fuzz(func(t *testing.T, in string) {
		got := src.fromRequest(in)
		if !validRequestID(got) {
			t.Fatalf("fromRequest(%q) = %q, not a valid id", in, got)
		}
		if validRequestID(in) != (got == in) {
			t.Fatalf("fromRequest(%q) = %q: kept %v, valid %v", in, got, got == in, validRequestID(in))
		}
	})
}
