package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// MaxURLLength is the longest webhook URL accepted, in bytes.
const MaxURLLength = 2048

// lookupTimeout bounds the name resolution of CheckURL, so that a slow
// resolver cannot hold a registration request for long.
const lookupTimeout = 5 * time.Second

var (
	// ErrPrivateAddress means a webhook URL's host is, or resolves to, an
	// address inside a private network or this machine. The message of an
	// error that matches it says which host and what kind of address, and is
	// fit for a 400 problem detail.
	ErrPrivateAddress = errors.New("webhook address is private")

	// ErrInvalidURL means a webhook URL is malformed, too long, not http or
	// https, carries a user name or password, or its host does not resolve.
	// The message of an error that matches it is fit for a 400 problem
	// detail.
	ErrInvalidURL = errors.New("invalid webhook url")
)

// refusal is an error of the guard. Its message is the kind and a short
// reason, fit to show the tenant; the cause, such as a DNS error that names
// the service's resolver, is kept for errors.Is and errors.As but out of the
// message.
type refusal struct {
	kind   error // ErrInvalidURL or ErrPrivateAddress
	reason string
	cause  error // may be nil
}

// Error returns the kind and the reason, never the cause.
func (r *refusal) Error() string { return r.kind.Error() + ": " + r.reason }

// Unwrap returns the kind and, if there is one, the cause.
func (r *refusal) Unwrap() []error {
	if r.cause == nil {
		return []error{r.kind}
	}
	return []error{r.kind, r.cause}
}

// invalidURL returns a refusal of kind ErrInvalidURL.
func invalidURL(cause error, format string, args ...any) error {
	return &refusal{kind: ErrInvalidURL, reason: fmt.Sprintf(format, args...), cause: cause}
}

// Guard decides which webhook addresses the service may reach. Its zero value
// refuses private addresses and resolves with net.DefaultResolver.
type Guard struct {
	// AllowPrivate lets webhooks reach loopback, private and other
	// non-public addresses. Off (the zero value) in production; on for local
	// setups and tests (--allow-private-webhooks).
	AllowPrivate bool

	// Resolver resolves host names, in CheckURL and in the dialer of
	// Transport. Nil means net.DefaultResolver.
	Resolver *net.Resolver
}

// CheckURL checks a webhook URL at registration: scheme http or https, a
// host, no user name or password, at most MaxURLLength bytes. It then
// resolves the host and refuses the URL, with an error matching
// ErrPrivateAddress, if any of its addresses is not public, unless
// AllowPrivate is set. The names "localhost" and "*.localhost" are refused
// without asking DNS. Other errors match ErrInvalidURL. Every error's message
// is a short reason fit for a 400 problem detail.
//
// A URL that passes can still be refused at delivery time: the dialer of
// Transport checks again the address it connects to.
func (g Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := parseURL(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if !g.AllowPrivate && isLocalhostName(host) {
		return &refusal{kind: ErrPrivateAddress, reason: fmt.Sprintf("%s is a loopback name", host)}
	}

	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return err
	}
	if g.AllowPrivate {
		return nil
	}
	for _, a := range addrs {
		if kind := addressKind(a); kind != "" {
			return privateHost(host, kind)
		}
	}
	return nil
}

// privateHost is the refusal of a host because of one of its addresses. The
// address itself is named only when the tenant wrote it: the service's view
// of a name's addresses stays private.
func privateHost(host, kind string) error {
	reason := fmt.Sprintf("%s is a %s address", host, kind)
	if _, err := netip.ParseAddr(host); err != nil {
		reason = fmt.Sprintf("%s resolves to a %s address", host, kind)
	}
	return &refusal{kind: ErrPrivateAddress, reason: reason}
}

// parseURL checks the syntax of a webhook URL, without resolving its host.
func parseURL(raw string) (*url.URL, error) {
	if len(raw) > MaxURLLength {
		return nil, invalidURL(nil, "longer than %d bytes", MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, invalidURL(err, "not a url")
	}

	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, invalidURL(nil, "scheme must be http or https")
	case u.Opaque != "" || u.Hostname() == "":
		return nil, invalidURL(nil, "no host")
	case u.User != nil:
		return nil, invalidURL(nil, "user name or password not allowed")
	case u.Port() == "0":
		return nil, invalidURL(nil, "port 0 not allowed")
	}
	return u, nil
}

// isLocalhostName reports whether host is "localhost" or a name under it,
// which RFC 6761 reserves for loopback whatever DNS says.
func isLocalhostName(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// resolve returns the addresses of host: the host itself if it is an IP
// literal, else its A and AAAA records.
func (g Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}

	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	addrs, err := g.resolver().LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, invalidURL(err, "host %s does not resolve", host)
	}
	if len(addrs) == 0 {
		return nil, invalidURL(nil, "host %s has no address", host)
	}
	return addrs, nil
}

// resolver returns the Resolver, or net.DefaultResolver if it is nil.
func (g Guard) resolver() *net.Resolver {
	if g.Resolver == nil {
		return net.DefaultResolver
	}
	return g.Resolver
}

// Transport returns a new transport for webhook deliveries. Its dialer
// refuses, unless AllowPrivate is set, every connection to an address that
// CheckURL would refuse, checked on the address about to be connected after
// resolution, so that DNS rebinding cannot slip through. It ignores proxy
// settings from the environment (a proxy would make the dialer check the
// proxy's address instead of the receiver's) and bounds every step of a
// connection.
func (g Guard) Transport() *http.Transport {
	d := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Resolver:  g.Resolver,
	}
	if !g.AllowPrivate {
		d.Control = refusePrivate
	}

	return &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  30 * time.Second,
		ExpectContinueTimeout:  time.Second,
		IdleConnTimeout:        90 * time.Second,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    4,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// Client returns an HTTP client on Transport that does not follow redirects:
// a redirect comes back as the answer, which Sender counts as a failure.
func (g Guard) Client() *http.Client {
	return &http.Client{
		Transport: g.Transport(),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// refusePrivate is a net.Dialer.Control: it runs after resolution, before
// each connect, with the address about to be connected. An address it
// cannot parse is refused too, so that the check fails closed.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &refusal{kind: ErrPrivateAddress, reason: "dial address cannot be checked"}
	}
	if kind := addressKind(ap.Addr()); kind != "" {
		return privateHost(ap.Addr().String(), kind)
	}
	return nil
}

// reserved lists the non-public ranges that netip's predicates do not
// cover, with the kind of address each holds.
var reserved = []struct {
	prefix netip.Prefix
	kind   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "reserved"},         // RFC 1122 "this network"
	{netip.MustParsePrefix("100.64.0.0/10"), "shared CGNAT"}, // RFC 6598
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved"},      // RFC 6890 protocol assignments
	{netip.MustParsePrefix("198.18.0.0/15"), "reserved"},     // RFC 2544 benchmarking
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},       // includes the broadcast address
	{netip.MustParsePrefix("::/96"), "reserved"},             // IPv4-compatible, deprecated
	{netip.MustParsePrefix("100::/64"), "reserved"},          // RFC 6666 discard
	{netip.MustParsePrefix("64:ff9b:1::/48"), "private"},     // RFC 8215 local-use NAT64
}

// Prefixes whose addresses embed an IPv4 address that a gateway may reach:
// the NAT64 well-known prefix (last 4 bytes) and 6to4 (bytes 2 to 5).
var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// addressKind returns what kind of non-public address a is, such as
// "loopback" or "private", or "" for a public address. IPv4-mapped, NAT64
// and 6to4 addresses are judged by the IPv4 address they carry.
func addressKind(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	switch {
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsMulticast():
		return "multicast"
	}
	for _, r := range reserved {
		if r.prefix.Contains(a) {
			return r.kind
		}
	}
	if v4, ok := embeddedIPv4(a); ok {
		return addressKind(v4)
	}
	return ""
}

// embeddedIPv4 returns the IPv4 address inside a NAT64 or 6to4 address.
func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	b := a.As16()
	switch {
	case nat64Prefix.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}
