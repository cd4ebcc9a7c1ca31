package route

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postern/internal/deliver"
	"postern/internal/dnstest"
	"postern/internal/maps"
	"postern/internal/mtasts"
)

// lookupTLS is the choice for one server of domain, reached through its
// MX hosts.
func lookupTLS(t *testing.T, p *TLSPolicies, domain, host string, ip netip.Addr) deliver.TLSChoice {
	t.Helper()
	d, err := p.Domain(context.Background(), domain, true)
	if err != nil {
		t.Fatalf("%s: %v", domain, err)
	}
	c, err := d.Host(context.Background(), deliver.Server{Name: host, IP: ip, Port: 25})
	if err != nil {
		t.Fatalf("%s via %s: %v", domain, host, err)
	}
	return c
}

// stsTable answers MTA-STS lookups from a table, as the cache would
// from policies it holds; a domain mapped to nil fails to look up.
type stsTable map[string]*mtasts.Policy

func (s stsTable) Lookup(_ context.Context, domain string) (mtasts.Decision, error) {
	p, ok := s[domain]
	switch {
	case !ok:
		return mtasts.Decision{Reason: "no MTA-STS record"}, nil
	case p == nil:
		return mtasts.Decision{}, mtasts.ErrLookup
	}
	return mtasts.Decision{Policy: p, Source: "cache", Reason: "policy id 1"}, nil
}

// The rules in their order: tls_destination, MTA-STS, Try_TLS, default.
func TestTLSPoliciesMTASTS(t *testing.T) {
	mapsDir := t.TempDir()
	os.WriteFile(filepath.Join(mapsDir, "access"), []byte("Try_TLS:mx.sts.example NO\nTry_TLS:mx.testing.example NO\nTLS_Srv:mx.plain.example VERIFY\nTLS_Srv:mx2.sts.example ENCR:128\n"), 0o644)
	set, err := maps.Open(mapsDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	enforce := &mtasts.Policy{Mode: mtasts.Enforce, MX: []string{"mx.sts.example", "*.pool.example"}, MaxAge: 86400}
	testing := &mtasts.Policy{Mode: mtasts.Testing, MX: []string{"mx.testing.example"}, MaxAge: 86400}
	pol := &TLSPolicies{
		Default:      deliver.PolicyMay,
		Destinations: map[string]deliver.TLSPolicy{"override.example": deliver.PolicyNever, "mx2.sts.example": deliver.PolicyRequired},
		Maps:         set.Maps,
		STS:          stsTable{"sts.example": enforce, "override.example": enforce, "testing.example": testing, "broken.example": nil},
	}
	ip := netip.MustParseAddr("192.0.2.1")
	ctx := context.Background()
	for _, c := range []struct {
		domain, host string
		want         deliver.TLSPolicy
		why          string
	}{
		{"sts.example", "mx.sts.example", deliver.PolicyVerify, "MTA-STS policy of sts.example, mode enforce"},
		{"sts.example", "a.pool.example", deliver.PolicyVerify, "mode enforce"},
		{"sts.example", "mx2.sts.example", deliver.PolicyRequired, "tls_destination mx2.sts.example"},
		{"override.example", "mx.sts.example", deliver.PolicyNever, "tls_destination override.example"},
		{"testing.example", "mx.testing.example", deliver.PolicyNever, "Try_TLS"},
		{"testing.example", "other.example", deliver.PolicyMay, "is not among its mx"},
		{"plain.example", "mx.plain.example", deliver.PolicyVerify, "raised to verify by access map"},
		{"plain.example", "mx.other.example", deliver.PolicyMay, "no MTA-STS record"},
	} {
		got := lookupTLS(t, pol, c.domain, c.host, ip)
		if got.Policy != c.want || !strings.Contains(got.Why, c.why) {
			t.Errorf("%s via %s: %s (%s), want %s (%s)", c.domain, c.host, got.Policy, got.Why, c.want, c.why)
		}
	}
	// Enforce: an MX host the policy does not list is not used.
	d, _ := pol.Domain(ctx, "sts.example", true)
	if _, err := d.Host(ctx, deliver.Server{Name: "evil.example", IP: ip}); err == nil || !strings.Contains(err.Error(), "4.7.5") && !strings.Contains(err.Error(), "not among") {
		t.Errorf("unlisted MX under enforce: %v", err)
	}
	// TLS-Required: No sets the published policy aside, not the operator's.
	d, _ = pol.Domain(ctx, "sts.example", true)
	if c, err := d.Host(ctx, deliver.Server{Name: "evil.example", IP: ip, IgnorePublished: true}); err != nil || c.Policy != deliver.PolicyMay || !strings.Contains(c.Why, "TLS-Required: No") {
		t.Errorf("TLS-Required: No: %v %v", c, err)
	}
	if c, err := d.Host(ctx, deliver.Server{Name: "mx2.sts.example", IP: ip, IgnorePublished: true}); err != nil || c.Policy != deliver.PolicyRequired {
		t.Errorf("TLS-Required: No against tls_destination: %v %v", c, err)
	}
	// REQUIRETLS trusts names from MTA-STS and an operator's verify.
	if c := lookupTLS(t, pol, "sts.example", "mx.sts.example", ip); !c.NameSecure {
		t.Error("MTA-STS listed MX not name-secure")
	}
	if c := lookupTLS(t, pol, "plain.example", "mx.other.example", ip); c.NameSecure {
		t.Error("plain DNS MX name-secure")
	}
	// A policy that cannot be looked up defers the domain.
	if _, err := pol.Domain(ctx, "broken.example", true); !errors.Is(err, mtasts.ErrLookup) {
		t.Errorf("lookup failure: %v", err)
	}
	// A route of the operator's (not the MX hosts) skips MTA-STS.
	d, err = pol.Domain(ctx, "sts.example", false)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := d.Host(ctx, deliver.Server{Name: "relay.example", IP: ip}); err != nil || c.Policy != deliver.PolicyMay {
		t.Errorf("route: %v %v", c, err)
	}
	// Describe prints the same choices.
	srv := dnstest.Start(t, dnstest.Zone{"sts.example. MX": {"10 mx.sts.example.", "20 evil.example."}})
	lines := pol.Describe(ctx, srv.Resolver(), "sts.example", true, nil, 25)
	if len(lines) != 2 || !strings.Contains(lines[0], "verify") || !strings.Contains(lines[1], "not used") {
		t.Errorf("describe: %q", lines)
	}
}

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
		if got := lookupTLS(t, pol, c.domain, c.host, c.ip).Policy; got != c.want {
			t.Errorf("%s via %s [%s]: %s, want %s", c.domain, c.host, c.ip, got, c.want)
		}
	}
	// Without maps: the table, then the default.
	pol.Maps = nil
	if got := lookupTLS(t, pol, "x.example", "smtp.broken.example", ip).Policy; got != deliver.PolicyMay {
		t.Errorf("without maps: %s", got)
	}
}
