package spf

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/authres"

	"postern/internal/dnstest"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestCheck(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{
		"example.org TXT":           {"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all exp=why.example.org"},
		"why.example.org TXT":       {"%{i} may not send for %{d}"},
		"helo.example.org TXT":      {"v=spf1 a -all"},
		"helo.example.org A":        {"192.0.2.7"},
		"soft.example.org TXT":      {"v=spf1 ~all"},
		"broken.example.org TXT":    {"v=spf1 ip4:192.0.2.1 foo:bar -all"},
		"loop.example.org TXT":      {"v=spf1 include:loop.example.org -all"},
		"void.example.org TXT":      {"v=spf1 a:n1.example.org a:n2.example.org a:n3.example.org -all"},
		"down.example.org SERVFAIL": nil,
	})
	res := srv.Resolver()
	tests := []struct {
		name, ip, helo, sender string
		want, domain, identity string
		exp                    string
	}{
		{"pass", "192.0.2.1", "mx.example.net", "a@example.org", Pass, "example.org", IdentityMailFrom, ""},
		{"pass v6", "2001:db8::5", "mx.example.net", "a@example.org", Pass, "example.org", IdentityMailFrom, ""},
		{"mapped v4", "::ffff:192.0.2.1", "mx.example.net", "a@example.org", Pass, "example.org", IdentityMailFrom, ""},
		{"fail with exp", "198.51.100.1", "mx.example.net", "a@example.org", Fail, "example.org", IdentityMailFrom,
			"198.51.100.1 may not send for example.org"},
		{"softfail", "198.51.100.1", "x", "a@soft.example.org", SoftFail, "soft.example.org", IdentityMailFrom, ""},
		{"no record", "198.51.100.1", "x", "a@nothing.example.org", None, "nothing.example.org", IdentityMailFrom, ""},
		{"null sender uses helo", "192.0.2.7", "helo.example.org", "", Pass, "helo.example.org", IdentityHelo, ""},
		{"null sender helo fails", "192.0.2.8", "helo.example.org", "", Fail, "helo.example.org", IdentityHelo, ""},
		{"syntax error after match", "192.0.2.1", "x", "a@broken.example.org", PermError, "broken.example.org", IdentityMailFrom, ""},
		{"include loop hits limit", "192.0.2.1", "x", "a@loop.example.org", PermError, "loop.example.org", IdentityMailFrom, ""},
		{"void lookups over 2", "192.0.2.1", "x", "a@void.example.org", PermError, "void.example.org", IdentityMailFrom, ""},
		{"servfail", "192.0.2.1", "x", "a@down.example.org", TempError, "down.example.org", IdentityMailFrom, ""},
		{"single label", "192.0.2.1", "x", "a@localhost", None, "localhost", IdentityMailFrom, ""},
		{"address literal helo", "192.0.2.1", "[192.0.2.1]", "", None, "[192.0.2.1]", IdentityHelo, ""},
		{"no local part", "192.0.2.1", "x", "@example.org", Pass, "example.org", IdentityMailFrom, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(context.Background(), res, discard(), netip.MustParseAddr(tc.ip), tc.helo, tc.sender)
			if got.Result != tc.want || got.Domain != tc.domain || got.Identity != tc.identity || got.Explanation != tc.exp {
				t.Errorf("got %s %s %s %q (err %v), want %s %s %s %q", got.Result, got.Domain, got.Identity,
					got.Explanation, got.Err, tc.want, tc.domain, tc.identity, tc.exp)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	r := Result{Result: Pass, Domain: "example.com", Identity: IdentityMailFrom, Sender: "myname@example.com",
		Helo: "foo.example.com", IP: netip.MustParseAddr("192.0.2.1")}
	got := r.ReceivedSPF("mybox.example.org")
	want := "Received-SPF: pass (mybox.example.org: domain of myname@example.com designates 192.0.2.1 as permitted sender)" +
		"\r\n\tclient-ip=192.0.2.1; envelope-from=\"myname@example.com\";" +
		"\r\n\thelo=foo.example.com; receiver=mybox.example.org; identity=mailfrom;"
	if got != want {
		t.Errorf("Received-SPF:\n got %s\nwant %s", got, want)
	}
	ar := authres.Format("mybox.example.org", []authres.Result{r.AuthResult()})
	if ar != "mybox.example.org; spf=pass smtp.mailfrom=myname@example.com" {
		t.Errorf("Authentication-Results: %s", ar)
	}

	// Hostile peer-supplied text stays inside its quoting.
	h := Result{Result: Fail, Domain: "x.example", Identity: IdentityHelo, Sender: "postmaster@x.example",
		Helo: "evil\r\nX-Injected: (1) \"q\"", IP: netip.MustParseAddr("2001:db8::1")}
	got = h.ReceivedSPF("mx.example.org")
	// Only folding (CRLF + tab) may break lines; the peer's CR LF are gone.
	if strings.ContainsAny(strings.ReplaceAll(got, "\r\n\t", ""), "\r\n") || !strings.Contains(got, `client-ip="2001:db8::1";`) ||
		!strings.Contains(got, `helo="evilX-Injected: (1) \"q\"";`) {
		t.Errorf("unsafe header: %s", got)
	}
	ar = authres.Format("mx.example.org", []authres.Result{h.AuthResult()})
	if strings.ContainsAny(ar, "\r\n") || !strings.Contains(ar, "spf=fail smtp.helo=") {
		t.Errorf("Authentication-Results: %s", ar)
	}
}

func TestParseRecord(t *testing.T) {
	tests := []struct {
		rec string
		ok  bool
	}{
		{"v=spf1", true},
		{"v=spf1 -all", true},
		{"V=SPF1 +A MX/24 -ALL", true},
		{"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ~all", true},
		{"v=spf1 a:%{d}.example.com//64 exists:%{ir}.%{l1r+-}._spf.%{d}", true},
		{"v=spf1 redirect=_spf.example.com", true},
		{"v=spf1 exp=%{d}", true},
		{"v=spf1 foo=bar%%baz", true},
		{"v=spf1 include:example.com.", true},
		{"v=spf1 a:1-2.example", true},
		{"v=spf10", false},
		{"v=spf1 -all foo", false},
		{"v=spf1 ip4:192.0.2.0/33", false},
		{"v=spf1 ip4:192.0.2.0/024", false},
		{"v=spf1 ip6:192.0.2.1", false},
		{"v=spf1 a:example.123", false},
		{"v=spf1 a:example", false},
		{"v=spf1 a:example.-com", false},
		{"v=spf1 include:", false},
		{"v=spf1 redirect=a.example redirect=b.example", false},
		{"v=spf1 exp=a.example exp=b.example", false},
		{"v=spf1 a:%{c}.example.com", false},
		{"v=spf1 a:%{d0}.example.com", false},
		{"v=spf1 a:%{x}.example.com", false},
		{"v=spf1 a:%{d", false},
		{"v=spf1 1foo=bar", false},
		{"v=spf1 =bar", false},
		{"v=spf1 ptr/24", false},
		{"v=spf1 all:foo", false},
		{"v=spf1 a:\xef\xbb\xbfgarbage.example.net -all", false},
		{"v=spf1 ip4:1.2.3.4\t-all", false},
	}
	for _, tc := range tests {
		_, err := ParseRecord(tc.rec)
		if (err == nil) != tc.ok {
			t.Errorf("ParseRecord(%q) = %v, want ok=%v", tc.rec, err, tc.ok)
		}
	}
}

func TestMacroExpand(t *testing.T) {
	env := &macroEnv{ip: netip.MustParseAddr("192.0.2.3"), sender: "strong-bad@email.example.com",
		helo: "mx.example.org", domain: "email.example.com", receiver: "rx.example.net"}
	// The examples of RFC 7208 7.4.
	tests := map[string]string{
		"%{s}":                              "strong-bad@email.example.com",
		"%{o}":                              "email.example.com",
		"%{d}":                              "email.example.com",
		"%{d4}":                             "email.example.com",
		"%{d3}":                             "email.example.com",
		"%{d2}":                             "example.com",
		"%{d1}":                             "com",
		"%{dr}":                             "com.example.email",
		"%{d2r}":                            "example.email",
		"%{l}":                              "strong-bad",
		"%{l-}":                             "strong.bad",
		"%{lr}":                             "strong-bad",
		"%{lr-}":                            "bad.strong",
		"%{l1r-}":                           "strong",
		"%{ir}.%{v}._spf.%{d2}":             "3.2.0.192.in-addr._spf.example.com",
		"%{lr-}.lp._spf.%{d2}":              "bad.strong.lp._spf.example.com",
		"%{d2}.trusted-domains.example.net": "example.com.trusted-domains.example.net",
		"%%%_%-":                            "% %20",
		"%{L}":                              "strong-bad",
		"%{r}":                              "rx.example.net",
	}
	for in, want := range tests {
		got, err := env.expand(in, true)
		if err != nil || got != want {
			t.Errorf("expand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	env.ip = netip.MustParseAddr("2001:db8::cb01")
	got, _ := env.expand("%{ir}.%{v}._spf.%{d2}", false)
	if want := "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"; got != want {
		t.Errorf("IPv6 %%{ir}: %q, want %q", got, want)
	}
	if _, err := env.expand("%{t}", false); err == nil {
		t.Error("%{t} outside exp should fail")
	}
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{"v=spf1 -all", "v=spf1 a:%{d}.x.example//64 ~all", "v=spf1 redirect=%{o}",
		"v=spf1 ip6:::1/128 exists:%{ir}.%{l1r+-}._spf.%{d}", "v=spf1 foo=%{h}",
		"v=spf1 a mx/24//64 include:x.example ~all", "v=spf1 exists:%{ir}.%{v}._spf.%{d2} redirect=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rec, err := ParseRecord(s)
		if err == nil && rec == nil {
			t.Fatal("nil record without error")
		}
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Msg == "" {
				t.Fatalf("error %v is not a SyntaxError with a message", err)
			}
			return
		}
		rec.All()
		for _, term := range rec.Terms {
			// What the audit's walk looks up must be a valid domain-spec.
			if term.Domain != "" && checkDomainSpec(term.Domain, false) != nil {
				t.Fatalf("term %+v: invalid domain", term)
			}
			term.NeedsLookup()
		}
	})
}

func FuzzMacroExpand(f *testing.F) {
	for _, s := range []string{"%{ir}.%{v}._spf.%{d2}", "%{l1r-}", "%%%_%-", "%{S}x%{T}", "%{d999999999}"} {
		f.Add(s)
	}
	env := &macroEnv{ip: netip.MustParseAddr("2001:db8::1"), sender: "a-b@c.example", helo: "h", domain: "c.example"}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := env.expand(s, true)
		if _, serr := scanMacroString(s, true); serr == nil && err != nil && !strings.ContainsAny(s, " ") {
			t.Fatalf("syntax ok but expand failed: %v", err)
		}
		_ = out
	})
}
