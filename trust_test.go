package main

import (
	"crypto/tls"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestParseAllowIPs(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    string // String() of the list
		wantErr string
	}{
		{"ipv4 address", []string{"10.0.0.1"}, "10.0.0.1/32", ""},
		{"ipv4 cidr masked", []string{"10.1.2.3/8"}, "10.0.0.0/8", ""},
		{"ipv6 address", []string{"::1"}, "::1/128", ""},
		{"ipv6 cidr", []string{"2001:db8::/32"}, "2001:db8::/32", ""},
		{"mapped address becomes ipv4", []string{"::ffff:10.0.0.1"}, "10.0.0.1/32", ""},
		{"mapped cidr becomes ipv4", []string{"::ffff:10.0.0.0/104"}, "10.0.0.0/8", ""},
		{"zone dropped", []string{"fe80::1%eth0"}, "fe80::1/128", ""},
		{"comma list in one item", []string{"10.0.0.1, 192.168.0.0/16"}, "10.0.0.1/32,192.168.0.0/16", ""},
		{"star", []string{"*"}, "*", ""},
		{"empty list", nil, "", ""},
		{"bad octet", []string{"10.0.0.300"}, "", `forwarded_allow_ips: "10.0.0.300" is not an IP address or CIDR`},
		{"bad cidr bits", []string{"10.0.0.0/33"}, "", `forwarded_allow_ips: "10.0.0.0/33" is not an IP address or CIDR`},
		{"hostname", []string{"proxy.local"}, "", `forwarded_allow_ips: "proxy.local" is not an IP address or CIDR`},
		{"empty item", []string{"10.0.0.1,"}, "", `forwarded_allow_ips: "" is not an IP address or CIDR`},
		{"second item named", []string{"10.0.0.1", "nope"}, "", `forwarded_allow_ips: "nope" is not an IP address or CIDR`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := parseAllowIPs(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v; want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v; want nil", err)
			}
			if got := l.String(); got != tt.want {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}

func TestIPAllowListContains(t *testing.T) {
	l, err := parseAllowIPs([]string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"ipv4 in cidr", "10.200.0.1", true},
		{"ipv4 exact", "192.0.2.7", true},
		{"ipv4 outside", "192.0.2.8", false},
		{"ipv4-mapped peer matches ipv4 entry", "::ffff:10.1.1.1", true},
		{"ipv4-mapped outside", "::ffff:11.1.1.1", false},
		{"ipv6 in cidr", "2001:db8:1::5", true},
		{"ipv6 with zone", "2001:db8::5%eth0", true},
		{"ipv6 outside", "2001:db9::1", false},
		{"loopback not listed", "127.0.0.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := l.contains(netip.MustParseAddr(tt.in)); got != tt.want {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
	if (*ipAllowList)(nil).contains(netip.MustParseAddr("127.0.0.1")) {
		t.Errorf("nil list trusts 127.0.0.1; want nobody")
	}
	if l.contains(netip.Addr{}) {
		t.Errorf("invalid address trusted; want false")
	}
}

func TestLoopbackAllowList(t *testing.T) {
	l := loopbackAllowList()
	tests := []struct {
		in   string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.8.9.10", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true},
		{"10.0.0.1", false},
		{"::2", false},
	}
	for _, tt := range tests {
		if got := l.contains(netip.MustParseAddr(tt.in)); got != tt.want {
			t.Errorf("contains(%s): got %v; want %v", tt.in, got, tt.want)
		}
	}
	if l.trustsEveryone() {
		t.Errorf("loopback list trusts everyone")
	}
	star, _ := parseAllowIPs([]string{"*"})
	if !star.trustsEveryone() || !star.contains(netip.MustParseAddr("203.0.113.9")) {
		t.Errorf(`"*" does not trust everyone`)
	}
}

// fwdReq builds a request as the server would hand it to the gateway.
func fwdReq(remote, host string, tlsOn bool, hdr map[string][]string) *http.Request {
	r := &http.Request{Method: "GET", RemoteAddr: remote, Host: host, Header: http.Header{}}
	for k, v := range hdr {
		r.Header[k] = v
	}
	if tlsOn {
		r.TLS = &tls.ConnectionState{}
	}
	return r
}

func TestResolveForwarded(t *testing.T) {
	allow, err := parseAllowIPs([]string{"10.0.0.0/8", "2001:db8:ffff::/48"})
	if err != nil {
		t.Fatal(err)
	}
	type in struct {
		remote string
		host   string
		tls    bool
		hdr    map[string][]string
	}
	type want struct {
		client  string // "" means invalid
		proto   string
		host    string
		prefix  string
		trusted bool
		xff     string
	}
	tests := []struct {
		name string
		in   in
		want want
	}{
		{"untrusted peer ignores headers",
			in{"203.0.113.5:4000", "app.example", false, map[string][]string{
				"X-Forwarded-For": {"1.2.3.4"}, "X-Forwarded-Proto": {"https"},
				"X-Forwarded-Host": {"evil.example"}, "X-Forwarded-Prefix": {"/x"}}},
			want{"203.0.113.5", "http", "app.example", "", false, "203.0.113.5"}},
		{"untrusted peer over tls",
			in{"203.0.113.5:4000", "app.example", true, nil},
			want{"203.0.113.5", "https", "app.example", "", false, "203.0.113.5"}},
		{"untrusted ipv6 peer",
			in{"[2001:db8::9]:4000", "app.example", false, map[string][]string{"Forwarded": {"for=1.2.3.4"}}},
			want{"2001:db8::9", "http", "app.example", "", false, "2001:db8::9"}},
		{"untrusted ipv4-mapped peer unmapped",
			in{"[::ffff:203.0.113.5]:4000", "h", false, nil},
			want{"203.0.113.5", "http", "h", "", false, "203.0.113.5"}},
		{"remote addr without port",
			in{"203.0.113.5", "h", false, nil},
			want{"203.0.113.5", "http", "h", "", false, "203.0.113.5"}},
		{"unparsable remote addr",
			in{"@", "h", false, map[string][]string{"X-Forwarded-For": {"1.2.3.4"}}},
			want{"", "http", "h", "", false, ""}},
		{"trusted peer without headers",
			in{"10.0.0.2:5000", "h", false, nil},
			want{"10.0.0.2", "http", "h", "", true, "10.0.0.2"}},
		{"trusted single hop",
			in{"10.0.0.2:5000", "internal:8000", false, map[string][]string{
				"X-Forwarded-For": {"198.51.100.7"}, "X-Forwarded-Proto": {"https"},
				"X-Forwarded-Host": {"app.example.com"}, "X-Forwarded-Prefix": {"/apps/my-app/"}}},
			want{"198.51.100.7", "https", "app.example.com", "/apps/my-app", true, "198.51.100.7, 10.0.0.2"}},
		{"spoofed left entries dropped",
			in{"10.0.0.2:5000", "h", false, map[string][]string{
				"X-Forwarded-For": {"6.6.6.6, 10.9.9.9, 198.51.100.7, 10.0.0.3"}}},
			want{"198.51.100.7", "http", "h", "", true, "198.51.100.7, 10.0.0.3, 10.0.0.2"}},
		{"multiple xff lines joined",
			in{"10.0.0.2:5000", "h", false, map[string][]string{
				"X-Forwarded-For": {"6.6.6.6, 198.51.100.7", "10.0.0.4"}}},
			want{"198.51.100.7", "http", "h", "", true, "198.51.100.7, 10.0.0.4, 10.0.0.2"}},
		{"all hops trusted: left-most is client",
			in{"10.0.0.2:5000", "h", false, map[string][]string{"X-Forwarded-For": {"10.0.0.5,10.0.0.4"}}},
			want{"10.0.0.5", "http", "h", "", true, "10.0.0.5, 10.0.0.4, 10.0.0.2"}},
		{"malformed entry stops walk",
			in{"10.0.0.2:5000", "h", false, map[string][]string{"X-Forwarded-For": {"198.51.100.7, garbage, 10.0.0.4"}}},
			want{"10.0.0.4", "http", "h", "", true, "10.0.0.4, 10.0.0.2"}},
		{"malformed right-most: peer is client",
			in{"10.0.0.2:5000", "h", false, map[string][]string{"X-Forwarded-For": {"198.51.100.7, "}}},
			want{"10.0.0.2", "http", "h", "", true, "10.0.0.2"}},
		{"xff entries with ports and brackets",
			in{"10.0.0.2:5000", "h", false, map[string][]string{"X-Forwarded-For": {"[2001:db8::1]:443, 10.0.0.7:9000"}}},
			want{"2001:db8::1", "http", "h", "", true, "2001:db8::1, 10.0.0.7, 10.0.0.2"}},
		{"ipv6 chain with trusted ipv6 hop",
			in{"[2001:db8:ffff::2]:5000", "h", false, map[string][]string{"X-Forwarded-For": {"2001:db8::1, 2001:db8:ffff::3"}}},
			want{"2001:db8::1", "http", "h", "", true, "2001:db8::1, 2001:db8:ffff::3, 2001:db8:ffff::2"}},
		{"ipv4-mapped trusted peer",
			in{"[::ffff:10.0.0.2]:5000", "h", false, map[string][]string{"X-Forwarded-For": {"::ffff:198.51.100.7"}}},
			want{"198.51.100.7", "http", "h", "", true, "198.51.100.7, 10.0.0.2"}},
		{"proto right-most value wins",
			in{"10.0.0.2:5000", "h", false, map[string][]string{"X-Forwarded-Proto": {"https, http"}}},
			want{"10.0.0.2", "http", "h", "", true, "10.0.0.2"}},
		{"proto upper case accepted",
			in{"10.0.0.2:5000", "h", false, map[string][]string{"X-Forwarded-Proto": {"HTTPS"}}},
			want{"10.0.0.2", "https", "h", "", true, "10.0.0.2"}},
		{"proto other than http(s) ignored",
			in{"10.0.0.2:5000", "h", true, map[string][]string{"X-Forwarded-Proto": {"ftp"}}},
			want{"10.0.0.2", "https", "h", "", true, "10.0.0.2"}},
		{"bad forwarded host ignored",
			in{"10.0.0.2:5000", "h", false, map[string][]string{"X-Forwarded-Host": {"evil.com/path"}}},
			want{"10.0.0.2", "http", "h", "", true, "10.0.0.2"}},
		{"forwarded host with port and ipv6 literal",
			in{"10.0.0.2:5000", "h", false, map[string][]string{"X-Forwarded-Host": {"[2001:db8::1]:8443"}}},
			want{"10.0.0.2", "http", "[2001:db8::1]:8443", "", true, "10.0.0.2"}},
		{"scheme-relative prefix rejected",
			in{"10.0.0.2:5000", "h", false, map[string][]string{"X-Forwarded-Prefix": {"//evil.com"}}},
			want{"10.0.0.2", "http", "h", "", true, "10.0.0.2"}},
		{"dot-dot prefix rejected",
			in{"10.0.0.2:5000", "h", false, map[string][]string{"X-Forwarded-Prefix": {"/a/../b"}}},
			want{"10.0.0.2", "http", "h", "", true, "10.0.0.2"}},
		{"rfc 7239 quoted ipv6 with port",
			in{"10.0.0.2:5000", "h", false, map[string][]string{"Forwarded": {`for="[2001:db8::1]:4711";proto=https`}}},
			want{"2001:db8::1", "https", "h", "", true, "2001:db8::1, 10.0.0.2"}},
		{"rfc 7239 chain takes client element's proto and host",
			in{"10.0.0.2:5000", "h", false, map[string][]string{"Forwarded": {
				`for=6.6.6.6;proto=http;host=evil.example, for=198.51.100.7;proto=https;host=app.example.com, for=10.0.0.9;proto=http;host=inner`}}},
			want{"198.51.100.7", "https", "app.example.com", "", true, "198.51.100.7, 10.0.0.9, 10.0.0.2"}},
		{"rfc 7239 unknown stops walk",
			in{"10.0.0.2:5000", "h", false, map[string][]string{"Forwarded": {`for=198.51.100.7, for=unknown;proto=https`}}},
			want{"10.0.0.2", "http", "h", "", true, "10.0.0.2"}},
		{"rfc 7239 case-insensitive names and by",
			in{"10.0.0.2:5000", "h", false, map[string][]string{"Forwarded": {`By=10.0.0.2;For=192.0.2.60;Proto=HTTPS`}}},
			want{"192.0.2.60", "https", "h", "", true, "192.0.2.60, 10.0.0.2"}},
		{"rfc 7239 repeated parameter is malformed",
			in{"10.0.0.2:5000", "h", false, map[string][]string{"Forwarded": {`for=192.0.2.60;for=192.0.2.61`}}},
			want{"10.0.0.2", "http", "h", "", true, "10.0.0.2"}},
		{"xff present: forwarded ignored",
			in{"10.0.0.2:5000", "h", false, map[string][]string{
				"X-Forwarded-For": {"198.51.100.7"}, "Forwarded": {"for=6.6.6.6;proto=https;host=evil.example"}}},
			want{"198.51.100.7", "http", "h", "", true, "198.51.100.7, 10.0.0.2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fwdReq(tt.in.remote, tt.in.host, tt.in.tls, tt.in.hdr)
			got := resolveForwarded(r, allow)
			client := ""
			if got.ClientIP.IsValid() {
				client = got.ClientIP.String()
			}
			gotW := want{client, got.Proto, got.Host, got.Prefix, got.Trusted, got.XFF}
			if gotW != tt.want {
				t.Errorf("got %+v; want %+v", gotW, tt.want)
			}
		})
	}
}

func TestResolveForwardedLongChainBounded(t *testing.T) {
	allow, _ := parseAllowIPs([]string{"10.0.0.0/8"})
	hops := make([]string, 10000)
	for i := range hops {
		hops[i] = "10.1.2.3"
	}
	r := fwdReq("10.0.0.2:1", "h", false, map[string][]string{"X-Forwarded-For": {strings.Join(hops, ",")}})
	got := resolveForwarded(r, allow)
	if got.ClientIP.String() != "10.1.2.3" {
		t.Errorf("got %v; want %v", got.ClientIP, "10.1.2.3")
	}
	if n := strings.Count(got.XFF, ","); n != fwdMaxHops {
		t.Errorf("XFF has %d commas; want %d (walk bounded at fwdMaxHops)", n, fwdMaxHops)
	}
}

func TestFwdCleanPrefix(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"simple", "/apps/my-app", "/apps/my-app"},
		{"trailing slash", "/apps/", "/apps"},
		{"root", "/", ""},
		{"relative", "apps", ""},
		{"scheme relative", "//evil.com/x", ""},
		{"inner empty segment", "/a//b", ""},
		{"dot segment", "/a/./b", ""},
		{"encoded dots", "/a/%2e%2e/b", ""},
		{"backslash", `/\evil.com`, ""},
		{"query", "/a?b", ""},
		{"space", "/a b", ""},
		{"tilde", "/~user", "/~user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fwdCleanPrefix(tt.in); got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

func TestFwdStripInbound(t *testing.T) {
	h := http.Header{
		"Forwarded":         {"for=1.2.3.4"},
		"X-Forwarded-For":   {"1.2.3.4"},
		"X_forwarded_proto": {"https"}, // how Go's server keys X_Forwarded_Proto
		"X-Real-Ip":         {"1.2.3.4"},
		"X-Forwarded-Port":  {"443"},
		"x_forwarded_host":  {"evil"},
		"Cookie":            {"a=b"},
		"X-Request-Id":      {"r1"},
	}
	fwdStripInbound(h)
	want := []string{"Cookie", "X-Request-Id"}
	if len(h) != len(want) {
		t.Fatalf("got %v; want only %v", h, want)
	}
	for _, k := range want {
		if _, ok := h[k]; !ok {
			t.Errorf("got %v; want %s kept", h, k)
		}
	}
}

func TestResolveForwardedUntrustedZeroAlloc(t *testing.T) {
	allow := loopbackAllowList()
	r := fwdReq("203.0.113.5:4000", "app.example", false, map[string][]string{"X-Forwarded-For": {"1.2.3.4"}})
	got := testing.AllocsPerRun(100, func() { _ = resolveForwarded(r, allow) })
	if got != 0 {
		t.Errorf("got %v allocs; want 0", got)
	}
}

func BenchmarkResolveForwarded(b *testing.B) {
	allow, _ := parseAllowIPs([]string{"10.0.0.0/8", "127.0.0.1"})
	cases := []struct {
		name string
		r    *http.Request
	}{
		{"untrusted", fwdReq("203.0.113.5:4000", "app.example", false, map[string][]string{"X-Forwarded-For": {"1.2.3.4"}})},
		{"untrusted_ipv6", fwdReq("[2001:db8::9]:4000", "app.example", false, nil)},
		{"trusted_no_headers", fwdReq("10.0.0.2:5000", "app.example", false, nil)},
		{"trusted_xff_2hops", fwdReq("10.0.0.2:5000", "internal", false, map[string][]string{
			"X-Forwarded-For": {"6.6.6.6, 198.51.100.7, 10.0.0.3"}, "X-Forwarded-Proto": {"https"},
			"X-Forwarded-Host": {"app.example.com"}, "X-Forwarded-Prefix": {"/apps/x"}})},
		{"trusted_forwarded", fwdReq("10.0.0.2:5000", "internal", false, map[string][]string{
			"Forwarded": {`for="[2001:db8::1]:4711";proto=https;host=app.example.com`}})},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = resolveForwarded(c.r, allow)
			}
		})
	}
}

func FuzzParseAllowIPs(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "10.0.0.0/8", "::1", "2001:db8::/32", "*", "::ffff:10.0.0.0/104",
		"fe80::1%eth0", "10.0.0.300", "a,b", "", "1.2.3.4/", "/8", " 10.0.0.1 , ::1 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := parseAllowIPs([]string{s})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "forwarded_allow_ips: ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q is not one forwarded_allow_ips line", err)
			}
			return
		}
		// Every entry must round-trip: the rendered list parses to the same list.
		again, err := parseAllowIPs([]string{l.String()})
		if l.String() != "" && (err != nil || again.String() != l.String()) {
			t.Fatalf("round trip of %q: %v, %v", l.String(), again, err)
		}
		for _, p := range l.prefixes {
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				t.Fatalf("mapped prefix %v kept; want unmapped", p)
			}
			if !l.contains(p.Addr()) {
				t.Fatalf("list %v does not contain its own entry %v", l, p.Addr())
			}
		}
	})
}

func FuzzResolveForwarded(f *testing.F) {
	f.Add("10.0.0.2:5000", "6.6.6.6, 198.51.100.7, 10.0.0.3", "https", "app.example.com", "/apps/x", "")
	f.Add("10.0.0.2:5000", "", "", "", "", `for="[2001:db8::1]:4711";proto=https`)
	f.Add("[::ffff:10.0.0.2]:1", "[2001:db8::1]:443,10.0.0.7:9000", "HTTP", "[::1]:80", "//x", `for=unknown`)
	f.Add("203.0.113.5:4000", "1.2.3.4", "https", "evil", "/p", `for=_hidden;by="x,y"`)
	f.Add("@", "\"", "\\", ":", "/..", `for="\"";proto="a\"b"`)
	allow, _ := parseAllowIPs([]string{"10.0.0.0/8", "2001:db8:ffff::/48", "::1"})
	f.Fuzz(func(t *testing.T, remote, xff, proto, host, prefix, fwd string) {
		hdr := map[string][]string{}
		for k, v := range map[string]string{"X-Forwarded-For": xff, "X-Forwarded-Proto": proto,
			"X-Forwarded-Host": host, "X-Forwarded-Prefix": prefix, "Forwarded": fwd} {
			if v != "" {
				hdr[k] = strings.Split(v, "\n") // newlines stand for separate header lines
			}
		}
		r := fwdReq(remote, "fallback.example", false, hdr)
		got := resolveForwarded(r, allow)
		if got.Proto != "http" && got.Proto != "https" {
			t.Fatalf("Proto = %q", got.Proto)
		}
		if got.Host != "fallback.example" && !fwdValidHost(got.Host) {
			t.Fatalf("Host = %q", got.Host)
		}
		if got.Prefix != "" && fwdCleanPrefix(got.Prefix) != got.Prefix {
			t.Fatalf("Prefix = %q is not clean", got.Prefix)
		}
		peer, _ := fwdPeer(remote)
		if !got.Trusted {
			if got.ClientIP != peer || got.Host != "fallback.example" || got.Prefix != "" || got.Proto != "http" {
				t.Fatalf("untrusted peer %q but got %+v", remote, got)
			}
		}
		if !peer.IsValid() {
			if got.XFF != "" || got.ClientIP.IsValid() {
				t.Fatalf("invalid peer %q but got %+v", remote, got)
			}
			return
		}
		// The chain sent upstream is addresses only, client first, peer last.
		parts := strings.Split(got.XFF, ", ")
		if len(parts) > fwdMaxHops+1 {
			t.Fatalf("XFF has %d entries", len(parts))
		}
		for i, p := range parts {
			a, err := netip.ParseAddr(p)
			if err != nil {
				t.Fatalf("XFF entry %q: %v", p, err)
			}
			if i == 0 && a != got.ClientIP {
				t.Fatalf("XFF %q does not start with client %v", got.XFF, got.ClientIP)
			}
			if i == len(parts)-1 && a != peer {
				t.Fatalf("XFF %q does not end with peer %v", got.XFF, peer)
			}
		}
	})
}
