package arc

import (
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/authres"
)

func TestTrusted(t *testing.T) {
	hop := func(sealer string, results ...string) []Hop {
		return []Hop{{Instance: 1, Sealer: "first.example", Results: []string{"dmarc=pass header.from=sender.example"}},
			{Instance: 2, Sealer: sealer, Results: results}}
	}
	trusted := []string{"Lists.Example.NET."}
	tests := []struct {
		name     string
		res      Result
		from     string
		ok       bool
		evidence string
	}{
		{"dmarc pass", Result{CV: Pass, Hops: hop("lists.example.net", "spf=fail smtp.mailfrom=x@y.example", "dmarc=pass (p=reject) header.from=Sender.Example")},
			"sender.example", true, "dmarc=pass"},
		{"dmarc fail decides", Result{CV: Pass, Hops: hop("lists.example.net", "dkim=pass header.d=sender.example", "dmarc=fail header.from=sender.example")},
			"sender.example", false, "dmarc=fail"},
		{"dmarc of another domain", Result{CV: Pass, Hops: hop("lists.example.net", "dmarc=pass header.from=other.example")},
			"sender.example", false, ""},
		{"aligned dkim", Result{CV: Pass, Hops: hop("lists.example.net", "dkim=pass (2048-bit key) header.d=mail.sender.example")},
			"sender.example", true, "dkim=pass header.d=mail.sender.example"},
		{"dkim by header.i", Result{CV: Pass, Hops: hop("lists.example.net", "dkim=pass header.i=@sender.example")},
			"sender.example", true, "dkim=pass header.d=sender.example"},
		{"unaligned dkim", Result{CV: Pass, Hops: hop("lists.example.net", "dkim=pass header.d=esp.example")},
			"sender.example", false, ""},
		{"aligned spf", Result{CV: Pass, Hops: hop("lists.example.net", "spf=pass smtp.mailfrom=bounce@sender.example")},
			"sender.example", true, "spf=pass smtp.mailfrom=sender.example"},
		{"spf fail", Result{CV: Pass, Hops: hop("lists.example.net", "spf=fail smtp.mailfrom=bounce@sender.example")},
			"sender.example", false, ""},
		{"untrusted newest sealer", Result{CV: Pass, Hops: hop("evil.example", "dmarc=pass header.from=sender.example")},
			"sender.example", false, ""},
		{"trusted only further back", Result{CV: Pass, Hops: []Hop{{Instance: 1, Sealer: "lists.example.net", Results: []string{"dmarc=pass header.from=sender.example"}},
			{Instance: 2, Sealer: "evil.example", Results: []string{"dmarc=pass header.from=sender.example"}}}}, "sender.example", false, ""},
		{"subdomain of a trusted sealer", Result{CV: Pass, Hops: hop("x.lists.example.net", "dmarc=pass header.from=sender.example")},
			"sender.example", false, ""},
		{"chain failed", Result{CV: Fail, Hops: hop("lists.example.net", "dmarc=pass header.from=sender.example")},
			"sender.example", false, ""},
		{"no chain", Result{CV: None}, "sender.example", false, ""},
	}
	for _, tt := range tests {
		o, ok := tt.res.Trusted(trusted, tt.from)
		if ok != tt.ok || ok && o.Evidence != tt.evidence || ok && (o.Sealer != "x.lists.example.net" && o.Sealer != "lists.example.net" || o.Instance != 2) {
			t.Errorf("%s: %+v %v, want %v %q", tt.name, o, ok, tt.ok, tt.evidence)
		}
	}
	if _, ok := (Result{CV: Pass, Hops: hop("lists.example.net", "dmarc=pass header.from=sender.example")}).Trusted(nil, "sender.example"); ok {
		t.Error("no trusted sealers configured, yet overridden")
	}
}

func TestAuthResult(t *testing.T) {
	o := &Override{Sealer: "lists.example.net", Instance: 2, Evidence: "dmarc=pass"}
	tests := []struct {
		res  Result
		over *Override
		want string
	}{
		{Result{CV: None}, nil, "arc=none"},
		{Result{CV: Pass, OldestPass: 0}, nil, "arc=pass header.oldest-pass=0"},
		{Result{CV: Pass, OldestPass: 2}, o, `arc=pass reason="DMARC failure overridden: arc: trusted sealer lists.example.net (i=2) saw dmarc=pass" header.oldest-pass=2`},
		{Result{CV: Fail, Reason: "ARC-Seal i=1: x"}, nil, `arc=fail reason="ARC-Seal i=1: x"`},
		{Result{CV: Fail, Temporary: true, Reason: "key"}, nil, `arc=fail reason=key`},
	}
	for _, tt := range tests {
		got := strings.TrimSpace(strings.TrimPrefix(authres.Format("", []authres.Result{tt.res.AuthResult(tt.over)}), ";"))
		if got != tt.want {
			t.Errorf("got %s, want %s", got, tt.want)
		}
		if st := StatusOf("x; " + got); st != strings.TrimPrefix(strings.Fields(got)[0], "arc=") {
			t.Errorf("StatusOf(%s) = %s", got, st)
		}
	}
}
