// trust.go owns proxy trust: which peers may speak for the client (forwarded_allow_ips), and
// what fluxlit believes about the original request (client IP, scheme, host, prefix) given the
// X-Forwarded-* and RFC 7239 Forwarded headers. Nothing here sets headers on the upstream hop
// except fwdStripInbound, which removes every inbound forwarding header before the gateway sets
// its own from a forwardedInfo.

package main

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// fwdMaxHops bounds the right-to-left walk through a forwarding chain. Real deployments have one
// to three proxies (CDN, load balancer, ingress); 32 leaves room for anything sane while keeping
// the walk allocation-free (a fixed array on the stack) and O(1) against a client that sends a
// 10,000-entry X-Forwarded-For. If all 32 right-most hops are trusted the walk stops there and
// the 32nd is taken as the client.
const fwdMaxHops = 32

// fwdMaxPrefixLen bounds X-Forwarded-Prefix. A mount path longer than this is not a mount path.
const fwdMaxPrefixLen = 1024

// fwdMaxHostLen bounds X-Forwarded-Host: a 253-byte DNS name, brackets for an IPv6 literal and a
// ":65535" port fit comfortably.
const fwdMaxHostLen = 300

// ipAllowList is the set of peers trusted to report the client's address, scheme and host
// (forwarded_allow_ips). Entries are addresses or CIDRs, IPv4 or IPv6. IPv4-mapped IPv6 peers
// (::ffff:10.0.0.1, which a dual-stack listener reports) are unmapped before matching, so they
// match IPv4 entries. A nil list trusts nobody.
type ipAllowList struct {
	// everyone is set by the "*" entry. It is DANGEROUS on any port reachable from the internet:
	// every client can then claim any IP address, scheme and host. Uvicorn's "*" default when
	// trust_proxy is on is the mistake this exists to not repeat silently; doctor should warn.
	everyone bool
	prefixes []netip.Prefix
}

// parseAllowIPs parses forwarded_allow_ips. Each item is an address ("10.0.0.1", "::1"), a CIDR
// ("10.0.0.0/8", "2001:db8::/32") or "*" (everyone; see ipAllowList.everyone). An item may
// itself hold a comma-separated list, so a single environment variable value can be passed as
// one item. An address becomes a /32 or /128; IPv4-mapped entries become IPv4 ones.
func parseAllowIPs(items []string) (*ipAllowList, error) {
	l := &ipAllowList{}
	for _, item := range items {
		for _, part := range strings.Split(item, ",") {
			if err := l.add(strings.TrimSpace(part)); err != nil {
				return nil, err
			}
		}
	}
	return l, nil
}

// add parses one entry into l.
func (l *ipAllowList) add(s string) error {
	if s == "*" {
		l.everyone = true
		return nil
	}
	var p netip.Prefix
	if strings.Contains(s, "/") {
		pp, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("forwarded_allow_ips: %q is not an IP address or CIDR", s)
		}
		p = pp.Masked()
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("forwarded_allow_ips: %q is not an IP address or CIDR", s)
		}
		a = a.WithZone("") // peers are matched without zone too
		p = netip.PrefixFrom(a, a.BitLen())
	}
	// ::ffff:10.0.0.0/104 means 10.0.0.0/8; store it that way since peers are unmapped.
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	l.prefixes = append(l.prefixes, p)
	return nil
}

// loopbackAllowList is the trust used when trust_proxy is on but forwarded_allow_ips is empty:
// loopback only (127.0.0.0/8 and ::1), i.e. a proxy on the same host.
func loopbackAllowList() *ipAllowList {
	return &ipAllowList{prefixes: []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("::1/128"),
	}}
}

// contains reports whether a is trusted. A linear scan: allow lists hold a handful of entries,
// where a scan beats any tree and allocates nothing.
func (l *ipAllowList) contains(a netip.Addr) bool {
	if l == nil || !a.IsValid() {
		return false
	}
	if l.everyone {
		return true
	}
	a = a.Unmap().WithZone("")
	for _, p := range l.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// trustsEveryone reports whether the list holds "*", for doctor and startup warnings.
func (l *ipAllowList) trustsEveryone() bool { return l != nil && l.everyone }

// String renders the list as it would be configured, for doctor and the debug page.
func (l *ipAllowList) String() string {
	if l == nil {
		return ""
	}
	parts := make([]string, 0, len(l.prefixes)+1)
	if l.everyone {
		parts = append(parts, "*")
	}
	for _, p := range l.prefixes {
		parts = append(parts, p.String())
	}
	return strings.Join(parts, ",")
}

// forwardedInfo is what fluxlit believes about the original request.
type forwardedInfo struct {
	ClientIP netip.Addr // the client; invalid only when r.RemoteAddr is not an address
	Proto    string     // "http" or "https"
	Host     string     // the Host the client asked for
	Prefix   string     // the public mount path from a trusted X-Forwarded-Prefix ("/apps/x"), or ""
	Trusted  bool       // the peer is in the allow list, so the fields above came from its headers
	// XFF is the X-Forwarded-For value to send upstream: the believed chain (client, then the
	// trusted hops) followed by the peer. Spoofed entries left of the client are dropped. Empty
	// when the peer is not an address: send no X-Forwarded-For then.
	XFF string
}

// resolveForwarded decides what fluxlit believes about r. Forwarding headers are believed only
// when the peer (r.RemoteAddr) is in allow; otherwise the client is the peer, the scheme comes
// from r.TLS and the host from r.Host.
//
// For a trusted peer two dialects exist, and a request is read in exactly one of them, because a
// proxy that speaks one usually passes the other through from the client untouched (nginx sets
// X-Forwarded-For but forwards a client's Forwarded header as is, and vice versa):
//   - X-Forwarded-For present, or no Forwarded header: X-Forwarded-For/-Proto/-Host/-Prefix.
//     The client is the right-most untrusted hop of X-Forwarded-For (lines joined in order).
//     Proto and Host take the right-most value, the one the nearest trusted proxy wrote.
//   - Forwarded present and X-Forwarded-For absent: RFC 7239. The client is the right-most
//     untrusted for= hop, and proto/host come from that same element, which the first trusted
//     proxy wrote. X-Forwarded-Prefix, which has no RFC 7239 equivalent, is still read.
//
// Walks go right to left and stop at the first untrusted hop (the client) or at a malformed one
// (then the last good hop, or the peer, is the client). Proto must be http or https and Host
// must look like a host; anything else falls back to the untrusted values. The trusted proxy
// must set or strip X-Forwarded-Host and X-Forwarded-Prefix, or clients can choose them.
//
// The untrusted path allocates nothing unless the peer is IPv4-mapped.
func resolveForwarded(r *http.Request, allow *ipAllowList) forwardedInfo {
	peer, peerText := fwdPeer(r.RemoteAddr)
	info := forwardedInfo{ClientIP: peer, Proto: fwdTLSProto(r), Host: r.Host, XFF: peerText}
	if !peer.IsValid() || !allow.contains(peer) {
		return info
	}
	info.Trusted = true

	var hops [fwdMaxHops]netip.Addr // right to left
	n := 0
	xff, hasXFF := r.Header["X-Forwarded-For"]
	fwd, hasFwd := r.Header["Forwarded"]
	if hasFwd && !hasXFF {
		var proto, host string
		n, proto, host = fwdWalkForwarded(fwd, allow, &hops)
		info.Proto = fwdPickProto(proto, info.Proto)
		info.Host = fwdPickHost(host, info.Host)
	} else {
		n = fwdWalkXFF(xff, allow, &hops)
		info.Proto = fwdPickProto(fwdLastValue(r.Header["X-Forwarded-Proto"]), info.Proto)
		info.Host = fwdPickHost(fwdLastValue(r.Header["X-Forwarded-Host"]), info.Host)
	}
	info.Prefix = fwdCleanPrefix(fwdLastValue(r.Header["X-Forwarded-Prefix"]))
	if n > 0 {
		info.ClientIP = hops[n-1]
		info.XFF = fwdJoinChain(hops[:n], peer)
	}
	return info
}

// fwdPeer parses r.RemoteAddr ("ip:port", or a bare ip in hand-made requests) into the unmapped
// peer address and its text for X-Forwarded-For. The text is a substring of remoteAddr, so it
// costs no allocation, except for IPv4-mapped peers, whose unmapped form must be rendered.
func fwdPeer(remoteAddr string) (netip.Addr, string) {
	host := remoteAddr
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		if remoteAddr[0] == '[' {
			host = remoteAddr[1:strings.LastIndexByte(remoteAddr, ']')]
		} else {
			host = remoteAddr[:strings.LastIndexByte(remoteAddr, ':')]
		}
		return fwdNormalizePeer(ap.Addr(), host)
	}
	if a, err := netip.ParseAddr(remoteAddr); err == nil {
		return fwdNormalizePeer(a, host)
	}
	return netip.Addr{}, ""
}

// fwdNormalizePeer drops the zone and the IPv4 mapping, trimming text to match.
func fwdNormalizePeer(a netip.Addr, text string) (netip.Addr, string) {
	if i := strings.IndexByte(text, '%'); i >= 0 {
		text = text[:i]
	}
	if a.Is4In6() {
		a = a.Unmap()
		return a, a.String()
	}
	return a.WithZone(""), text
}

// fwdTLSProto is the scheme of the hop fluxlit itself terminated.
func fwdTLSProto(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// fwdWalkXFF walks X-Forwarded-For right to left into hops and returns how many it kept; the
// last kept hop is the client.
func fwdWalkXFF(lines []string, allow *ipAllowList, hops *[fwdMaxHops]netip.Addr) int {
	it := fwdList{lines: lines}
	n := 0
	for n < fwdMaxHops {
		elem, ok := it.next()
		if !ok {
			break
		}
		a, ok := fwdParseHop(elem)
		if !ok {
			break
		}
		hops[n] = a
		n++
		if !allow.contains(a) {
			break
		}
	}
	return n
}

// fwdWalkForwarded walks RFC 7239 elements right to left like fwdWalkXFF and also returns the
// proto and host parameters of the client's element (empty when absent).
func fwdWalkForwarded(lines []string, allow *ipAllowList, hops *[fwdMaxHops]netip.Addr) (n int, proto, host string) {
	it := fwdList{lines: lines}
	for n < fwdMaxHops {
		elem, ok := it.next()
		if !ok {
			break
		}
		forVal, p, h, ok := fwdParseElement(elem)
		if !ok {
			break
		}
		a, ok := fwdParseHop(forVal)
		if !ok {
			break
		}
		hops[n] = a
		n++
		proto, host = p, h
		if !allow.contains(a) {
			break
		}
	}
	return n, proto, host
}

// fwdJoinChain renders the X-Forwarded-For to send upstream: hops reversed (client first), then
// the peer. One allocation, for the string.
func fwdJoinChain(hops []netip.Addr, peer netip.Addr) string {
	var buf [256]byte
	b := buf[:0]
	for i := len(hops) - 1; i >= 0; i-- {
		b = hops[i].AppendTo(b)
		b = append(b, ", "...)
	}
	b = peer.AppendTo(b)
	return string(b)
}

// fwdList iterates the elements of a comma-separated header list from right to left, across
// header lines taken last line first (multiple lines are one list joined by commas, RFC 9110
// §5.3). Commas inside quoted strings do not split. Elements come back trimmed; an empty
// element is returned as "" so the caller sees it as malformed.
type fwdList struct {
	lines []string
	cur   string // the unconsumed left part of the current line
	open  bool   // cur belongs to a line still being consumed
}

func (it *fwdList) next() (string, bool) {
	if !it.open {
		if len(it.lines) == 0 {
			return "", false
		}
		it.cur = it.lines[len(it.lines)-1]
		it.lines = it.lines[:len(it.lines)-1]
		it.open = true
	}
	i := fwdLastSeparator(it.cur, ',')
	if i < 0 {
		elem := it.cur
		it.cur, it.open = "", false
		return fwdTrimOWS(elem), true
	}
	elem := it.cur[i+1:]
	it.cur = it.cur[:i]
	return fwdTrimOWS(elem), true
}

// fwdLastSeparator returns the index of the last sep in s outside a quoted string, or -1. A
// quote preceded by an odd number of backslashes is escaped. An unbalanced quote swallows the
// rest of the line into one element, which then fails to parse: a safe outcome.
func fwdLastSeparator(s string, sep byte) int {
	inQuote := false
	for i := len(s) - 1; i >= 0; i-- {
		switch s[i] {
		case '"':
			bs := 0
			for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
				bs++
			}
			if bs%2 == 0 {
				inQuote = !inQuote
			}
		case sep:
			if !inQuote {
				return i
			}
		}
	}
	return -1
}

// fwdTrimOWS trims the optional whitespace (space, tab) of RFC 9110 lists.
func fwdTrimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// fwdLastValue is the right-most element of a header list, or "" when absent.
func fwdLastValue(lines []string) string {
	it := fwdList{lines: lines}
	v, _ := it.next()
	return v
}

// fwdParseHop parses one hop: "192.0.2.1", "192.0.2.1:80", "2001:db8::1", "[2001:db8::1]",
// "[2001:db8::1]:4711" (ports may be RFC 7239 obfuscated, "_abc"). Zones are dropped and
// IPv4-mapped addresses unmapped. "unknown" and obfuscated identifiers ("_hidden") are not
// addresses: the walk stops there.
func fwdParseHop(s string) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	host := s
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		host = s[1:end]
		if rest := s[end+1:]; rest != "" && (rest[0] != ':' || !fwdValidPort(rest[1:])) {
			return netip.Addr{}, false
		}
	} else if i := strings.IndexByte(s, ':'); i >= 0 && strings.IndexByte(s[i+1:], ':') < 0 {
		// Exactly one colon: IPv4 with a port. Bare IPv6 has at least two.
		if !fwdValidPort(s[i+1:]) {
			return netip.Addr{}, false
		}
		host = s[:i]
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	if s[0] == '[' && !a.Is6() {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// fwdValidPort accepts a decimal port or an RFC 7239 obfuscated port ("_" then
// ALPHA / DIGIT / "." / "_" / "-").
func fwdValidPort(p string) bool {
	if p == "" {
		return false
	}
	if p[0] == '_' {
		for i := 1; i < len(p); i++ {
			c := p[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				return false
			}
		}
		return len(p) > 1
	}
	if len(p) > 5 {
		return false
	}
	v := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		v = v*10 + int(p[i]-'0')
	}
	return v <= 65535
}

// fwdParseElement parses one RFC 7239 forwarded-element ("for=192.0.2.60;proto=http;by=..."),
// returning the unquoted for, proto and host values. ok is false for a syntax error, a repeated
// parameter (RFC 7239 §4), a quoted value with escapes (never needed for these parameters, and
// unescaping would allocate), or a missing for=.
func fwdParseElement(elem string) (forVal, proto, host string, ok bool) {
	var seenFor, seenProto, seenHost bool
	for elem != "" {
		pair := elem
		if i := fwdFirstSeparator(elem, ';'); i >= 0 {
			pair, elem = elem[:i], elem[i+1:]
		} else {
			elem = ""
		}
		pair = fwdTrimOWS(pair)
		eq := strings.IndexByte(pair, '=')
		if eq <= 0 {
			return "", "", "", false
		}
		name, val := pair[:eq], pair[eq+1:]
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
			if strings.IndexByte(val, '\\') >= 0 || strings.IndexByte(val, '"') >= 0 {
				return "", "", "", false
			}
		} else if val == "" || strings.IndexByte(val, '"') >= 0 {
			return "", "", "", false
		}
		var seen *bool
		switch {
		case strings.EqualFold(name, "for"):
			seen, forVal = &seenFor, val
		case strings.EqualFold(name, "proto"):
			seen, proto = &seenProto, val
		case strings.EqualFold(name, "host"):
			seen, host = &seenHost, val
		default:
			continue // "by" and extensions
		}
		if *seen {
			return "", "", "", false
		}
		*seen = true
	}
	return forVal, proto, host, seenFor
}

// fwdFirstSeparator returns the index of the first sep in s outside a quoted string, or -1.
func fwdFirstSeparator(s string, sep byte) int {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch {
		case inQuote && s[i] == '\\':
			i++ // skip the escaped byte
		case s[i] == '"':
			inQuote = !inQuote
		case s[i] == sep && !inQuote:
			return i
		}
	}
	return -1
}

// fwdPickProto returns the forwarded scheme when it is http or https (any case), else fallback.
// The returned strings are constants, so nothing allocates.
func fwdPickProto(v, fallback string) string {
	switch {
	case strings.EqualFold(v, "https"):
		return "https"
	case strings.EqualFold(v, "http"):
		return "http"
	}
	return fallback
}

// fwdPickHost returns the forwarded host when it looks like one, else fallback. The check is
// strict on purpose: the host ends up in redirect URLs and absolute links.
func fwdPickHost(v, fallback string) string {
	if fwdValidHost(v) {
		return v
	}
	return fallback
}

// fwdValidHost accepts reg-name or IPv4 ("example.com", "a_b.local") or a bracketed IPv6
// literal, each with an optional decimal port.
func fwdValidHost(v string) bool {
	if v == "" || len(v) > fwdMaxHostLen {
		return false
	}
	host, port := v, ""
	if v[0] == '[' {
		end := strings.IndexByte(v, ']')
		if end < 0 {
			return false
		}
		if _, err := netip.ParseAddr(v[1:end]); err != nil {
			return false
		}
		host, port = "", v[end+1:]
		if port != "" && port[0] != ':' {
			return false
		}
	} else if i := strings.IndexByte(v, ':'); i >= 0 {
		host, port = v[:i], v[i:]
		if host == "" {
			return false
		}
	}
	if port != "" && (len(port) < 2 || port[1] == '_' || !fwdValidPort(port[1:])) {
		return false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// fwdCleanPrefix validates X-Forwarded-Prefix and returns it without a trailing slash ("/" and
// invalid values give ""). It must be an absolute path made of unreserved characters
// (A-Z a-z 0-9 - . _ ~) and slashes, without "." or ".." segments or empty segments: "//x" is
// a scheme-relative URL (an open redirect once used in a Location), and percent-encoding is
// refused because browsers decode "%2e%2e" to "..". Mount paths never need more.
func fwdCleanPrefix(v string) string {
	if v == "" || v[0] != '/' || len(v) > fwdMaxPrefixLen {
		return ""
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
			return ""
		}
	}
	v = strings.TrimRight(v, "/")
	for rest := v; rest != ""; {
		rest = rest[1:] // drop the leading '/'
		seg := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			seg, rest = rest[:i], rest[i:]
		} else {
			rest = ""
		}
		if seg == "" || seg == "." || seg == ".." {
			return ""
		}
	}
	return v
}

// fwdManagedHeaders are the inbound headers that describe the original request. They are
// deleted from every request before it goes upstream and fluxlit sets its own, so a client can
// never talk past the gateway (e.g. Streamlit or Uvicorn configured with proxy trust).
var fwdManagedHeaders = [...]string{
	"Forwarded",
	"X-Forwarded-For",
	"X-Forwarded-Host",
	"X-Forwarded-Proto",
	"X-Forwarded-Prefix",
	"X-Forwarded-Port",
	"X-Forwarded-Server",
	"X-Real-Ip",
}

// fwdStripInbound deletes the managed forwarding headers from h, including underscore and
// odd-case spellings (X_Forwarded_For), which Go keeps as separate keys but which CGI/WSGI-style
// servers fold into the same variable as the dashed name (the Traefik forwardedheaders fix).
// ReverseProxy's Rewrite removes only Forwarded and X-Forwarded-For/-Host/-Proto.
func fwdStripInbound(h http.Header) {
	for k := range h {
		for _, m := range fwdManagedHeaders {
			if fwdSameHeaderName(k, m) {
				delete(h, k)
				break
			}
		}
	}
}

// fwdSameHeaderName compares header names case-insensitively, treating '_' as '-'; a may be a
// name still in bytes (the fast path's).
func fwdSameHeaderName[T ~string | ~[]byte](a T, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if fwdFoldNameByte(a[i]) != fwdFoldNameByte(b[i]) {
			return false
		}
	}
	return true
}

// fwdFoldNameByte lower-cases ASCII letters and maps '_' to '-'.
func fwdFoldNameByte(c byte) byte {
	switch {
	case c == '_':
		return '-'
	case c >= 'A' && c <= 'Z':
		return c + ('a' - 'A')
	}
	return c
}
