package smtp

import (
	"math"
	"strings"
	"testing"
)

type pathCase struct {
	arg    string
	opt    ParseOptions
	local  string
	domain string
	code   int    // 0: accepted
	enh    string // enhanced code expected on error
}

func TestParseRcpt(t *testing.T) {
	long := strings.Repeat("a", 64)
	cases := []pathCase{
		{arg: "TO:<user@example.com>", local: "user", domain: "example.com"},
		{arg: "to:<user@example.com>", local: "user", domain: "example.com"},
		{arg: "To: <user@example.com>", local: "user", domain: "example.com"},
		{arg: "TO:  <user@example.com>", code: 501, enh: "5.5.2"},
		{arg: "TO:user@example.com", code: 501, enh: "5.5.2"},
		{arg: "TO:<user@example.com", code: 501, enh: "5.5.2"},
		{arg: "TO <user@example.com>", code: 501, enh: "5.5.2"},
		{arg: "FROM:<user@example.com>", code: 501, enh: "5.5.2"},
		{arg: "TO:<user@example.com> ", local: "user", domain: "example.com"},
		{arg: "TO:<user@example.com>x", code: 501, enh: "5.5.2"},
		// Open-relay probe forms.
		{arg: "TO:<user%other@host.example>", local: "user%other", domain: "host.example"},
		{arg: "TO:<\"user@other\"@host.example>", local: "\"user@other\"", domain: "host.example"},
		{arg: "TO:<user@other@host.example>", code: 501, enh: "5.1.3"},
		{arg: "TO:<@a.example:user@b.example>", local: "user", domain: "b.example"},
		{arg: "TO:<@a.example,@c.example:user@b.example>", local: "user", domain: "b.example"},
		{arg: "TO:<@a.example,c.example:user@b.example>", code: 501, enh: "5.1.3"},
		{arg: "TO:<@a.example:>", code: 501, enh: "5.1.3"},
		{arg: "TO:<@a.example>", code: 501, enh: "5.1.3"},
		{arg: "TO:<@:user@b.example>", code: 501, enh: "5.1.3"},
		{arg: "TO:<other!user@host.example>", local: "other!user", domain: "host.example"},
		{arg: "TO:<user@[127.0.0.1]>", local: "user", domain: "[127.0.0.1]"},
		{arg: "TO:<user@[127.0.0.01]>", code: 501, enh: "5.1.3"},
		{arg: "TO:<user@[IPv6:::1]>", local: "user", domain: "[IPv6:::1]"},
		{arg: "TO:<user@[ipv6:2001:DB8:0:0::1]>", local: "user", domain: "[IPv6:2001:db8::1]"},
		{arg: "TO:<user@[IPv6:::ffff:127.0.0.1]>", code: 501, enh: "5.1.3"},
		{arg: "TO:<user@[IPv6:fe80::1%eth0]>", code: 501, enh: "5.1.3"},
		{arg: "TO:<user@[IPv6:127.0.0.1]>", code: 501, enh: "5.1.3"},
		{arg: "TO:<user@[::1]>", code: 501, enh: "5.1.3"},
		{arg: "TO:<user@[x-tag:foo]>", code: 501, enh: "5.1.3"},
		{arg: "TO:<user@[127.0.0.1]x>", code: 501, enh: "5.1.3"},
		{arg: "TO:<user@127.0.0.1>", code: 501, enh: "5.1.3"},
		{arg: "TO:<user@host.example.>", local: "user", domain: "host.example"},
		{arg: "TO:<user@host.example..>", code: 501, enh: "5.1.3"},
		{arg: "TO:<user@.host.example>", code: 501, enh: "5.1.3"},
		{arg: "TO:<USER@HOST.EXAMPLE>", local: "USER", domain: "host.example"},
		{arg: "TO:<user@bücher.example>", code: 553, enh: "5.6.7"},
		{arg: "TO:<user@bücher.example>", opt: ParseOptions{SMTPUTF8: true}, local: "user", domain: "xn--bcher-kva.example"},
		{arg: "TO:<user@xn--bcher-kva.example>", local: "user", domain: "xn--bcher-kva.example"},
		{arg: "TO:<user@xn--zz.example>", code: 501, enh: "5.1.3"},
		{arg: "TO:<jörg@example.com>", code: 553, enh: "5.6.7"},
		{arg: "TO:<jörg@example.com>", opt: ParseOptions{SMTPUTF8: true}, local: "jörg", domain: "example.com"},
		{arg: "TO:<j\xffrg@example.com>", opt: ParseOptions{SMTPUTF8: true}, code: 501, enh: "5.1.3"},
		{arg: "TO:<user@evil-example.com>", local: "user", domain: "evil-example.com"},
		{arg: "TO:<user@exa_mple.com>", code: 501, enh: "5.1.3"},
		{arg: "TO:<user@-example.com>", code: 501, enh: "5.1.3"},
		// Local-part syntax.
		{arg: "TO:<.user@example.com>", code: 501, enh: "5.1.3"},
		{arg: "TO:<user.@example.com>", code: 501, enh: "5.1.3"},
		{arg: "TO:<us..er@example.com>", code: 501, enh: "5.1.3"},
		{arg: "TO:<us er@example.com>", code: 501, enh: "5.1.3"},
		{arg: "TO:<us(er@example.com>", code: 501, enh: "5.1.3"},
		{arg: "TO:<\"a b\"@example.com>", local: "\"a b\"", domain: "example.com"},
		{arg: "TO:<\"a>b\"@example.com>", local: "\"a>b\"", domain: "example.com"},
		{arg: "TO:<\"a\\\"b\"@example.com>", local: "\"a\\\"b\"", domain: "example.com"},
		{arg: "TO:<\"a\\\\\"@example.com>", local: "\"a\\\\\"", domain: "example.com"},
		{arg: "TO:<\"\"@example.com>", local: "\"\"", domain: "example.com"},
		{arg: "TO:<\"ab@example.com>", code: 501, enh: "5.5.2"},
		{arg: "TO:<\"a\"b@example.com>", code: 501, enh: "5.1.3"},
		{arg: "TO:<\"a\tb\"@example.com>", code: 501, enh: "5.1.3"},
		{arg: "TO:<a\"b\"@example.com>", code: 501, enh: "5.1.3"},
		{arg: "TO:<@example.com>", code: 501, enh: "5.1.3"},
		{arg: "TO:<user@>", code: 501, enh: "5.1.3"},
		{arg: "TO:<user>", code: 501, enh: "5.1.3"},
		{arg: "TO:<" + long + "@example.com>", local: long, domain: "example.com"},
		{arg: "TO:<" + long + "a@example.com>", code: 501, enh: "5.1.3"},
		{arg: "TO:<a@" + strings.Repeat("b.", 124) + "example>", code: 501, enh: "5.1.3"},
		{arg: "TO:<user@a<b>", code: 501, enh: "5.5.2"},
		// Null and postmaster.
		{arg: "TO:<>", code: 501, enh: "5.1.3"},
		{arg: "TO:<postmaster>", local: "postmaster"},
		{arg: "TO:<PostMaster>", local: "postmaster"},
		{arg: "TO:<postmaster@example.com>", local: "postmaster", domain: "example.com"},
		{arg: "TO:<@a.example:postmaster>", code: 501, enh: "5.1.3"},
		// Parameters.
		{arg: "TO:<a@example.com> NOTIFY=NEVER", code: 555, enh: "5.5.4"},
		{arg: "TO:<a@example.com> NOTIFY=NEVER", opt: ParseOptions{DSN: true}, local: "a", domain: "example.com"},
		{arg: "TO:<a@example.com> SIZE=10", code: 555, enh: "5.5.4"},
		{arg: "TO:<a@example.com> FOO", code: 555, enh: "5.5.4"},
	}
	for _, c := range cases {
		p, _, r := ParseRcpt(c.arg, c.opt)
		checkPath(t, "RCPT", c, p, r)
	}
}

func TestParseMail(t *testing.T) {
	cases := []pathCase{
		{arg: "FROM:<user@example.com>", local: "user", domain: "example.com"},
		{arg: "from:<>", local: "", domain: ""},
		{arg: "FROM: <>", local: "", domain: ""},
		{arg: "FROM:<> SIZE=100", local: "", domain: ""},
		{arg: "FROM:<postmaster>", code: 501, enh: "5.1.7"},
		{arg: "FROM:<user@other@host.example>", code: 501, enh: "5.1.7"},
		{arg: "FROM:<@a.example:user@b.example>", local: "user", domain: "b.example"},
		{arg: "FROM:<user%other@host.example>", local: "user%other", domain: "host.example"},
		{arg: "FROM:<user@bücher.example>", code: 553, enh: "5.6.7"},
		// opt.SMTPUTF8 is for RCPT: MAIL needs its own parameter.
		{arg: "FROM:<user@bücher.example>", opt: ParseOptions{SMTPUTF8: true}, code: 553, enh: "5.6.7"},
		{arg: "FROM:<user@bücher.example> SMTPUTF8", local: "user", domain: "xn--bcher-kva.example"},
		{arg: "FROM:<jörg@bücher.example> smtputf8 BODY=8BITMIME", local: "jörg", domain: "xn--bcher-kva.example"},
		{arg: "FROM:<user@example.com> SMTPUTF8=yes", code: 501, enh: "5.5.4"},
		{arg: "FROM:<user@example.com>SIZE=1", code: 501, enh: "5.5.2"},
		{arg: "FROM:<user@example.com>  SIZE=1", code: 501, enh: "5.5.2"},
		{arg: "FROM:<user@example.com> SIZE=1  BODY=7BIT", code: 501, enh: "5.5.2"},
		{arg: "FROM:<user@example.com> SIZE=-1", code: 501, enh: "5.5.4"},
		{arg: "FROM:<user@example.com> SIZE=+1", code: 501, enh: "5.5.4"},
		{arg: "FROM:<user@example.com> SIZE=99999999999999999999", local: "user", domain: "example.com"},
		{arg: "FROM:<user@example.com> SIZE=999999999999999999999", code: 501, enh: "5.5.4"},
		{arg: "FROM:<user@example.com> SIZE=", code: 501, enh: "5.5.2"},
		{arg: "FROM:<user@example.com> SIZE", code: 501, enh: "5.5.4"},
		{arg: "FROM:<user@example.com> SIZE=1 size=2", code: 501, enh: "5.5.4"},
		{arg: "FROM:<user@example.com> BODY=binarymime", code: 555, enh: "5.5.4"},
		{arg: "FROM:<user@example.com> BODY=9BIT", code: 501, enh: "5.5.4"},
		{arg: "FROM:<user@example.com> RET=FULL", code: 555, enh: "5.5.4"},
		{arg: "FROM:<user@example.com> RET=FULL", opt: ParseOptions{DSN: true}, local: "user", domain: "example.com"},
		{arg: "FROM:<user@example.com> RET=ALL", opt: ParseOptions{DSN: true}, code: 501, enh: "5.5.4"},
		{arg: "FROM:<user@example.com> ENVID=" + strings.Repeat("x", 101), opt: ParseOptions{DSN: true}, code: 501, enh: "5.5.4"},
		{arg: "FROM:<user@example.com> ENVID=a+0Db", opt: ParseOptions{DSN: true}, code: 501, enh: "5.5.4"},
		{arg: "FROM:<user@example.com> NOTIFY=NEVER", opt: ParseOptions{DSN: true}, code: 555, enh: "5.5.4"},
		{arg: "FROM:<user@example.com> X-FOO=bar", code: 555, enh: "5.5.4"},
		// RFC 8689: REQUIRETLS only where offered (over TLS), no value.
		{arg: "FROM:<user@example.com> REQUIRETLS", code: 555, enh: "5.5.4"},
		{arg: "FROM:<user@example.com> requiretls", opt: ParseOptions{RequireTLS: true}, local: "user", domain: "example.com"},
		{arg: "FROM:<user@example.com> REQUIRETLS=yes", opt: ParseOptions{RequireTLS: true}, code: 501, enh: "5.5.4"},
		{arg: "FROM:<user@example.com> REQUIRETLS REQUIRETLS", opt: ParseOptions{RequireTLS: true}, code: 501, enh: "5.5.4"},
		{arg: "FROM:<user@example.com> -FOO=bar", code: 501, enh: "5.5.2"},
		{arg: "FROM:<user@example.com> FOO=b=r", code: 501, enh: "5.5.2"},
		{arg: "FROM:<user@example.com> FOO=bär", code: 501, enh: "5.5.2"},
		{arg: "FROM:<user@example.com> =x", code: 501, enh: "5.5.2"},
		{arg: "FROM:<user@example.com> AUTH=<>", local: "user", domain: "example.com"},
		{arg: "FROM:<user@example.com> AUTH=", code: 501, enh: "5.5.2"},
		{arg: "FROM:user@example.com", code: 501, enh: "5.5.2"},
		{arg: "FROM", code: 501, enh: "5.5.2"},
		{arg: "", code: 501, enh: "5.5.2"},
	}
	if _, p, r := ParseMail("FROM:<a@example.com> REQUIRETLS", ParseOptions{RequireTLS: true}); r != nil || !p.RequireTLS {
		t.Errorf("REQUIRETLS not parsed: %v %+v", r, p)
	}
	for _, c := range cases {
		p, _, r := ParseMail(c.arg, c.opt)
		checkPath(t, "MAIL", c, p, r)
		if r == nil && c.local == "" && !p.IsNull() {
			t.Errorf("MAIL %q: want null path, got %q", c.arg, p)
		}
	}
}

func checkPath(t *testing.T, verb string, c pathCase, p Path, r *Reply) {
	t.Helper()
	if c.code != 0 {
		if r == nil {
			t.Errorf("%s %q: accepted as %+v, want %d %s", verb, c.arg, p, c.code, c.enh)
		} else if r.Code != c.code || r.Enhanced != c.enh {
			t.Errorf("%s %q: got %v, want %d %s", verb, c.arg, r, c.code, c.enh)
		}
		return
	}
	if r != nil {
		t.Errorf("%s %q: rejected: %v", verb, c.arg, r)
		return
	}
	if p.Local != c.local || p.Domain != c.domain {
		t.Errorf("%s %q: got local %q domain %q, want %q %q", verb, c.arg, p.Local, p.Domain, c.local, c.domain)
	}
}

func TestParams(t *testing.T) {
	dsn := ParseOptions{DSN: true}
	_, p, r := ParseMail("FROM:<a@example.com> SIZE=12345 body=8bitmime SMTPUTF8 RET=hdrs ENVID=QQ+2Bid+3D1 AUTH=joe+2Bx@example.com", dsn)
	if r != nil {
		t.Fatal(r)
	}
	want := Params{Size: 12345, Body: "8BITMIME", SMTPUTF8: true, Ret: "HDRS", EnvID: "QQ+id=1", Auth: "joe+x@example.com"}
	if p != want {
		t.Errorf("MAIL params: got %+v, want %+v", p, want)
	}
	if _, p, _ := ParseMail("FROM:<a@example.com> SIZE=18446744073709551616", dsn); p.Size != math.MaxInt64 {
		t.Errorf("20-digit SIZE: %d", p.Size)
	}
	_, p, r = ParseRcpt("TO:<b@example.com> notify=success,Delay ORCPT=RFC822;b+2Bx@example.com", dsn)
	if r != nil {
		t.Fatal(r)
	}
	want = Params{Notify: "SUCCESS,DELAY", ORCPT: "rfc822;b+x@example.com"}
	if p != want {
		t.Errorf("RCPT params: got %+v, want %+v", p, want)
	}
	bad := []string{
		"NOTIFY=NEVER,SUCCESS", "NOTIFY=SUCCESS,SUCCESS", "NOTIFY=SOMETIMES", "NOTIFY=", "NOTIFY",
		"NOTIFY=SUCCESS,", "ORCPT=x400;foo", "ORCPT=rfc822;", "ORCPT=rfc822", "ORCPT=rfc822;a+0Ab",
		"ORCPT=rfc822;a+zz", "ORCPT=rfc822;" + strings.Repeat("a", 500),
	}
	for _, b := range bad {
		if _, _, r := ParseRcpt("TO:<b@example.com> "+b, dsn); r == nil {
			t.Errorf("RCPT param %q accepted", b)
		} else if r.Code != 501 && r.Code != 555 {
			t.Errorf("RCPT param %q: %v", b, r)
		}
	}
}

func TestPathMethods(t *testing.T) {
	cases := []struct {
		p       Path
		str     string
		null    bool
		literal bool
		addr    string
	}{
		{Path{}, "", true, false, ""},
		{Path{Local: "postmaster"}, "postmaster", false, false, ""},
		{Path{Local: "a", Domain: "example.com"}, "a@example.com", false, false, ""},
		{Path{Local: "\"a@b\"", Domain: "example.com"}, "\"a@b\"@example.com", false, false, ""},
		{Path{Local: "a", Domain: "[192.0.2.1]"}, "a@[192.0.2.1]", false, true, "192.0.2.1"},
		{Path{Local: "a", Domain: "[IPv6:2001:db8::1]"}, "a@[IPv6:2001:db8::1]", false, true, "2001:db8::1"},
		{Path{Local: "a", Domain: "[junk]"}, "a@[junk]", false, true, ""},
	}
	for _, c := range cases {
		if got := c.p.String(); got != c.str {
			t.Errorf("%#v.String() = %q, want %q", c.p, got, c.str)
		}
		if c.p.IsNull() != c.null || c.p.IsLiteral() != c.literal {
			t.Errorf("%#v: IsNull %v IsLiteral %v", c.p, c.p.IsNull(), c.p.IsLiteral())
		}
		a, ok := c.p.LiteralAddr()
		if ok != (c.addr != "") || ok && a.String() != c.addr {
			t.Errorf("%#v.LiteralAddr() = %v %v, want %q", c.p, a, ok, c.addr)
		}
	}
	p, _, r := ParseRcpt("TO:<postmaster>", ParseOptions{})
	if r != nil || !p.IsPostmaster() || p.IsNull() {
		t.Errorf("<postmaster>: %+v %v", p, r)
	}
	p, _, r = ParseMail("FROM:<>", ParseOptions{})
	if r != nil || !p.IsNull() || p.String() != "" {
		t.Errorf("<>: %+v %v", p, r)
	}
}

// An SRS local part may be longer than 64 octets; any other may not.
func TestSRSLocalLength(t *testing.T) {
	srs := "SRS0=HHHH=TT=" + strings.Repeat("d", 40) + ".example=" + strings.Repeat("u", 40)
	if p, _, r := ParseRcpt("TO:<"+srs+"@fwd.example>", ParseOptions{}); r != nil || p.Local != srs {
		t.Errorf("long SRS local part refused: %v", r)
	}
	if _, _, r := ParseRcpt("TO:<X"+srs+"@fwd.example>", ParseOptions{}); r == nil {
		t.Error("long local part that is not SRS accepted")
	}
	for local, want := range map[string]bool{"SRS0=x": true, "srs1+x": true, "SRS0-": true, "SRS0": false, "SRS2=x": false, "SRSX=": false} {
		if IsSRSLocal(local) != want {
			t.Errorf("IsSRSLocal(%q) = %v", local, !want)
		}
	}
}

func TestPathLength(t *testing.T) {
	// RFC 5321 4.5.3.1.3: 256 octets including the angle brackets.
	local := strings.Repeat("a", 64)
	dom := strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 60) + "."
	for n := 0; n < 10; n++ {
		d := dom + strings.Repeat("e", 1+n)
		path := "<" + local + "@" + d + ">"
		_, _, r := ParseRcpt("TO:"+path, ParseOptions{})
		if (len(path) <= 256) != (r == nil) {
			t.Errorf("path of %d octets: %v", len(path), r)
		}
	}
}
