package dmarc

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"postern/internal/dnstest"
)

func testLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestEvaluate(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{
		"_dmarc.example.com TXT":           {"v=DMARC1; p=reject; sp=quarantine; rua=mailto:dmarc@example.com"},
		"_dmarc.strict.org TXT":            {"v=DMARC1; p=reject; adkim=s; aspf=s"},
		"_dmarc.nosp.net TXT":              {"v=DMARC1; p=quarantine"},
		"_dmarc.own.nosp.net TXT":          {"v=DMARC1; p=none"},
		"_dmarc.half.org TXT":              {"v=DMARC1; p=reject; pct=50"},
		"_dmarc.zero.org TXT":              {"v=DMARC1; p=quarantine; pct=0"},
		"_dmarc.multi.org TXT":             {"v=DMARC1; p=reject", "v=DMARC1; p=none"},
		"_dmarc.mixed.org TXT":             {"some other text", "v=DMARC1; p=reject"},
		"_dmarc.badp.org TXT":              {"v=DMARC1; p=maybe"},
		"_dmarc.badprua.org TXT":           {"v=DMARC1; p=maybe; rua=mailto:r@badprua.org"},
		"_dmarc.notdmarc.org TXT":          {"v=DMARC2; p=reject"},
		"_dmarc.broken.org SERVFAIL":       {""},
		"_dmarc.sub.fallfail.org TXT":      {"v=spf1 -all"},
		"_dmarc.fallfail.org SERVFAIL":     {""},
		"_dmarc.example.co.uk TXT":         {"v=DMARC1; p=reject"},
		"_dmarc.xn--bcher-kva.example TXT": {"v=DMARC1; p=reject"},
		"_dmarc.fwd.org TXT":               {"v=DMARC1; p=reject"},
	})
	r := srv.Resolver()
	ip := netip.MustParseAddr("192.0.2.10")
	pass := func(d string) []DKIMResult { return []DKIMResult{{Domain: d, Selector: "s1", Result: "pass"}} }

	type want struct {
		value       Value
		policy      Policy
		disposition Policy
		policyDom   string
		spfAligned  bool
		dkimAligned bool
		reason      string
	}
	for _, c := range []struct {
		name string
		in   Input
		want want
	}{
		{"spf aligned pass", Input{FromDomain: "example.com", SPFResult: "pass", SPFDomain: "example.com"},
			want{value: ValuePass, policy: PolicyReject, disposition: PolicyNone, policyDom: "example.com", spfAligned: true}},
		{"dkim aligned pass", Input{FromDomain: "example.com", SPFResult: "fail", SPFDomain: "example.com", DKIM: pass("example.com")},
			want{value: ValuePass, policy: PolicyReject, disposition: PolicyNone, policyDom: "example.com", dkimAligned: true}},
		{"relaxed: subdomain spf aligns", Input{FromDomain: "example.com", SPFResult: "pass", SPFDomain: "bounce.example.com"},
			want{value: ValuePass, policy: PolicyReject, disposition: PolicyNone, policyDom: "example.com", spfAligned: true}},
		{"relaxed: subdomain dkim aligns", Input{FromDomain: "example.com", SPFResult: "none", DKIM: pass("mail.example.com")},
			want{value: ValuePass, policy: PolicyReject, disposition: PolicyNone, policyDom: "example.com", dkimAligned: true}},
		{"unaligned pass is a fail", Input{FromDomain: "example.com", SPFResult: "pass", SPFDomain: "example.net", DKIM: pass("example.net")},
			want{value: ValueFail, policy: PolicyReject, disposition: PolicyReject, policyDom: "example.com"}},
		{"dkim fail for aligned domain", Input{FromDomain: "example.com", SPFResult: "softfail", SPFDomain: "example.com",
			DKIM: []DKIMResult{{Domain: "example.com", Result: "fail"}}},
			want{value: ValueFail, policy: PolicyReject, disposition: PolicyReject, policyDom: "example.com"}},
		{"subdomain gets sp via org domain", Input{FromDomain: "news.example.com", SPFResult: "fail", SPFDomain: "news.example.com"},
			want{value: ValueFail, policy: PolicyQuarantine, disposition: PolicyQuarantine, policyDom: "example.com"}},
		{"subdomain without sp gets p", Input{FromDomain: "a.nosp.net", SPFResult: "fail", SPFDomain: "a.nosp.net"},
			want{value: ValueFail, policy: PolicyQuarantine, disposition: PolicyQuarantine, policyDom: "nosp.net"}},
		{"subdomain with its own record", Input{FromDomain: "own.nosp.net", SPFResult: "fail", SPFDomain: "own.nosp.net"},
			want{value: ValueFail, policy: PolicyNone, disposition: PolicyNone, policyDom: "own.nosp.net"}},
		{"strict: subdomain spf does not align", Input{FromDomain: "strict.org", SPFResult: "pass", SPFDomain: "mail.strict.org"},
			want{value: ValueFail, policy: PolicyReject, disposition: PolicyReject, policyDom: "strict.org"}},
		{"strict: subdomain dkim does not align", Input{FromDomain: "strict.org", DKIM: pass("mail.strict.org")},
			want{value: ValueFail, policy: PolicyReject, disposition: PolicyReject, policyDom: "strict.org"}},
		{"strict: exact dkim aligns", Input{FromDomain: "strict.org", DKIM: pass("STRICT.org")},
			want{value: ValuePass, policy: PolicyReject, disposition: PolicyNone, policyDom: "strict.org", dkimAligned: true}},
		{"org domain via PSL two-level suffix", Input{FromDomain: "shop.example.co.uk", SPFResult: "pass", SPFDomain: "example.co.uk"},
			want{value: ValuePass, policy: PolicyReject, disposition: PolicyNone, policyDom: "example.co.uk", spfAligned: true}},
		{"pct=0 downgrades quarantine to none", Input{FromDomain: "zero.org", SPFResult: "fail", SPFDomain: "zero.org"},
			want{value: ValueFail, policy: PolicyQuarantine, disposition: PolicyNone, policyDom: "zero.org", reason: "sampled_out"}},
		{"no record", Input{FromDomain: "norecord.org", SPFResult: "fail", SPFDomain: "norecord.org"},
			want{value: ValueNone, disposition: PolicyNone}},
		{"non-DMARC TXT only is no record", Input{FromDomain: "notdmarc.org", SPFResult: "fail"},
			want{value: ValueNone, disposition: PolicyNone}},
		{"multiple records: none", Input{FromDomain: "multi.org", SPFResult: "fail"},
			want{value: ValueNone, disposition: PolicyNone}},
		{"other TXT beside the record is ignored", Input{FromDomain: "mixed.org", SPFResult: "fail"},
			want{value: ValueFail, policy: PolicyReject, disposition: PolicyReject, policyDom: "mixed.org"}},
		{"invalid p without rua: permerror, nothing applied", Input{FromDomain: "badp.org", SPFResult: "fail"},
			want{value: ValuePermError, disposition: PolicyNone, policyDom: "badp.org"}},
		{"invalid p with rua: as p=none", Input{FromDomain: "badprua.org", SPFResult: "fail"},
			want{value: ValueFail, policy: PolicyNone, disposition: PolicyNone, policyDom: "badprua.org", reason: "other"}},
		{"servfail: temperror", Input{FromDomain: "broken.org", SPFResult: "pass", SPFDomain: "broken.org"},
			want{value: ValueTempError, disposition: PolicyNone}},
		{"servfail at org domain: temperror", Input{FromDomain: "sub.fallfail.org", SPFResult: "pass", SPFDomain: "sub.fallfail.org"},
			want{value: ValueTempError, disposition: PolicyNone}},
		{"trusted forwarder network", Input{FromDomain: "fwd.org", SPFResult: "fail", SourceIP: ip,
			Local: LocalPolicy{TrustedForwarders: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}},
			want{value: ValueFail, policy: PolicyReject, disposition: PolicyNone, policyDom: "fwd.org", reason: "trusted_forwarder"}},
		{"trusted forwarder host", Input{FromDomain: "fwd.org", SPFResult: "fail", SourceIP: ip, ClientHost: "out1.lists.example.net.",
			Local: LocalPolicy{TrustedHosts: []string{".lists.example.net"}}},
			want{value: ValueFail, policy: PolicyReject, disposition: PolicyNone, policyDom: "fwd.org", reason: "trusted_forwarder"}},
		{"untrusted client", Input{FromDomain: "fwd.org", SPFResult: "fail", SourceIP: netip.MustParseAddr("198.51.100.1"), ClientHost: "lists.example.net.evil",
			Local: LocalPolicy{TrustedForwarders: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, TrustedHosts: []string{".lists.example.net"}}},
			want{value: ValueFail, policy: PolicyReject, disposition: PolicyReject, policyDom: "fwd.org"}},
		{"no From domain", Input{FromDomain: ""}, want{value: ValueNone, disposition: PolicyNone}},
		{"international From domain, A-label DKIM", Input{FromDomain: "Bücher.example", DKIM: pass("xn--bcher-kva.example")},
			want{value: ValuePass, policy: PolicyReject, disposition: PolicyNone, policyDom: "xn--bcher-kva.example", dkimAligned: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := Evaluate(context.Background(), r, testLog(), c.in)
			got := want{res.Value, res.Policy, res.Disposition, res.PolicyDomain, res.SPFAligned, res.DKIMAligned, ""}
			if len(res.Reasons) > 0 {
				got.reason = res.Reasons[0].Type
			}
			if got != c.want {
				t.Errorf("got  %+v (err %v)\nwant %+v", got, res.Err, c.want)
			}
		})
	}
}

// TestEvaluatePct checks sampling with a seeded random source: with pct=50
// about half the failing messages get p=reject, the rest quarantine.
func TestEvaluatePct(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{"_dmarc.half.org TXT": {"v=DMARC1; p=reject; pct=50"}})
	r := srv.Resolver()
	rng := rand.New(rand.NewPCG(1, 2))
	count := map[Policy]int{}
	for i := 0; i < 200; i++ {
		res := Evaluate(context.Background(), r, testLog(), Input{FromDomain: "half.org", SPFResult: "fail",
			Local: LocalPolicy{Rand: rng}})
		count[res.Disposition]++
		if res.Disposition == PolicyQuarantine && (len(res.Reasons) != 1 || res.Reasons[0].Type != "sampled_out") {
			t.Fatalf("sampled-out message without reason: %+v", res)
		}
	}
	if count[PolicyReject]+count[PolicyQuarantine] != 200 || count[PolicyReject] < 70 || count[PolicyReject] > 130 {
		t.Errorf("pct=50 over 200 messages: %v", count)
	}
	// The same seed gives the same decisions.
	rng2 := rand.New(rand.NewPCG(1, 2))
	rng3 := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20; i++ {
		a := Evaluate(context.Background(), r, testLog(), Input{FromDomain: "half.org", SPFResult: "fail", Local: LocalPolicy{Rand: rng2}})
		b := Evaluate(context.Background(), r, testLog(), Input{FromDomain: "half.org", SPFResult: "fail", Local: LocalPolicy{Rand: rng3}})
		if a.Disposition != b.Disposition {
			t.Fatal("seeded sampling is not reproducible")
		}
	}
}

func TestAuthResultsClause(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{"_dmarc.example.com TXT": {"v=DMARC1; p=reject"}})
	res := Evaluate(context.Background(), srv.Resolver(), testLog(), Input{FromDomain: "example.com", SPFResult: "fail"})
	got := res.AuthResultsClause()
	if !strings.HasPrefix(got, "dmarc=fail ") || !strings.Contains(got, "header.from=example.com") || !strings.Contains(got, "p=reject") {
		t.Errorf("clause = %q", got)
	}
	res = Evaluate(context.Background(), srv.Resolver(), testLog(), Input{FromDomain: "example.com", DKIM: []DKIMResult{{Domain: "example.com", Result: "pass"}}})
	if got := res.AuthResultsClause(); !strings.HasPrefix(got, "dmarc=pass ") {
		t.Errorf("clause = %q", got)
	}
}

func TestAction(t *testing.T) {
	fail := func(d Policy) Result { return Result{Value: ValueFail, Disposition: d, Policy: d} }
	for _, c := range []struct {
		r    Result
		opt  EnforceOptions
		want Action
	}{
		{fail(PolicyReject), EnforceOptions{Enforce: true}, ActionReject},
		{fail(PolicyReject), EnforceOptions{Enforce: false}, ActionAccept},
		{fail(PolicyQuarantine), EnforceOptions{Enforce: true, Quarantine: "junk"}, ActionJunk},
		{fail(PolicyQuarantine), EnforceOptions{Enforce: true}, ActionJunk},
		{fail(PolicyQuarantine), EnforceOptions{Enforce: true, Quarantine: "hold"}, ActionHold},
		{fail(PolicyNone), EnforceOptions{Enforce: true}, ActionAccept},
		{Result{Value: ValuePass, Policy: PolicyReject, Disposition: PolicyNone}, EnforceOptions{Enforce: true}, ActionAccept},
		{Result{Value: ValueTempError, Disposition: PolicyNone}, EnforceOptions{Enforce: true}, ActionAccept},
	} {
		if got := c.r.Action(c.opt); got != c.want {
			t.Errorf("%+v with %+v: %v, want %v", c.r, c.opt, got, c.want)
		}
	}
	rep := fail(PolicyReject).RejectReply()
	if rep.Code != 550 || rep.Enhanced != "5.7.1" {
		t.Errorf("reject reply %v", rep)
	}
}

func TestParseTrusted(t *testing.T) {
	nets, hosts, err := ParseTrusted([]string{"192.0.2.0/24", "2001:db8::1", "Lists.Example.NET.", ".fwd.example"})
	if err != nil || len(nets) != 2 || len(hosts) != 2 || hosts[0] != "lists.example.net" || nets[1].Bits() != 128 {
		t.Fatalf("%v %v %v", nets, hosts, err)
	}
	if _, _, err := ParseTrusted([]string{"bad host/x"}); err == nil {
		t.Fatal("bad entry accepted")
	}
}
