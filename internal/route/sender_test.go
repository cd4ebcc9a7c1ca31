package route

import (
	"context"
	"io"
	"net/netip"
	"strings"
	"testing"

	"postern/internal/envelope"
	"postern/internal/inbound"
	"postern/internal/maps"
)

func testRewriter(t *testing.T) *SenderRewriter {
	g, err := maps.ParseGenericstable("/etc/postern/genericstable", strings.NewReader(
		"alice                Alice.Smith@example.com\nbob@host.example.com robert@example.com\nroot admin\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := &maps.Maps{Genericstable: g}
	return &SenderRewriter{
		Maps:       func() *maps.Maps { return m },
		Generics:   maps.GenericsOptions{Domains: []string{"host.example.com", "example.com"}},
		Masquerade: maps.Masquerade{As: "example.com", Domains: []string{"host.example.com", "mx.example.com"}, EntireDomain: true, Exposed: []string{"root"}},
		Hostname:   "mx.example.com",
	}
}

func TestSenderRewrite(t *testing.T) {
	rw := testRewriter(t)
	tests := []struct{ in, out, rule string }{
		{"alice@host.example.com", "Alice.Smith@example.com", "genericstable line 1"},
		{"bob@host.example.com", "robert@example.com", "genericstable"},
		{"bob@example.com", "bob@example.com", ""},
		{"root@host.example.com", "admin@example.com", "genericstable line 3"},
		{"carol@host.example.com", "carol@example.com", "masquerade_as example.com"},
		{"carol@a.mx.example.com", "carol@example.com", "masquerade_as"},
		{"carol@other.test", "carol@other.test", ""},
		{"alice@other.test", "alice@other.test", ""},
		{"", "", ""},
	}
	for _, tc := range tests {
		out, rule, changed := rw.Rewrite(tc.in)
		if out != tc.out || !strings.HasPrefix(rule, tc.rule) || changed != (tc.rule != "") {
			t.Errorf("Rewrite(%q) = %q, %q, %v; want %q, %q", tc.in, out, rule, changed, tc.out, tc.rule)
		}
	}
	rw.Maps = nil
	if out, _, _ := rw.Rewrite("root@host.example.com"); out != "root@host.example.com" {
		t.Errorf("exposed root masqueraded: %s", out)
	}
}

func TestSenderChecker(t *testing.T) {
	c := &SenderChecker{Rewriter: testRewriter(t)}
	msg := "From: \"Carol C.\" <Carol@Host.Example.Com>,\r\n\tdave@other.test\r\nSender: bob@host.example.com (Bob)\r\nTo: x@y.test\r\nSubject: From: carol@host.example.com\r\n\r\nFrom: carol@host.example.com\r\n"
	run := func(auth string, ip string) (*inbound.Txn, string, *inbound.Verdict) {
		m := &inbound.Message{}
		m.Write([]byte(msg))
		conn := &inbound.Conn{AuthUser: auth, Remote: netip.AddrPortFrom(netip.MustParseAddr(ip), 1000), Values: map[any]any{}}
		tx := &inbound.Txn{Conn: conn, Env: &envelope.Envelope{From: "carol@host.example.com"}, Values: map[any]any{}}
		v := c.CheckData(context.Background(), tx, m)
		b, _ := io.ReadAll(m.Reader())
		return tx, string(b), v
	}
	tx, out, v := run("carol", "192.0.2.1")
	if tx.Env.From != "carol@example.com" {
		t.Errorf("envelope sender %q", tx.Env.From)
	}
	want := "From: \"Carol C.\" <Carol@example.com>,\r\n\tdave@other.test\r\nSender: robert@example.com (Bob)\r\nTo: x@y.test\r\nSubject: From: carol@host.example.com\r\n\r\nFrom: carol@host.example.com\r\n"
	if out != want {
		t.Errorf("message:\n%q\nwant\n%q", out, want)
	}
	if v == nil || !strings.Contains(v.Rule, "Sender: bob@host.example.com -> robert@example.com (genericstable") {
		t.Errorf("verdict %+v", v)
	}
	// Mail from strangers is never rewritten.
	tx, out, v = run("", "192.0.2.1")
	if tx.Env.From != "carol@host.example.com" || out != msg || v != nil {
		t.Errorf("unauthenticated mail rewritten: %q %v", tx.Env.From, v)
	}
	// Trusted clients, when Applies says so.
	c.Applies = func(t *inbound.Txn) bool { return t.Conn.IP().IsLoopback() }
	if tx, _, _ = run("", "127.0.0.1"); tx.Env.From != "carol@example.com" {
		t.Errorf("trusted client: %q", tx.Env.From)
	}
}
