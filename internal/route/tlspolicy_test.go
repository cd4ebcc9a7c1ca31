package route

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"postern/internal/deliver"
	"postern/internal/maps"
)

func TestTLSPolicies(t *testing.T) {
	mapsDir := t.TempDir()
	os.WriteFile(filepath.Join(mapsDir, "access"), []byte("Try_TLS:broken.example NO\nTry_TLS:192.0.2.7 NO\n"), 0o644)
	set, err := maps.Open(mapsDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	pol := &TLSPolicies{
		Default: deliver.PolicyMay,
		Destinations: map[string]deliver.TLSPolicy{
			"partner.example":   deliver.PolicyVerify,
			".corp.example":     deliver.PolicyRequired,
			"mx.hosted.example": deliver.PolicyRequired,
			"192.0.2.9":         deliver.PolicyVerify,
		},
		Maps: set.Maps,
	}
	ip := netip.MustParseAddr("127.0.0.1")
	for _, c := range []struct {
		domain, host string
		ip           netip.Addr
		want         deliver.TLSPolicy
	}{
		{"partner.example", "mx.partner.example", ip, deliver.PolicyVerify},
		{"Partner.Example.", "mx.partner.example", ip, deliver.PolicyVerify},
		{"a.corp.example", "mx.a.corp.example", ip, deliver.PolicyRequired},
		{"corp.example", "mx.other.example", ip, deliver.PolicyMay},
		{"customer.example", "mx.hosted.example", ip, deliver.PolicyRequired},
		{"x.example", "mx.x.example", netip.MustParseAddr("192.0.2.9"), deliver.PolicyVerify},
		{"x.example", "smtp.broken.example", ip, deliver.PolicyNever},
		{"x.example", "mx.x.example", netip.MustParseAddr("192.0.2.7"), deliver.PolicyNever},
		{"x.example", "mx.x.example", ip, deliver.PolicyMay},
	} {
		if got := pol.Lookup(c.domain, c.host, c.ip); got != c.want {
			t.Errorf("%s via %s [%s]: %s, want %s", c.domain, c.host, c.ip, got, c.want)
		}
	}
	// Without maps: the table, then the default.
	pol.Maps = nil
	if got := pol.Lookup("x.example", "smtp.broken.example", ip); got != deliver.PolicyMay {
		t.Errorf("without maps: %s", got)
	}
}
