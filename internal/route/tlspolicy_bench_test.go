package route

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"postern/internal/deliver"
	"postern/internal/dnstest"
	"postern/internal/mtasts"
)

// cachedPolicies is a TLSPolicies whose MTA-STS cache holds an enforced
// policy for sts.example, loaded from disk as after a restart, with a
// resolver that counts its queries.
func cachedPolicies(t testing.TB) (*TLSPolicies, *dnstest.Server) {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	e := mtasts.Entry{Domain: "sts.example", ID: "20261207", Fetched: now, Checked: now,
		Body: "version: STSv1\nmode: enforce\nmx: mx.sts.example\nmax_age: 86400\n"}
	data, _ := json.Marshal(e)
	if err := os.WriteFile(filepath.Join(dir, "sts.example.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := dnstest.Start(t, dnstest.Zone{})
	c := &mtasts.Cache{Dir: dir, Resolver: srv.Resolver()}
	if err := c.Load(); err != nil {
		t.Fatal(err)
	}
	return &TLSPolicies{Default: deliver.PolicyMay, STS: c,
		Destinations: map[string]deliver.TLSPolicy{"partner.example": deliver.PolicyVerify}}, srv
}

// With the policy cached, choosing the TLS policy of a delivery asks
// neither DNS nor HTTPS.
func TestTLSPoliciesCachedNoNetwork(t *testing.T) {
	p, srv := cachedPolicies(t)
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		d, err := p.Domain(ctx, "sts.example", true)
		if err != nil {
			t.Fatal(err)
		}
		c, err := d.Host(ctx, deliver.Server{Name: "mx.sts.example", IP: netip.MustParseAddr("192.0.2.1"), Port: 25})
		if err != nil || c.Policy != deliver.PolicyVerify {
			t.Fatalf("%v %v", c, err)
		}
	}
	if n := srv.Queries(); n != 0 {
		t.Errorf("%d DNS queries with the policy cached", n)
	}
}

// BenchmarkTLSPolicyCached is the cost of the TLS policy decision of one
// delivery attempt to a domain with a cached MTA-STS policy: Domain once,
// Host for its server.
func BenchmarkTLSPolicyCached(b *testing.B) {
	p, _ := cachedPolicies(b)
	ctx := context.Background()
	s := deliver.Server{Name: "mx.sts.example", IP: netip.MustParseAddr("192.0.2.1"), Port: 25}
	b.ReportAllocs()
	for b.Loop() {
		d, _ := p.Domain(ctx, "sts.example", true)
		d.Host(ctx, s)
	}
}

// BenchmarkTLSPolicyExplicit is the same for a domain with a
// tls_destination entry.
func BenchmarkTLSPolicyExplicit(b *testing.B) {
	p, _ := cachedPolicies(b)
	ctx := context.Background()
	s := deliver.Server{Name: "mx.partner.example", IP: netip.MustParseAddr("192.0.2.1"), Port: 25}
	b.ReportAllocs()
	for b.Loop() {
		d, _ := p.Domain(ctx, "partner.example", true)
		d.Host(ctx, s)
	}
}
