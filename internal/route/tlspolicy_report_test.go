package route

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"

	"postern/internal/deliver"
	"postern/internal/mtasts"
	"postern/internal/tlsrpt"
)

// sessions keeps what TLSPolicies counts.
type sessions struct {
	mu  sync.Mutex
	got []tlsrpt.Session
}

func (s *sessions) Record(x tlsrpt.Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, x)
}

func (s *sessions) take() []tlsrpt.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.got
	s.got = nil
	return out
}

// fetchFailed answers every lookup with a published policy that could
// not be fetched, as the cache does.
type fetchFailed struct{ err error }

func (f fetchFailed) Lookup(_ context.Context, domain string) (mtasts.Decision, error) {
	return mtasts.Decision{Reason: "MTA-STS record id 1 but no policy: " + f.err.Error(), Fetch: f.err}, nil
}

// Sessions are counted under the recipient domain's policy: the TLS
// outcome delivery reports, or at once a failure of the policy itself.
func TestTLSPoliciesReportOutcomes(t *testing.T) {
	enforce := &mtasts.Policy{Mode: mtasts.Enforce, MX: []string{"mx.sts.example", "*.pool.example"}, MaxAge: 86400}
	testing_ := &mtasts.Policy{Mode: mtasts.Testing, MX: []string{"mx.testing.example"}, MaxAge: 604800}
	rec := &sessions{}
	pol := &TLSPolicies{Default: deliver.PolicyMay, Reports: rec,
		Destinations: map[string]deliver.TLSPolicy{"routed.example": deliver.PolicyRequired},
		STS:          stsTable{"sts.example": enforce, "testing.example": testing_, "routed.example": enforce}}
	ip := netip.MustParseAddr("192.0.2.1")
	stsPol := tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: "sts.example",
		String: []string{"version: STSv1", "mode: enforce", "mx: mx.sts.example", "mx: *.pool.example", "max_age: 86400"},
		MXHost: []string{"mx.sts.example", "*.pool.example"}}

	// Enforced and listed: delivery's outcomes are counted.
	c := lookupTLS(t, pol, "sts.example", "a.pool.example", ip)
	c.Report(deliver.TLSOutcome{Host: "a.pool.example", IP: ip})
	c.Report(deliver.TLSOutcome{Host: "a.pool.example", IP: ip, Result: tlsrpt.ResultCertificateExpired, Detail: "x509: expired"})
	got := rec.take()
	if len(got) != 2 || !reflect.DeepEqual(got[0].Policy, stsPol) || got[0].Result != "" || got[0].MXHost != "a.pool.example" ||
		got[1].Result != tlsrpt.ResultCertificateExpired || got[1].Reason != "x509: expired" || got[1].ReceivingIP != ip {
		t.Fatalf("enforced: %+v", got)
	}

	// Enforced, not listed: the server is not used, a failure at once.
	d, _ := pol.Domain(context.Background(), "sts.example", true)
	if _, err := d.Host(context.Background(), deliver.Server{Name: "mx.other.example", IP: ip}); err == nil {
		t.Fatal("an unlisted MX host was allowed")
	}
	got = rec.take()
	if len(got) != 1 || got[0].Result != tlsrpt.ResultValidationFailure || got[0].Info != mtasts.PolicyURL("sts.example") ||
		!strings.Contains(got[0].Reason, "mx.other.example is not among the mx patterns") {
		t.Fatalf("unlisted: %+v", got)
	}

	// Testing, not listed: used, and counted as a failure whatever TLS gives.
	c = lookupTLS(t, pol, "testing.example", "mx.elsewhere.example", ip)
	c.Report(deliver.TLSOutcome{Host: "mx.elsewhere.example", IP: ip})
	c = lookupTLS(t, pol, "testing.example", "mx.testing.example", ip)
	c.Report(deliver.TLSOutcome{Host: "mx.testing.example", IP: ip})
	got = rec.take()
	if len(got) != 2 || got[0].Result != tlsrpt.ResultValidationFailure || got[1].Result != "" || got[1].Policy.String[1] != "mode: testing" {
		t.Fatalf("testing: %+v", got)
	}

	// No policy.
	c = lookupTLS(t, pol, "plain.example", "mx.plain.example", ip)
	c.Report(deliver.TLSOutcome{Host: "mx.plain.example", IP: ip, Result: tlsrpt.ResultSTARTTLSNotSupported})
	got = rec.take()
	if len(got) != 1 || !reflect.DeepEqual(got[0].Policy, tlsrpt.Policy{Type: tlsrpt.PolicyNoPolicyFound, Domain: "plain.example"}) {
		t.Fatalf("no policy: %+v", got)
	}
}

// What is not the domain's own policy at work is not counted: the
// operator's tls_destination for the domain, its routes, a message that
// sets the policies aside, no Reports at all.
func TestTLSPoliciesReportSkips(t *testing.T) {
	rec := &sessions{}
	enforce := &mtasts.Policy{Mode: mtasts.Enforce, MX: []string{"mx.sts.example"}, MaxAge: 86400}
	pol := &TLSPolicies{Default: deliver.PolicyMay, Reports: rec, STS: stsTable{"sts.example": enforce},
		Destinations: map[string]deliver.TLSPolicy{"routed.example": deliver.PolicyRequired}}
	ip := netip.MustParseAddr("192.0.2.1")
	if c := lookupTLS(t, pol, "routed.example", "mx.routed.example", ip); c.Report != nil {
		t.Error("tls_destination for the domain counted")
	}
	d, _ := pol.Domain(context.Background(), "sts.example", false)
	if c, _ := d.Host(context.Background(), deliver.Server{Name: "mx.sts.example", IP: ip}); c.Report != nil {
		t.Error("an operator's route counted")
	}
	d, _ = pol.Domain(context.Background(), "sts.example", true)
	if c, _ := d.Host(context.Background(), deliver.Server{Name: "mx.sts.example", IP: ip, IgnorePublished: true}); c.Report != nil {
		t.Error("TLS-Required: No counted")
	}
	pol.Reports = nil
	if c := lookupTLS(t, pol, "sts.example", "mx.sts.example", ip); c.Report != nil {
		t.Error("counted without Reports")
	}
	if got := rec.take(); len(got) != 0 {
		t.Errorf("counted: %+v", got)
	}
}

// A published policy that could not be fetched fails every session with
// the domain, by kind of failure (RFC 8460 4.3.2.2).
func TestTLSPoliciesReportFetchErrors(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.1")
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&tls.CertificateVerificationError{Err: errors.New("unknown authority")}, tlsrpt.ResultSTSWebPKIInvalid},
		{fmt.Errorf("policy %s: %w", mtasts.PolicyURL("f.example"), errors.New("no mx line")), tlsrpt.ResultSTSPolicyInvalid},
		{errors.New("HTTP 404 Not Found"), tlsrpt.ResultSTSPolicyFetch},
	} {
		rec := &sessions{}
		pol := &TLSPolicies{Default: deliver.PolicyMay, Reports: rec, STS: fetchFailed{tt.err}}
		c := lookupTLS(t, pol, "f.example", "mx.f.example", ip)
		if c.Report != nil {
			t.Errorf("%v: the TLS outcome is counted too", tt.err)
		}
		got := rec.take()
		if len(got) != 1 || got[0].Result != tt.want || got[0].Policy.Type != tlsrpt.PolicySTS || got[0].Policy.String != nil ||
			got[0].Reason != tt.err.Error() {
			t.Errorf("%v: %+v, want %s", tt.err, got, tt.want)
		}
	}
}
