package explain

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"

	"postern/internal/maps"
	"postern/internal/policy"
	"postern/internal/submit"
)

type userSet map[string]bool

func (u userSet) Exists(a string) bool { return u[a] }

func TestExplain(t *testing.T) {
	al, err := maps.ParseAliases("aliases", strings.NewReader("team: alice, bob@remote.example\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := &maps.Maps{Aliases: al}
	mapsFn := func() *maps.Maps { return m }
	relay := &policy.Relay{
		Hostname: "mx.example.test",
		Local:    []policy.Domains{policy.NewDomainList("local_domains", false, []string{"example.test"})},
		Trusted:  []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Users:    userSet{"alice@example.test": true},
		Maps:     mapsFn,
	}
	var out bytes.Buffer
	e := &Explainer{Relay: relay, Login: &submit.LoginCheck{IsLocal: relay.IsLocal, Maps: mapsFn}, Maps: mapsFn, Out: &out,
		ForwardSender: func(from string) string { return "<SRS0=...=" + from + ">" }}
	q := Query{Client: netip.MustParseAddr("192.0.2.1"), From: "x@example.org", Rcpts: []string{"team@example.test", "someone@elsewhere.example", "<bad"}}
	if code := e.Explain(context.Background(), q); code != 1 {
		t.Errorf("exit %d", code)
	}
	text := out.String()
	for _, want := range []string{
		"client 192.0.2.1 (not authenticated)",
		"MAIL FROM:<x@example.org>: 250 2.1.0 OK\n  rule: no access-map From: entry",
		"RCPT TO:<team@example.test>: 250 2.1.5 OK",
		"  delivery: alias team expands to:\n    local alice (aliases line 1)\n    address bob@remote.example (aliases line 1)",
		"  sender: forwarded mail leaves with <SRS0=...=x@example.org>",
		"RCPT TO:<someone@elsewhere.example>: 55",
		"RCPT TO:<bad: 501 5.5.2", "the address does not parse",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q:\n%s", want, text)
		}
	}

	// A trusted client relays: nothing refused.
	out.Reset()
	q = Query{Client: netip.MustParseAddr("10.1.2.3"), Auth: "alice@example.test", From: "", Rcpts: []string{"someone@elsewhere.example"}}
	if code := e.Explain(context.Background(), q); code != 0 {
		t.Errorf("trusted: exit %d:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "authenticated as alice@example.test") || !strings.Contains(out.String(), "sender_login: not checked") ||
		strings.Contains(out.String(), "sender: forwarded") {
		t.Errorf("trusted:\n%s", out.String())
	}
}
