package dnsrecords

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"postern/internal/dmarc"
)

// fakeResolver answers TXT and MX lookups from maps; a name in fail
// fails with that error, a name in neither map does not exist.
type fakeResolver struct {
	txt  map[string][]string
	mx   map[string][]*net.MX
	fail map[string]error
}

func (r fakeResolver) lookup(name string) error {
	if err := r.fail[name]; err != nil {
		return err
	}
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (r fakeResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if v, ok := r.txt[name]; ok {
		return v, nil
	}
	return nil, r.lookup(name)
}

func (r fakeResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	if v, ok := r.mx[name]; ok {
		return v, nil
	}
	return nil, r.lookup(name)
}

func (fakeResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	return nil, errors.New("not used")
}
func (fakeResolver) LookupHost(context.Context, string) ([]string, error) {
	return nil, errors.New("not used")
}
func (fakeResolver) LookupAddr(context.Context, string) ([]string, error) {
	return nil, errors.New("not used")
}

// TestCompareOne checks each kind of record against DNS answers, one
// case per verdict compareOne can give.
func TestCompareOne(t *testing.T) {
	// An Ed25519 public key (RFC 8463 A.2).
	const key = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
	spf := Record{Purpose: "SPF", Name: "example.org", Type: "TXT", Value: "v=spf1 mx -all"}
	mx := Record{Purpose: "MX", Name: "example.org", Type: "MX", Value: "10 mx1.example.org."}
	dkim := Record{Purpose: "DKIM", Name: "s._domainkey.example.org", Type: "TXT", Value: "v=DKIM1; k=ed25519; p=" + key}
	dmarcRec := Record{Purpose: "DMARC", Name: "_dmarc.example.org", Type: "TXT", Value: "v=DMARC1; p=none; rua=mailto:dmarc-reports@example.org"}
	sts := Record{Purpose: "MTA-STS", Name: "_mta-sts.example.org", Type: "TXT", Value: "v=STSv1; id="}
	tlsrpt := Record{Purpose: "TLSRPT", Name: "_smtp._tls.example.org", Type: "TXT", Value: "v=TLSRPTv1; rua=mailto:tls-reports@example.org"}
	servfail := errors.New("server failure")
	_, dmarcErr := dmarc.ParseRecord("v=DMARC1; p=bogus")

	for _, c := range []struct {
		name    string
		want    Record
		txt     []string  // TXT records at want.Name; nil: none
		mx      []*net.MX // MX records at want.Name; nil: none
		fail    error     // the lookup fails
		bad     bool      // a mismatch is reported
		problem string    // its problem
		found   []string  // the records it found
	}{
		{name: "policy file not checked", want: Record{Purpose: "MTA-STS", Name: "https://mta-sts.example.org/.well-known/mta-sts.txt", Type: "FILE", Value: "version: STSv1"}},
		{name: "other type not checked", want: Record{Purpose: "X", Name: "example.org", Type: "CNAME", Value: "x"}},

		{name: "MX points to the host", want: mx, mx: []*net.MX{{Host: "backup.example.org.", Pref: 20}, {Host: "MX1.Example.ORG.", Pref: 10}},
			found: []string{"20 backup.example.org.", "10 mx1.example.org."}},
		{name: "MX elsewhere", want: mx, mx: []*net.MX{{Host: "old-mx.example.org.", Pref: 10}},
			bad: true, problem: "no MX record points to mx1.example.org", found: []string{"10 old-mx.example.org."}},
		{name: "MX missing", want: mx, bad: true, problem: "no MX record points to mx1.example.org"},
		{name: "MX lookup fails", want: mx, fail: servfail, bad: true, problem: "lookup failed: server failure"},

		{name: "nothing to compare", want: Record{Purpose: "DKIM", Name: "example.org", Type: "TXT", Note: "run postern dkim keygen"},
			bad: true, problem: "nothing to compare: run postern dkim keygen"},
		{name: "TXT lookup fails", want: spf, fail: servfail, bad: true, problem: "lookup failed: server failure"},
		{name: "TXT missing", want: spf, bad: true, problem: "missing"},
		{name: "only other TXT records", want: spf, txt: []string{"google-site-verification=abc", "v=spf10 mx"},
			bad: true, problem: "missing"},

		{name: "SPF same but for case and spaces", want: spf, txt: []string{"V=SPF1  MX   -all", "other"}, found: []string{"V=SPF1  MX   -all"}},
		{name: "SPF differs", want: spf, txt: []string{"v=spf1 a -all"},
			bad: true, problem: `differs from "v=spf1 mx -all"`, found: []string{"v=spf1 a -all"}},
		{name: "SPF twice", want: spf, txt: []string{"v=spf1 mx -all", "v=spf1 a -all"},
			bad: true, problem: "several records; receivers will ignore them all", found: []string{"v=spf1 mx -all", "v=spf1 a -all"}},

		{name: "TLSRPT same but for spacing", want: tlsrpt, txt: []string{"v=TLSRPTv1;rua=mailto:tls-reports@example.org"},
			found: []string{"v=TLSRPTv1;rua=mailto:tls-reports@example.org"}},
		{name: "TLSRPT differs", want: tlsrpt, txt: []string{"v=TLSRPTv1; rua=mailto:other@example.org"},
			bad: true, problem: `differs from "v=TLSRPTv1; rua=mailto:tls-reports@example.org"`, found: []string{"v=TLSRPTv1; rua=mailto:other@example.org"}},

		{name: "DKIM key among several", want: dkim, txt: []string{"v=DKIM1; p=OTHER", "v=DKIM1; k=ed25519; p=" + key[:10] + " " + key[10:]},
			found: []string{"v=DKIM1; p=OTHER", "v=DKIM1; k=ed25519; p=" + key[:10] + " " + key[10:]}},
		{name: "DKIM other key", want: dkim, txt: []string{"v=DKIM1; p=", "v=DKIM1; p=OTHER"},
			bad: true, problem: "the published key is not the key on disk", found: []string{"v=DKIM1; p=", "v=DKIM1; p=OTHER"}},
		{name: "DKIM same p= but k=rsa", want: dkim, txt: []string{"v=DKIM1; k=rsa; p=" + key},
			bad: true, problem: "the published key is not the key on disk", found: []string{"v=DKIM1; k=rsa; p=" + key}},
		{name: "DKIM revoked", want: dkim, txt: []string{"v=DKIM1; p=OTHER", "v=DKIM1; p="},
			bad: true, problem: "the published key is empty (revoked)", found: []string{"v=DKIM1; p=OTHER", "v=DKIM1; p="}},

		{name: "DMARC stricter, more reports", want: dmarcRec, txt: []string{"v=DMARC1; p=reject; rua=mailto:x@example.net,mailto:DMARC-Reports@example.org"},
			found: []string{"v=DMARC1; p=reject; rua=mailto:x@example.net,mailto:DMARC-Reports@example.org"}},
		{name: "DMARC without our reports", want: dmarcRec, txt: []string{"v=DMARC1; p=none; rua=mailto:x@example.net"},
			bad: true, problem: "rua does not include mailto:dmarc-reports@example.org; postern's reports would not reach you",
			found: []string{"v=DMARC1; p=none; rua=mailto:x@example.net"}},
		{name: "DMARC invalid", want: dmarcRec, txt: []string{"v=DMARC1; p=bogus"},
			bad: true, problem: "invalid: " + dmarcErr.Error(), found: []string{"v=DMARC1; p=bogus"}},
		{name: "DMARC twice", want: dmarcRec, txt: []string{"v=DMARC1; p=none", "v=DMARC1; p=reject"},
			bad: true, problem: "several records; receivers will ignore them all", found: []string{"v=DMARC1; p=none", "v=DMARC1; p=reject"}},

		{name: "MTA-STS any id", want: sts, txt: []string{"v=STSv1; id=20260301"}, found: []string{"v=STSv1; id=20260301"}},
		{name: "MTA-STS without id", want: sts, txt: []string{"v=STSv1;"}, bad: true, problem: "no id tag", found: []string{"v=STSv1;"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := fakeResolver{txt: map[string][]string{}, mx: map[string][]*net.MX{}, fail: map[string]error{}}
			if c.txt != nil {
				r.txt[c.want.Name] = c.txt
			}
			if c.mx != nil {
				r.mx[c.want.Name] = c.mx
			}
			if c.fail != nil {
				r.fail[c.want.Name] = c.fail
			}
			m, bad := compareOne(context.Background(), r, c.want)
			if bad != c.bad || m.Problem != c.problem || m.Want != c.want {
				t.Errorf("compareOne = %+v, %v; want problem %q, %v", m, bad, c.problem, c.bad)
			}
			if strings.Join(m.Found, "|") != strings.Join(c.found, "|") {
				t.Errorf("found %q, want %q", m.Found, c.found)
			}
		})
	}
}
