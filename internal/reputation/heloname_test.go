package reputation

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseHelo(t *testing.T) {
	tests := []struct {
		in      string
		domain  string
		literal string
		err     string
	}{
		{in: "mail.example.org", domain: "mail.example.org"},
		{in: "Mail.Example.ORG.", domain: "mail.example.org"},
		{in: "localhost", domain: "localhost"},
		{in: "xn--bcher-kva.example", domain: "xn--bcher-kva.example"},
		{in: "a-b.c", domain: "a-b.c"},
		{in: "[192.0.2.1]", literal: "192.0.2.1"},
		{in: "[IPv6:2001:db8::1]", literal: "2001:db8::1"},
		{in: "[ipv6:2001:DB8::1]", literal: "2001:db8::1"},
		{in: "[IPv6:::ffff:192.0.2.1]", literal: "192.0.2.1"},
		{in: "", err: "empty"},
		{in: ".", err: "empty"},
		{in: "a..b", err: "empty label"},
		{in: "-a.example", err: "hyphen"},
		{in: "a-.example", err: "hyphen"},
		{in: "my_laptop", err: "not allowed"},
		{in: "host name", err: "not allowed"},
		{in: "192.0.2.1", err: "bare IP"},
		{in: "[192.0.2.1", err: "closing"},
		{in: "[2001:db8::1]", err: "IPv6:"},
		{in: "[IPv6:192.0.2.1]", err: "IPv6"},
		{in: "[IPv6:fe80::1%eth0]", err: "IPv6"},
		{in: "[999.0.0.1]", err: "address literal"},
		{in: strings.Repeat("a", 64) + ".example", err: "63"},
		{in: strings.Repeat("a.", 130), err: "255"},
		{in: "bücher.example", err: "not allowed"},
	}
	for _, tt := range tests {
		h, err := ParseHelo(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseHelo(%q) = %+v, %v; want error with %q", tt.in, h, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseHelo(%q): %v", tt.in, err)
			continue
		}
		if h.Domain != tt.domain {
			t.Errorf("ParseHelo(%q).Domain = %q, want %q", tt.in, h.Domain, tt.domain)
		}
		if tt.literal != "" && h.Literal != netip.MustParseAddr(tt.literal) || tt.literal == "" && h.IsLiteral() {
			t.Errorf("ParseHelo(%q).Literal = %v, want %q", tt.in, h.Literal, tt.literal)
		}
	}
}

func FuzzParseHelo(f *testing.F) {
	for _, s := range []string{"mail.example.org", "[192.0.2.1]", "[IPv6:2001:db8::1]", "a..b", "-x", "my_laptop", "192.0.2.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHelo(s)
		if err != nil {
			return
		}
		if h.IsLiteral() == (h.Domain != "") {
			t.Fatalf("ParseHelo(%q) = %+v: exactly one of domain and literal", s, h)
		}
		if h.Domain != "" {
			// A parsed domain parses again to itself.
			again, err := ParseHelo(h.Domain)
			if err != nil || again.Domain != h.Domain {
				t.Fatalf("ParseHelo(%q) = %q, which parses to %+v, %v", s, h.Domain, again, err)
			}
		}
	})
}
