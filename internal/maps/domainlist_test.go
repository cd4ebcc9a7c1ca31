package maps

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestRelayDomains(t *testing.T) {
	l, err := ParseRelayDomains("relay-domains", strings.NewReader(`# backup MX for these
example.com
Partner.Example.  other.example
128.32
IPv6:2002:c0a8:02c7
192.0.2.0/24
bücher.example
`))
	if err != nil {
		t.Fatal(err)
	}
	for d, want := range map[string]string{
		"example.com":           "example.com",
		"mx.example.com":        "example.com", // subdomains, as sendmail without relay_hosts_only
		"a.b.EXAMPLE.com.":      "example.com",
		"badexample.com":        "",
		"example.com.evil.test": "",
		"partner.example":       "partner.example",
		"x.other.example":       "other.example",
		"xn--bcher-kva.example": "xn--bcher-kva.example",
		"mail.bücher.example":   "xn--bcher-kva.example",
		"com":                   "",
	} {
		m, ok := l.Contains(d)
		if ok != (want != "") || m.Key != want {
			t.Errorf("Contains(%q) = %v %q, want %q", d, ok, m.Key, want)
		}
	}
	if m, _ := l.Contains("partner.example"); m.Source.Line != 3 || m.Rule() != "relay-domains line 3: partner.example" {
		t.Errorf("source = %+v %q", m.Source, m.Rule())
	}
	for ip, want := range map[string]string{
		"128.32.1.1": "128.32", "128.33.1.1": "", "128.3.1.1": "",
		"2002:c0a8:2c7::1": "2002:c0a8:2c7::/48", "2002:c0a8:2c8::1": "",
		"192.0.2.77": "192.0.2.0/24",
	} {
		m, ok := l.ContainsIP(netip.MustParseAddr(ip))
		if ok != (want != "") || m.Key != want {
			t.Errorf("ContainsIP(%s) = %v %q, want %q", ip, ok, m.Key, want)
		}
	}
	if l.Len() != 7 {
		t.Errorf("Len = %d", l.Len())
	}
}

func TestLocalHostNames(t *testing.T) {
	l, err := ParseLocalHostNames("local-host-names", strings.NewReader("mx.example.com\nexample.com.\n[192.0.2.1]\n[IPv6:2001:DB8::1]\nlocalhost\n"))
	if err != nil {
		t.Fatal(err)
	}
	for d, want := range map[string]bool{
		"example.com": true, "EXAMPLE.COM.": true, "mx.example.com": true,
		"other.example.com": false, // exact only, like class w
		"[192.0.2.1]":       true, "[192.0.2.2]": false,
		"[ipv6:2001:db8:0::1]": true, "localhost": true, "": false,
	} {
		if _, ok := l.Contains(d); ok != want {
			t.Errorf("Contains(%q) = %v, want %v", d, ok, want)
		}
	}
	// Local host names never list networks.
	if _, ok := l.ContainsIP(netip.MustParseAddr("192.0.2.1")); ok {
		t.Error("ContainsIP matched in local-host-names")
	}
}

func TestDomainListErrors(t *testing.T) {
	_, err := ParseLocalHostNames("lhn", strings.NewReader("good.example\nbad..example\n192.0.2.1\ngood.example\nx\x00y\n[1.2.3]\n"))
	var pe ParseErrors
	if !errors.As(err, &pe) || len(pe) != 5 {
		t.Fatalf("err = %v", err)
	}
	for i, l := range []int{2, 3, 4, 5, 6} {
		if pe[i].Line != l {
			t.Errorf("error %d line %d, want %d (%s)", i, pe[i].Line, l, pe[i].Msg)
		}
	}
	_, err = ParseRelayDomains("rd", strings.NewReader("10.0.0.1/8\n256.1\n"))
	if !errors.As(err, &pe) || len(pe) != 2 {
		t.Fatalf("err = %v", err)
	}
}

func TestRelayDomainsUnixSocketIgnored(t *testing.T) {
	l, err := ParseRelayDomains("relay-domains", strings.NewReader("sendmail.org\n[UNIX:localhost]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 1 || len(l.Warnings()) != 1 || l.Warnings()[0].Source.Line != 2 {
		t.Errorf("Len %d warnings %v", l.Len(), l.Warnings())
	}
	m := &Maps{RelayDomains: l}
	if len(m.Warnings()) != 1 {
		t.Errorf("Maps.Warnings = %v", m.Warnings())
	}
}
