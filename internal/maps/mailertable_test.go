package maps

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

const testMailertable = `# routes
example.com           smtp:[mail.example.com]:2525
.example.com          esmtp:relay.example.com
internal.example      relay:[10.0.0.5]
lmtp.example          lmtp:/run/dovecot/lmtp
lmtp2.example         lmtp:[127.0.0.1]:24
lmtp3.example         lmtp:mailstore.example:2424
local.example         local:
user.example          local:postmaster
gone.example          error:5.1.2:550 no such domain here
nouser.example        error:nouser gone
fallback.example      esmtp:mx1.example:mx2.example:[192.0.2.7]:26
v6.example            smtp:[IPv6:2001:db8::25]:25
[192.0.2.1]           smtp:[192.0.2.2]
.                     smtp:[smarthost.example]
`

func TestMailertable(t *testing.T) {
	mt, err := ParseMailertable("mailertable", strings.NewReader(testMailertable))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		domain string
		key    string
		mailer string
	}{
		{"example.com", "example.com", "smtp"},
		{"EXAMPLE.com.", "example.com", "smtp"},
		{"host.example.com", ".example.com", "esmtp"}, // .domain: subdomains only
		{"a.b.example.com", ".example.com", "esmtp"},  // walking up
		{"badexample.com", ".", "smtp"},               // label boundary; falls to default
		{"sub.internal.example", ".", "smtp"},         // "internal.example" is not ".internal.example"
		{"[192.0.2.1]", "[192.0.2.1]", "smtp"},
		{"[192.0.2.9]", ".", "smtp"},
		{"other.test", ".", "smtp"},
	}
	for _, tt := range tests {
		r, ok := mt.Lookup(tt.domain)
		if !ok || r.Key != tt.key || r.Mailer != tt.mailer {
			t.Errorf("Lookup(%q) = %v key %q mailer %q, want %q %q", tt.domain, ok, r.Key, r.Mailer, tt.key, tt.mailer)
		}
	}
	hop := func(d string) []Hop { r, _ := mt.Lookup(d); return r.Hops }
	eq := func(name string, got, want []Hop) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: hops %+v, want %+v", name, got, want)
			return
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: hop %d = %+v, want %+v", name, i, got[i], want[i])
			}
		}
	}
	eq("example.com", hop("example.com"), []Hop{{Host: "mail.example.com", Port: 2525, NoMX: true}})
	eq("sub", hop("x.example.com"), []Hop{{Host: "relay.example.com"}})
	eq("relay", hop("internal.example"), []Hop{{Host: "10.0.0.5", IP: netip.MustParseAddr("10.0.0.5"), NoMX: true}})
	eq("lmtp2", hop("lmtp2.example"), []Hop{{Host: "127.0.0.1", IP: netip.MustParseAddr("127.0.0.1"), Port: 24, NoMX: true}})
	eq("lmtp3", hop("lmtp3.example"), []Hop{{Host: "mailstore.example", Port: 2424, NoMX: true}})
	eq("fallback", hop("fallback.example"), []Hop{{Host: "mx1.example"}, {Host: "mx2.example"},
		{Host: "192.0.2.7", IP: netip.MustParseAddr("192.0.2.7"), Port: 26, NoMX: true}})
	eq("v6", hop("v6.example"), []Hop{{Host: "2001:db8::25", IP: netip.MustParseAddr("2001:db8::25"), Port: 25, NoMX: true}})

	if r, _ := mt.Lookup("lmtp.example"); r.Mailer != "lmtp" || r.Socket != "/run/dovecot/lmtp" || len(r.Hops) != 0 {
		t.Errorf("lmtp socket: %+v", r)
	}
	if r, _ := mt.Lookup("local.example"); r.Mailer != "local" || r.User != "" {
		t.Errorf("local: %+v", r)
	}
	if r, _ := mt.Lookup("user.example"); r.User != "postmaster" {
		t.Errorf("local:user: %+v", r)
	}
	if r, _ := mt.Lookup("gone.example"); r.Mailer != "error" || r.Code != 550 || r.Enhanced != "5.1.2" || r.Text != "no such domain here" {
		t.Errorf("error: %+v", r)
	}
	if r, _ := mt.Lookup("nouser.example"); r.Code != 550 || r.Enhanced != "5.1.1" || r.Text != "gone" {
		t.Errorf("error:nouser: %+v", r)
	}
	r, _ := mt.Lookup("x.example.com")
	if !r.IsSMTP() || r.Rule() != "mailertable line 3: .example.com esmtp:relay.example.com" {
		t.Errorf("Rule() = %q", r.Rule())
	}
	// Returned hops are copies.
	r, _ = mt.Lookup("example.com")
	r.Hops[0].Port = 1
	if hop("example.com")[0].Port != 2525 {
		t.Error("Lookup result aliases the table")
	}
	// Without a "." entry, unknown domains find nothing.
	mt2, _ := ParseMailertable("m", strings.NewReader(".example.com smtp:x.example\n"))
	if _, ok := mt2.Lookup("example.com"); ok {
		t.Error(".example.com matched example.com itself")
	}
}

func TestMailertableErrors(t *testing.T) {
	in := `a.example nocolon
b.example smtp:
c.example ftp:host
d.example smtp:[unclosed
e.example smtp:[h.example]:99999
f.example error:250 fine
..example smtp:x
g.example local:a@b
h.example smtp:[h.example]x
j.example smtp:bad..host
i.example lmtp:
`
	_, err := ParseMailertable("mt", strings.NewReader(in))
	var pe ParseErrors
	if !errors.As(err, &pe) || len(pe) != 11 {
		t.Fatalf("err = %v", err)
	}
	for i, e := range pe {
		if e.Line != i+1 {
			t.Errorf("error %d at line %d: %s", i, e.Line, e.Msg)
		}
	}
	_, err = ParseMailertable("mt", strings.NewReader("a.example smtp:x.example\nA.EXAMPLE. smtp:y.example\n"))
	if err == nil || !strings.Contains(err.Error(), "mt:2: duplicate key") {
		t.Errorf("duplicate: %v", err)
	}
}
