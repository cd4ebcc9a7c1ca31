package policy

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"postern/internal/smtp"
	"postern/internal/srs"
)

func TestDecideSRS(t *testing.T) {
	now := time.Now()
	rw := &srs.Rewriter{Domain: "mx.example.test", Keys: srs.Keys{[]byte("k")}, Now: func() time.Time { return now }}
	r := testRelay()
	r.SRS = rw
	r.LuserRelay = "catch@elsewhere.test" // never for an SRS address
	fwd := func(sender string) string {
		a, err := rw.Forward(sender)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	old := &srs.Rewriter{Domain: rw.Domain, Keys: rw.Keys, Now: func() time.Time { return now.Add(-22 * 24 * time.Hour) }}
	expired, _ := old.Forward("alice@origin.test")
	good := fwd("Alice@Origin.test")
	tests := []struct {
		name, rcpt string
		code       int
		class      Class
		mailbox    string
		rule       string
	}{
		{"srs0 to the sender", good, 0, Forward, "Alice@origin.test", "stands for Alice@origin.test"},
		{"case smashed", strings.ToUpper(good[:strings.IndexByte(good, '@')]) + "@MX.example.test", 0, Forward, "ALICE@origin.test", "hash and age good"},
		{"srs1 to the first forwarder", fwd("SRS0=abcd=AB=origin.test=bob@first.test"), 0, Forward, "SRS0=abcd=AB=origin.test=bob@first.test", "stands for"},
		{"back to a local user", fwd("alice@example.test"), 0, Local, "alice@example.test", "local user"},
		{"forged", "SRS0=AAAA" + good[9:], 550, 0, "", "hash does not match"},
		{"expired", expired, 550, 0, "", "expired"},
		{"malformed", "SRS0=xx@mx.example.test", 550, 0, "", "malformed"},
		{"other domain is not ours", "SRS0" + good[4:strings.IndexByte(good, '@')] + "@elsewhere.test", 550, 0, "", "not in trusted_networks"},
		{"plain local address unchanged", "bob@mx.example.test", 0, Local, "bob@mx.example.test", "local user"},
	}
	for _, tt := range tests {
		to, _, rep := smtp.ParseRcpt("TO:<"+tt.rcpt+">", smtp.ParseOptions{})
		if rep != nil {
			t.Fatalf("%s: %q: %v", tt.name, tt.rcpt, rep)
		}
		d := r.Decide(Query{Client: netip.MustParseAddr("203.0.113.9"), To: to})
		code := 0
		if d.Reply != nil {
			code = d.Reply.Code
		}
		if code != tt.code || d.Class != tt.class || tt.mailbox != "" && d.Mailbox != tt.mailbox || !strings.Contains(d.Rule, tt.rule) {
			t.Errorf("%s: %s: %d %s %q (%s)", tt.name, tt.rcpt, code, d.Class, d.Mailbox, d.Rule)
		}
		if code == 550 && tt.rule != "not in trusted_networks" && d.Reply.Enhanced != "5.1.1" {
			t.Errorf("%s: %v", tt.name, d.Reply)
		}
	}
}
