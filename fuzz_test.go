package main

import (
	"regexp"
	"strings"
	"testing"
)

// FuzzSplitPath checks the README's routing rules for any path, root_path and
// api_mount_path (each made of path segments drawn from the fuzzer's strings), with metrics
// served on the public port or not. With full the path under root_path (as sent, or with
// root_path put in front when an edge proxy stripped it) and rel the part after root_path:
// rel under the mount goes to the API, which sees rel without the mount and nothing else
// changed; fluxlit answers only its own paths; everything else goes to Streamlit, which sees
// full unchanged; and both proxy shapes of one path are routed alike.
func FuzzSplitPath(f *testing.F) {
	for _, s := range []string{"/", "/api", "/api/", "/api/users", "/apix", "/ui/api/x", "/ui", "/ui/", "/__fluxlit/debug",
		"/__fluxlit/metrics", "//api", "/docs", "/redoc/", "/openapi.json", "/%2e%2e/api", "/api/../x", "users"} {
		f.Add(s, "", "api", false)
		f.Add(s, "ui", "api", true)
		f.Add(s, "apps/demo", "backend/v1", false)
	}
	f.Fuzz(func(t *testing.T, p, rootSegs, mountSegs string, metrics bool) {
		if !strings.HasPrefix(p, "/") {
			p = "/" + p // net/http hands the handler an origin-form path
		}
		root, mount := fuzzPathOf(rootSegs), fuzzPathOf(mountSegs)
		if mount == "" {
			mount = "/api"
		}
		cfg := &Config{Metrics: metrics, MetricsPath: "/__fluxlit/metrics"}
		g := &gateway{cfg: cfg, rootPath: root, mount: mount, apiPrefix: root + mount}
		full, rel := root+p, p
		if root != "" && pathUnder(p, root) {
			full, rel = p, strings.TrimPrefix(p, root)
		}
		if rel == "" {
			rel = "/"
		}
		local := map[string]bool{"/__fluxlit/debug": true, "/docs": true, "/docs/": true, "/redoc": true, "/redoc/": true,
			"/openapi.json": true, "/__fluxlit/metrics": metrics}
		rt := g.splitPath(p)
		switch {
		case pathUnder(rel, mount):
			if rt.dispatch != dispatchAPI || mount+rt.apiPath != rel && !(rt.apiPath == "/" && rel == mount) {
				t.Fatalf("root %q mount %q: %q -> %+v; want the API with %q less the mount", root, mount, p, rt, rel)
			}
		case local[rel]:
			if rt.dispatch != dispatchFluxlit || rt.local != rel {
				t.Fatalf("root %q mount %q: %q -> %+v; want fluxlit's own %q", root, mount, p, rt, rel)
			}
		default:
			if rt.dispatch != dispatchStreamlit || rt.uiPath != full {
				t.Fatalf("root %q mount %q: %q -> %+v; want Streamlit with %q", root, mount, p, rt, full)
			}
		}
		if root != "" && !pathUnder(p, root) {
			if kept := g.splitPath(root + p); kept != rt {
				t.Fatalf("root %q mount %q: the shapes disagree: %q -> %+v, %q -> %+v", root, mount, p, rt, root+p, kept)
			}
		}
	})
}

// fuzzPathOf makes a root_path or api_mount_path out of any string: its runs of [a-z0-9_-]
// as segments, "" when there are none.
func fuzzPathOf(s string) string {
	var b strings.Builder
	for _, seg := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '_' || r == '-')
	}) {
		b.WriteString("/" + seg)
	}
	return b.String()
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
