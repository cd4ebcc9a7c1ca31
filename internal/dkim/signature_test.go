package dkim

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"strings"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	"postern/internal/dnstest"
)

// signLib signs testMessage through go-msgauth with the options given.
func signLib(t *testing.T, opt *msgdkim.SignOptions, msg string) string {
	t.Helper()
	var out bytes.Buffer
	if err := msgdkim.Sign(&out, strings.NewReader(msg), opt); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestSignatureChecks(t *testing.T) {
	ek, _, _ := GenerateKey(AlgoEd25519)
	rec, _ := PublicRecord(ek)
	srv := dnstest.Start(t, dnstest.Zone{
		"e._domainkey.example.org TXT": {rec},
		"s._domainkey.example.org TXT": {rec + "; t=s"},
		"y._domainkey.example.org TXT": {rec + "; t=y"},
	})
	now := time.Now()
	base := func(sel string) *msgdkim.SignOptions {
		return &msgdkim.SignOptions{Domain: "example.org", Selector: sel, Signer: ek, Hash: crypto.SHA256}
	}
	with := func(sel string, f func(*msgdkim.SignOptions)) *msgdkim.SignOptions {
		o := base(sel)
		f(o)
		return o
	}
	for _, c := range []struct {
		name   string
		opt    *msgdkim.SignOptions
		now    time.Time
		result string
		auid   string
	}{
		{"plain", base("e"), now, Pass, "@example.org"},
		{"relaxed/relaxed", with("e", func(o *msgdkim.SignOptions) {
			o.HeaderCanonicalization, o.BodyCanonicalization = msgdkim.CanonicalizationRelaxed, msgdkim.CanonicalizationRelaxed
		}), now, Pass, "@example.org"},
		{"simple/relaxed", with("e", func(o *msgdkim.SignOptions) { o.BodyCanonicalization = msgdkim.CanonicalizationRelaxed }), now, Pass, "@example.org"},
		{"relaxed/simple", with("e", func(o *msgdkim.SignOptions) { o.HeaderCanonicalization = msgdkim.CanonicalizationRelaxed }), now, Pass, "@example.org"},
		{"i= subdomain", with("e", func(o *msgdkim.SignOptions) { o.Identifier = "joe@mail.example.org" }), now, Pass, "joe@mail.example.org"},
		{"i= other case", with("e", func(o *msgdkim.SignOptions) { o.Identifier = "joe@EXAMPLE.org" }), now, Pass, "joe@EXAMPLE.org"},
		{"i= elsewhere", with("e", func(o *msgdkim.SignOptions) { o.Identifier = "joe@example.net" }), now, PermError, "joe@example.net"},
		{"i= suffix only", with("e", func(o *msgdkim.SignOptions) { o.Identifier = "joe@badexample.org" }), now, PermError, "joe@badexample.org"},
		{"x= ahead", with("e", func(o *msgdkim.SignOptions) { o.Expiration = now.Add(time.Hour) }), now, Pass, "@example.org"},
		// RFC 6376 3.5: past x=, the signature is invalid.
		{"x= passed", with("e", func(o *msgdkim.SignOptions) { o.Expiration = now.Add(time.Hour) }), now.Add(2 * time.Hour), PermError, "@example.org"},
		// x= before t=: invalid even while x= is still ahead.
		{"x= before t=", with("e", func(o *msgdkim.SignOptions) { o.Expiration = now.Add(-time.Hour) }), now.Add(-2 * time.Hour), PermError, "@example.org"},
		// RFC 6376 3.6.1: t=s keys allow no subdomain in i=.
		{"t=s same domain", base("s"), now, Pass, "@example.org"},
		{"t=s subdomain", with("s", func(o *msgdkim.SignOptions) { o.Identifier = "@sub.example.org" }), now, PermError, "@sub.example.org"},
		{"t=y", base("y"), now, Pass, "@example.org"},
	} {
		t.Run(c.name, func(t *testing.T) {
			signed := signLib(t, c.opt, testMessage)
			v := NewVerifier(VerifyOptions{Now: func() time.Time { return c.now }})
			rs, err := v.Verify(context.Background(), srv.Resolver(), discard(), strings.NewReader(signed))
			if err != nil || len(rs) != 1 {
				t.Fatalf("%v %v", rs, err)
			}
			if rs[0].Result != c.result || rs[0].AUID != c.auid {
				t.Errorf("got %s %q (%v), want %s %q", rs[0].Result, rs[0].AUID, rs[0].Err, c.result, c.auid)
			}
			if c.result == Pass && rs[0].Err != nil || c.result != Pass && (rs[0].Err == nil || rs[0].Reason == "") {
				t.Errorf("Err %v, Reason %q", rs[0].Err, rs[0].Reason)
			}
		})
	}
}

// TestVerifierReuse checks a Verifier across messages of different
// shapes (its buffers are reused), and that two signatures with the same
// key name cost one query.
func TestVerifierReuse(t *testing.T) {
	ek, _, _ := GenerateKey(AlgoEd25519)
	rk, _, _ := GenerateKey(AlgoRSA)
	erec, _ := PublicRecord(ek)
	rrec, _ := PublicRecord(rk)
	srv := dnstest.Start(t, dnstest.Zone{
		"e._domainkey.example.org TXT": {erec},
		"r._domainkey.example.org TXT": {rrec},
	})
	one := signLib(t, &msgdkim.SignOptions{Domain: "example.org", Selector: "e", Signer: ek}, testMessage)
	two := signLib(t, &msgdkim.SignOptions{Domain: "example.org", Selector: "r", Signer: rk,
		BodyCanonicalization: msgdkim.CanonicalizationRelaxed}, one)
	same := one[:strings.Index(one, "\r\nFrom:")+2] + one
	tampered := strings.Replace(two, "We lost", "We won", 1)
	v := NewVerifier(VerifyOptions{})
	for round := 0; round < 3; round++ {
		for _, c := range []struct{ msg, want string }{
			{two, "pass,pass"},
			{one, "pass"},
			{tampered, "fail,fail"},
			{testMessage, ""},
			{same, "pass,pass"},
		} {
			before := srv.Queries()
			rs, err := v.Verify(context.Background(), srv.Resolver(), discard(), strings.NewReader(c.msg))
			if err != nil || resultList(rs) != c.want {
				t.Fatalf("round %d: %s %v, want %s", round, resultList(rs), err, c.want)
			}
			if c.msg == same && srv.Queries()-before != 1 {
				t.Errorf("two signatures of one key: %d queries", srv.Queries()-before)
			}
			if c.msg == tampered && !strings.Contains(rs[0].Err.Error(), "body hash") {
				t.Errorf("tampered body: %v", rs[0].Err)
			}
		}
	}
	if v.keys.len() != 2 {
		t.Errorf("%d keys kept, want 2", v.keys.len())
	}
}

func TestParseSignature(t *testing.T) {
	const ok = "v=1; a=rsa-sha256; d=example.org; s=sel; h=From:To; bh=AAAA; b=AAAA"
	now := time.Unix(2000000000, 0)
	for _, c := range []struct{ value, err string }{
		{ok, ""},
		{ok + "; i=@example.org", ""},
		{ok + "; i=joe=40x@Sub.Example.ORG", ""}, // dkim-quoted-printable, any case
		{ok + "; t=1999999999; x=2000000001", ""},
		{ok + "; q=dns/txt", ""},
		{ok + "; q=other:dns/txt", ""},
		{ok + "; junk", "malformed tag-list"},
		{ok + "; d=example.net", "duplicate tag"},
		{strings.Replace(ok, "v=1", "v=2", 1), "version"},
		{strings.Replace(ok, "; s=sel", "", 1), "required tag s="},
		{strings.Replace(ok, "; bh=AAAA", "", 1), "required tag bh="},
		{ok + "; i=joe@example.net", "i= is not in the domain"},
		{ok + "; i=joe@xexample.org", "i= is not in the domain"},
		{ok + "; i=joe=4", "malformed i="},
		{strings.Replace(ok, "h=From:To", "h=To:Subject", 1), "From field not signed"},
		{strings.Replace(ok, "h=From:To", "h=To : F rom", 1), ""}, // FWS inside a name is dropped
		{ok + "; t=abc", "malformed t="},
		{ok + "; x=-5", "malformed x="},
		{ok + "; x=1999999999", "expired"},
		{ok + "; t=2000000005; x=2000000003", "x= is before t="},
		{ok + "; q=http", "query method"},
	} {
		f := []byte("DKIM-Signature: " + c.value + "\r\n")
		s := &sigCheck{}
		parseSignature(s, f, len("DKIM-Signature:"), nil, now)
		got := ""
		if s.res.Err != nil {
			got = s.res.Err.Error()
		}
		if c.err == "" && got != "" || !strings.Contains(got, c.err) {
			t.Errorf("%q: %q, want %q", c.value, got, c.err)
		}
	}
	// What is read for the report even from a broken signature.
	s := &sigCheck{}
	parseSignature(s, []byte("DKIM-Signature: d=Example.org; s=x; a=rsa-sha256; b=ab\r\n cd; junk\r\n"), 15, nil, now)
	if s.res.Domain != "Example.org" || s.res.Selector != "x" || s.res.B != "abcd" || s.res.AUID != "@Example.org" || s.res.Err == nil {
		t.Errorf("%+v", s.res)
	}
}

// TestVerifierConcurrent shares one Verifier between goroutines (run
// with -race).
func TestVerifierConcurrent(t *testing.T) {
	ek, _, _ := GenerateKey(AlgoEd25519)
	erec, _ := PublicRecord(ek)
	srv := dnstest.Start(t, dnstest.Zone{"e._domainkey.example.org TXT": {erec}})
	one := signLib(t, &msgdkim.SignOptions{Domain: "example.org", Selector: "e", Signer: ek}, testMessage)
	two := signLib(t, &msgdkim.SignOptions{Domain: "example.org", Selector: "e", Signer: ek,
		HeaderCanonicalization: msgdkim.CanonicalizationRelaxed, BodyCanonicalization: msgdkim.CanonicalizationRelaxed}, one)
	v := NewVerifier(VerifyOptions{})
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			var err error
			for i := 0; i < 20 && err == nil; i++ {
				msg, want := two, "pass,pass"
				if (g+i)%3 == 0 {
					msg, want = strings.Replace(one, "Joe.", "Jim.", 1), "fail"
				}
				rs, verr := v.Verify(context.Background(), srv.Resolver(), discard(), strings.NewReader(msg))
				if verr != nil || resultList(rs) != want {
					err = fmt.Errorf("got %s %v, want %s", resultList(rs), verr, want)
				}
			}
			errs <- err
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestManyHeaderFields takes the map path of appendHeaderData (many h=
// names times many fields) and compares with go-msgauth.
func TestManyHeaderFields(t *testing.T) {
	o := newOracle(t)
	var b strings.Builder
	for i := 0; i < 150; i++ {
		fmt.Fprintf(&b, "X-A: %d\r\n", i)
	}
	msg := b.String() + testMessage
	keys := []string{"From"}
	for i := 0; i < 160; i++ {
		keys = append(keys, "x-a")
	}
	var out bytes.Buffer
	err := msgdkim.Sign(&out, strings.NewReader(msg), &msgdkim.SignOptions{Domain: "example.org", Selector: "e", Signer: o.ed,
		HeaderCanonicalization: msgdkim.CanonicalizationRelaxed, HeaderKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	signed := out.String()
	if len(keys)*160 <= pickThreshold {
		t.Fatal("not over pickThreshold")
	}
	v := NewVerifier(VerifyOptions{})
	for _, c := range []struct {
		msg  string
		pass bool
	}{
		{signed, true},
		{strings.Replace(signed, "X-A: 7\r\nX-A: 8\r\n", "X-A: 8\r\nX-A: 7\r\n", 1), false},
		{strings.Replace(signed, "X-A: 7\r\n", "x-a:   7\r\n", 1), true}, // relaxed
		{strings.Replace(signed, "X-A: 7\r\n", "X-A: 7\r\nX-A: 7\r\n", 1), false},
	} {
		rs, err := v.Verify(context.Background(), o.res, discard(), strings.NewReader(c.msg))
		want, _ := o.theirs([]byte(c.msg))
		if err != nil || len(rs) != 1 || (rs[0].Result == Pass) != c.pass || len(want) != 1 || want[0] != c.pass {
			t.Errorf("got %v %v, go-msgauth %v, want pass=%v", rs, err, want, c.pass)
		}
	}
}
