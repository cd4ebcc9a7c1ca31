package route

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"postern/internal/envelope"
	"postern/internal/inbound"
	"postern/internal/maps"
	"postern/internal/policy"
	"postern/internal/smtp"
)

func TestAccessChecker(t *testing.T) {
	a, err := maps.ParseAccess("/etc/postern/access", strings.NewReader(`Connect:192.0.2.9 DISCARD
Connect:192.0.2.66 REJECT
From:spam.test REJECT
From:held.test QUARANTINE:looks odd
From:drop.test DISCARD
To:sink@example.test DISCARD
`))
	if err != nil {
		t.Fatal(err)
	}
	m := &maps.Maps{Access: a}
	ac := &AccessChecker{Relay: &policy.Relay{Maps: func() *maps.Maps { return m }}}
	path := func(s string) smtp.Path {
		p, _, rep := smtp.ParseMail("FROM:<"+s+">", smtp.ParseOptions{})
		if rep != nil {
			t.Fatal(rep)
		}
		return p
	}
	tests := []struct {
		client, from, rcpt string
		code               int
		action             inbound.Action
		rule               string
	}{
		{"203.0.113.1", "a@ok.test", "x@example.test", 0, inbound.Deliver, ""},
		{"203.0.113.1", "a@spam.test", "", 550, 0, "access line 3: From:spam.test REJECT"},
		{"192.0.2.66", "a@ok.test", "", 550, 0, "Connect:192.0.2.66 REJECT"},
		{"192.0.2.9", "a@ok.test", "x@example.test", 0, inbound.Discard, "Connect:192.0.2.9 DISCARD"},
		{"203.0.113.1", "a@held.test", "x@example.test", 0, inbound.Hold, "QUARANTINE:looks odd"},
		{"203.0.113.1", "a@drop.test", "x@example.test", 0, inbound.Discard, "From:drop.test DISCARD"},
		{"203.0.113.1", "a@ok.test", "sink@example.test", 0, inbound.Discard, "To:sink@example.test DISCARD"},
		// DISCARD wins over QUARANTINE, whichever comes first.
		{"203.0.113.1", "a@held.test", "sink@example.test", 0, inbound.Discard, "To:sink@example.test DISCARD"},
	}
	for _, tc := range tests {
		conn := &inbound.Conn{Remote: netip.AddrPortFrom(netip.MustParseAddr(tc.client), 1), Values: map[any]any{}}
		tx := &inbound.Txn{Conn: conn, From: path(tc.from), Env: &envelope.Envelope{}, Values: map[any]any{}}
		v := ac.CheckMail(context.Background(), tx)
		if tc.code != 0 {
			if v == nil || v.Reply == nil || v.Reply.Code != tc.code || !strings.Contains(v.Rule, tc.rule) {
				t.Errorf("%s from %s: %+v, want %d by %q", tc.client, tc.from, v, tc.code, tc.rule)
			}
			continue
		}
		if v != nil {
			t.Errorf("%s from %s: refused %+v", tc.client, tc.from, v)
			continue
		}
		ac.CheckRcpt(context.Background(), tx, path(tc.rcpt), &envelope.Recipient{})
		v = ac.CheckData(context.Background(), tx, &inbound.Message{})
		var got inbound.Action
		if v != nil {
			got = v.Action
		}
		if got != tc.action || (v != nil && !strings.Contains(v.Rule, tc.rule)) {
			t.Errorf("%s from %s to %s: %+v, want %s by %q", tc.client, tc.from, tc.rcpt, v, tc.action, tc.rule)
		}
	}
}
