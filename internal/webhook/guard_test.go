package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/writepath/writepath/internal/webhook"
)

// testDNS knows a few names, so that the tests resolve without real DNS.
func testDNS() *fakeDNS {
	return newFakeDNS(map[string][]string{
		"public.test":   {"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
		"internal.test": {"10.0.0.7"},
		"mixed.test":    {"93.184.215.14", "127.0.0.1"},
		"ula.test":      {"93.184.215.14", "fd00::1"},
		"localhost":     {"93.184.215.14"}, // lies: the name is refused before DNS
	})
}

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url  string
		want error // nil: allowed
	}{
		{"https://93.184.215.14/hooks", nil},
		{"http://93.184.215.14:8080/hooks?token=x", nil},
		{"https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hooks", nil},
		{"https://8.8.8.8/", nil},
		{"https://public.test/hooks", nil},
		{"HTTPS://PUBLIC.TEST/hooks", nil},

		{"http://127.0.0.1/", webhook.ErrPrivateAddress},
		{"http://127.1.2.3:9000/", webhook.ErrPrivateAddress},
		{"http://[::1]/", webhook.ErrPrivateAddress},
		{"http://10.1.2.3/", webhook.ErrPrivateAddress},
		{"http://192.168.1.10/", webhook.ErrPrivateAddress},
		{"http://172.16.0.1/", webhook.ErrPrivateAddress},
		{"http://172.31.255.255/", webhook.ErrPrivateAddress},
		{"http://169.254.169.254/latest/meta-data/", webhook.ErrPrivateAddress},
		{"http://[fd00::1]/", webhook.ErrPrivateAddress},
		{"http://[fe80::1%25eth0]/", webhook.ErrPrivateAddress},
		{"http://[::ffff:127.0.0.1]/", webhook.ErrPrivateAddress},
		{"http://[::ffff:10.0.0.1]/", webhook.ErrPrivateAddress},
		{"http://0.0.0.0/", webhook.ErrPrivateAddress},
		{"http://[::]/", webhook.ErrPrivateAddress},
		{"http://0.1.2.3/", webhook.ErrPrivateAddress},
		{"http://100.64.0.1/", webhook.ErrPrivateAddress},
		{"http://100.127.255.254/", webhook.ErrPrivateAddress},
		{"http://224.0.0.1/", webhook.ErrPrivateAddress},
		{"http://[ff02::1]/", webhook.ErrPrivateAddress},
		{"http://255.255.255.255/", webhook.ErrPrivateAddress},
		{"http://[64:ff9b::7f00:1]/", webhook.ErrPrivateAddress},  // NAT64 of 127.0.0.1
		{"http://[2002:a00:1::1]/", webhook.ErrPrivateAddress},    // 6to4 of 10.0.0.1
		{"http://[::7f00:1]/", webhook.ErrPrivateAddress},         // IPv4-compatible
		{"http://localhost:8080/", webhook.ErrPrivateAddress},     // by name, before DNS
		{"http://api.LOCALHOST./", webhook.ErrPrivateAddress},     // ditto
		{"https://internal.test/", webhook.ErrPrivateAddress},     // resolves to 10.0.0.7
		{"https://mixed.test/", webhook.ErrPrivateAddress},        // one address is enough
		{"https://ula.test/", webhook.ErrPrivateAddress},          // ditto, over AAAA
		{"https://missing.test/", webhook.ErrInvalidURL},          // NXDOMAIN
		{"ftp://93.184.215.14/", webhook.ErrInvalidURL},           // scheme
		{"https://user:pw@93.184.215.14/", webhook.ErrInvalidURL}, // userinfo
		{"https://user@93.184.215.14/", webhook.ErrInvalidURL},
		{"93.184.215.14/hooks", webhook.ErrInvalidURL},
		{"https:///hooks", webhook.ErrInvalidURL},
		{"https://93.184.215.14:0/", webhook.ErrInvalidURL},
		{"http://[::1/", webhook.ErrInvalidURL},
		{"mailto:hooks@example.com", webhook.ErrInvalidURL},
		{"", webhook.ErrInvalidURL},
		{"https://93.184.215.14/" + strings.Repeat("a", 2048), webhook.ErrInvalidURL},
	}
	g := webhook.Guard{Resolver: testDNS().resolver()}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := g.CheckURL(context.Background(), tt.url)
			if tt.want == nil && err != nil {
				t.Fatalf("CheckURL(%q) = %v, want nil", tt.url, err)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("CheckURL(%q) = %v, want %v", tt.url, err, tt.want)
			}
		})
	}
}

func TestCheckURLAllowPrivateLetsPrivateAddressesThrough(t *testing.T) {
	g := webhook.Guard{AllowPrivate: true, Resolver: testDNS().resolver()}
	for _, raw := range []string{
		"http://127.0.0.1:8080/hooks", "http://[::1]/", "http://10.1.2.3/", "http://192.168.1.10/",
		"http://172.16.0.1/", "http://169.254.169.254/", "http://[fd00::1]/",
		"http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://100.64.0.1/",
		"http://localhost/", "https://internal.test/", "https://mixed.test/",
	} {
		if err := g.CheckURL(context.Background(), raw); err != nil {
			t.Fatalf("CheckURL(%q) with AllowPrivate = %v, want nil", raw, err)
		}
	}
}

func TestCheckURLAllowPrivateStillChecksSyntax(t *testing.T) {
	g := webhook.Guard{AllowPrivate: true, Resolver: testDNS().resolver()}
	invalid := []string{"ftp://127.0.0.1/", "http://u:p@127.0.0.1/", "https://missing.test/"}
	for _, raw := range invalid {
		if err := g.CheckURL(context.Background(), raw); !errors.Is(err, webhook.ErrInvalidURL) {
			t.Fatalf("CheckURL(%q) = %v, want ErrInvalidURL", raw, err)
		}
	}
}

func TestCheckURLReasonsAreShortAndHideResolvedAddresses(t *testing.T) {
	g := webhook.Guard{Resolver: testDNS().resolver()}
	tests := []struct{ url, want string }{
		{"ftp://93.184.215.14/", "invalid webhook url: scheme must be http or https"},
		{"https://u:p@93.184.215.14/", "invalid webhook url: user name or password not allowed"},
		{"http://127.0.0.1/", "webhook address is private: 127.0.0.1 is a loopback address"},
		{"http://100.64.0.1/", "webhook address is private: 100.64.0.1 is a shared CGNAT address"},
		{"https://internal.test/",
			"webhook address is private: internal.test resolves to a private address"},
		{"https://missing.test/", "invalid webhook url: host missing.test does not resolve"},
	}
	for _, tt := range tests {
		err := g.CheckURL(context.Background(), tt.url)
		if err == nil {
			t.Fatalf("CheckURL(%q) = nil, want %q", tt.url, tt.want)
		}
		if got := err.Error(); got != tt.want {
			t.Fatalf("CheckURL(%q) = %q, want %q", tt.url, got, tt.want)
		}
	}
}

func TestTransportIgnoresProxyEnvironment(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://93.184.215.14:3128")
	t.Setenv("HTTPS_PROXY", "http://93.184.215.14:3128")

	tr := webhook.Guard{}.Transport()
	if tr.Proxy != nil {
		req, _ := http.NewRequest(http.MethodPost, "http://8.8.8.8/", nil)
		if u, _ := tr.Proxy(req); u != nil {
			t.Fatalf("transport proxies through %s", u)
		}
	}
}

// FuzzCheckURL feeds CheckURL arbitrary input: it must never panic, and a
// URL it allows must be http or https and no longer than the limit.
func FuzzCheckURL(f *testing.F) {
	for _, seed := range []string{
		"https://93.184.215.14/hooks", "http://[::ffff:127.0.0.1]:80/", "http://localhost/",
		"https://u@public.test/", "ftp://x/", "http://[fe80::1%25eth0]/", "https://public.test/",
	} {
		f.Add(seed)
	}
	g := webhook.Guard{Resolver: testDNS().resolver()}
	f.Fuzz(func(t *testing.T, raw string) {
		err := g.CheckURL(context.Background(), raw)
		if err != nil {
			if !errors.Is(err, webhook.ErrInvalidURL) && !errors.Is(err, webhook.ErrPrivateAddress) {
				t.Fatalf("CheckURL(%q) = %v, matching neither sentinel", raw, err)
			}
			return
		}
		lower := strings.ToLower(raw)
		if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
			t.Fatalf("CheckURL allowed %q", raw)
		}
		if len(raw) > webhook.MaxURLLength {
			t.Fatalf("CheckURL allowed %d bytes", len(raw))
		}
	})
}
