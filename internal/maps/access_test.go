package maps

import (
	"errors"
	"net/netip"
	"regexp"
	"strings"
	"testing"
)

const testAccess = `# sendmail-style access map
Connect:192.168.2          REJECT
Connect:10                 RELAY
Connect:10.1.2             SKIP
Connect:10.1.2.3           OK
Connect:192.0.2.0/25       ERROR:5.7.1:550 go away
Connect:192.0.2.0/24       OK
Connect:198.51.100.7       DISCARD
Connect:IPv6:2001:db8:1    RELAY
Connect:IPv6:2001:db8::25  REJECT
Connect:2001:db8:ff::/48   ERROR:4.7.1:451 slow down
Connect:example.com        RELAY
Connect:bad.example.com    REJECT
Connect:[203.0.113.9]      OK
Connect:Spammer.NET.       ERROR:"550 no spam"
From:spammer@aol.com       REJECT
From:cyberspammer.com      ERROR:550 We don't accept mail from spammers
From:okay.cyberspammer.com OK
From:FREE.STEALTH.MAILER@  ERROR:5.7.1:550 Spam not accepted
From:<>                    ERROR:553 no bounces here
From:partner.example       RELAY
From:user+*@detail.example REJECT
From:[192.0.2]             OK
To:friend.domain           RELAY
To:abuse@                  OK
To:user@other.my.tld       ERROR:4.2.2:450 mailbox full
untagged.example           REJECT
172.16                     OK
ClientRate:                10
ClientRate:192.0.2.1       2
ClientRate:198.51.100      0
ClientConn:192.0.2.0/24    3
Try_TLS:broken.example     NO
Try_TLS:partner.example    REQUIRED
Try_TLS:192.0.2.99         NO
GreetPause:secure.example  5000
`

func mustAccess(t *testing.T, s string) *Access {
	t.Helper()
	a, err := ParseAccess("access", strings.NewReader(s))
	if err != nil {
		t.Fatalf("ParseAccess: %v", err)
	}
	return a
}

func TestAccessConnect(t *testing.T) {
	a := mustAccess(t, testAccess)
	tests := []struct {
		ip, host string
		want     Action
		key      string // "" = no match
		line     int
	}{
		{"192.168.2.1", "", ActionReject, "192.168.2", 2},
		{"192.168.20.1", "", 0, "", 0}, // octet prefix is not a string prefix
		{"192.168.3.1", "", 0, "", 0},
		{"10.9.9.9", "", ActionRelay, "10", 3},
		{"10.1.2.9", "", ActionSkip, "10.1.2", 4}, // SKIP stops the search
		{"10.1.2.3", "", ActionOK, "10.1.2.3", 5}, // exact address before prefixes
		{"100.1.1.1", "", 0, "", 0},               // "10" must not match 100.x
		{"192.0.2.5", "", ActionError, "192.0.2.0/25", 6},
		{"192.0.2.200", "", ActionOK, "192.0.2.0/24", 7}, // most specific CIDR wins
		{"198.51.100.7", "", ActionDiscard, "198.51.100.7", 8},
		{"::ffff:198.51.100.7", "", ActionDiscard, "198.51.100.7", 8}, // v4-mapped
		{"2001:db8:1::5", "", ActionRelay, "2001:db8:1::/48", 9},
		{"2001:db8::25", "", ActionReject, "2001:db8::25", 10},
		{"2001:db8::26", "", 0, "", 0},
		{"2001:db8:ff:1::1", "", ActionError, "2001:db8:ff::/48", 11},
		{"203.0.113.1", "mx.example.com", ActionRelay, "example.com", 12},
		{"203.0.113.1", "MX.Example.COM.", ActionRelay, "example.com", 12},
		{"203.0.113.1", "badexample.com", 0, "", 0}, // label boundary
		{"203.0.113.1", "x.bad.example.com", ActionReject, "bad.example.com", 13},
		{"203.0.113.9", "[203.0.113.9]", ActionOK, "[203.0.113.9]", 14},
		{"203.0.113.1", "mail.spammer.net", ActionError, "spammer.net", 15},
		// host name is looked up before the address
		{"192.168.2.1", "a.example.com", ActionRelay, "example.com", 12},
		// untagged keys apply to connections
		{"172.16.5.5", "", ActionOK, "172.16", 28},
		{"203.0.113.1", "untagged.example", ActionReject, "untagged.example", 27},
	}
	for _, tt := range tests {
		e, ok := a.Connect(netip.MustParseAddr(tt.ip), tt.host)
		if tt.key == "" {
			if ok {
				t.Errorf("Connect(%s, %q) = %s, want no match", tt.ip, tt.host, e.Rule())
			}
			continue
		}
		if !ok || e.Action != tt.want || e.Key != tt.key || e.Source.Line != tt.line {
			t.Errorf("Connect(%s, %q) = %v %+v, want %v key %q line %d", tt.ip, tt.host, ok, e, tt.want, tt.key, tt.line)
		}
		if ok && e.Lookup != TagConnect {
			t.Errorf("Connect lookup tag %q", e.Lookup)
		}
	}
}

func TestAccessFromTo(t *testing.T) {
	a := mustAccess(t, testAccess)
	tests := []struct {
		fn   func(string) (AccessEntry, bool)
		addr string
		want Action
		key  string
	}{
		{a.From, "spammer@aol.com", ActionReject, "spammer@aol.com"},
		{a.From, "Spammer@AOL.com.", ActionReject, "spammer@aol.com"},
		{a.From, "other@aol.com", 0, ""},
		{a.From, "x@cyberspammer.com", ActionError, "cyberspammer.com"},
		{a.From, "x@mail.cyberspammer.com", ActionError, "cyberspammer.com"},
		{a.From, "x@okay.cyberspammer.com", ActionOK, "okay.cyberspammer.com"},
		{a.From, "x@notcyberspammer.com", 0, ""},
		{a.From, "free.stealth.mailer@anywhere.org", ActionError, "free.stealth.mailer@"},
		{a.From, "free.stealth.mailer", ActionError, "free.stealth.mailer@"}, // unqualified
		{a.From, "", ActionError, "<>"},
		{a.From, "<>", ActionError, "<>"},
		{a.From, "user+tag@detail.example", ActionReject, "user+*@detail.example"},
		{a.From, "user@detail.example", 0, ""},
		{a.From, "spammer+x@aol.com", ActionReject, "spammer@aol.com"}, // +detail falls back to user@domain
		{a.From, "a@[192.0.2.7]", ActionOK, "[192.0.2]"},
		{a.From, "a@[192.0.3.7]", 0, ""},
		{a.From, "a@untagged.example", ActionReject, "untagged.example"},
		{a.To, "x@friend.domain", ActionRelay, "friend.domain"},
		{a.To, "x@sub.friend.domain", ActionRelay, "friend.domain"},
		{a.To, "abuse@my.tld", ActionOK, "abuse@"},
		{a.To, "user@other.my.tld", ActionError, "user@other.my.tld"},
		{a.To, "x@cyberspammer.com", 0, ""}, // From: entries do not apply to To
		{a.To, "x@untagged.example", ActionReject, "untagged.example"},
	}
	for _, tt := range tests {
		e, ok := tt.fn(tt.addr)
		if tt.key == "" {
			if ok {
				t.Errorf("lookup(%q) = %s, want no match", tt.addr, e.Rule())
			}
			continue
		}
		if !ok || e.Action != tt.want || e.Key != tt.key {
			t.Errorf("lookup(%q) = %v %+v, want %v %q", tt.addr, ok, e, tt.want, tt.key)
		}
	}
}

func TestAccessOrderFullBeforeUserBeforeDomain(t *testing.T) {
	a := mustAccess(t, `From:example.com REJECT
From:bob@ DISCARD
From:bob@example.com OK
From:sub.example.com RELAY
`)
	for addr, want := range map[string]Action{
		"bob@example.com":    ActionOK,      // full address first
		"bob@x.example.com":  ActionDiscard, // then user@ before the domain
		"al@example.com":     ActionReject,
		"al@sub.example.com": ActionRelay, // nearest parent first
	} {
		e, ok := a.From(addr)
		if !ok || e.Action != want {
			t.Errorf("From(%q) = %v, want %v", addr, e.Action, want)
		}
	}
	// Tagged before untagged at the same key; more specific untagged key
	// before a less specific tagged one (sendmail tries both per key).
	b := mustAccess(t, "example.com OK\nFrom:example.com REJECT\nsub.example.com DISCARD\n")
	if e, _ := b.From("x@example.com"); e.Action != ActionReject {
		t.Errorf("tagged should win at same key, got %v", e.Action)
	}
	if e, _ := b.From("x@sub.example.com"); e.Action != ActionDiscard || e.Tag != "" {
		t.Errorf("untagged more specific key should win, got %+v", e)
	}
}

func TestAccessRelaysAndWarnings(t *testing.T) {
	a := mustAccess(t, testAccess)
	e, _ := a.From("x@partner.example")
	if e.Relays(false) {
		t.Error("From: RELAY honoured without allow_sender_relay")
	}
	if !e.Relays(true) {
		t.Error("From: RELAY not honoured with allow_sender_relay")
	}
	e, _ = a.To("x@friend.domain")
	if !e.Relays(false) {
		t.Error("To: RELAY not honoured")
	}
	var sawFrom, sawIgnored bool
	for _, w := range a.Warnings() {
		if strings.Contains(w.Msg, "From:partner.example RELAY relays on a forgeable sender") && w.Source.Line == 21 {
			sawFrom = true
		}
		if strings.Contains(w.Msg, "GreetPause") && w.Source.Line == 36 {
			sawIgnored = true
		}
	}
	if !sawFrom || !sawIgnored {
		t.Errorf("warnings = %v", a.Warnings())
	}
	b := mustAccess(t, "my.domain RELAY\n")
	if len(b.Warnings()) != 1 || !strings.Contains(b.Warnings()[0].Msg, "untagged") {
		t.Errorf("untagged RELAY warning missing: %v", b.Warnings())
	}
	if e, _ := b.From("u@my.domain"); e.Relays(false) {
		t.Error("untagged RELAY found by a From lookup must count as sender relay")
	}
}

func TestAccessRatesAndTLS(t *testing.T) {
	a := mustAccess(t, testAccess)
	for _, tt := range []struct {
		ip   string
		rate int
		conn int
		cok  bool
	}{
		{"192.0.2.1", 2, 3, true},
		{"192.0.2.2", 10, 3, true},
		{"198.51.100.9", 0, 0, false},
		{"203.0.113.1", 10, 0, false},
	} {
		ip := netip.MustParseAddr(tt.ip)
		r, ok := a.ClientRate(ip)
		if !ok || r.Number != tt.rate {
			t.Errorf("ClientRate(%s) = %v %d, want %d", tt.ip, ok, r.Number, tt.rate)
		}
		c, ok := a.ClientConn(ip)
		if ok != tt.cok || c.Number != tt.conn {
			t.Errorf("ClientConn(%s) = %v %d, want %v %d", tt.ip, ok, c.Number, tt.cok, tt.conn)
		}
	}
	// ClientRate entries do not leak into Connect lookups.
	if e, ok := a.Connect(netip.MustParseAddr("192.0.2.1"), ""); !ok || e.Tag != TagConnect {
		t.Errorf("Connect got %+v", e)
	}
	for host, want := range map[string]TLSPolicy{
		"mx.broken.example": TLSNever, "partner.example": TLSRequired, "other.example": TLSDefault,
	} {
		e, ok := a.TryTLS(host, netip.Addr{})
		if e.TLS != want || ok != (want != TLSDefault) {
			t.Errorf("TryTLS(%s) = %v %v, want %v", host, ok, e.TLS, want)
		}
	}
	if e, ok := a.TryTLS("", netip.MustParseAddr("192.0.2.99")); !ok || e.TLS != TLSNever {
		t.Errorf("TryTLS by IP = %v %v", ok, e.TLS)
	}
}

func TestAccessReply(t *testing.T) {
	a := mustAccess(t, testAccess)
	tests := []struct {
		addr      string
		code      int
		enh, text string
	}{
		{"x@cyberspammer.com", 550, "5.7.1", "We don't accept mail from spammers"},
		{"user@other.my.tld", 450, "4.2.2", "mailbox full"},
		{"spammer@aol.com", 550, "5.7.1", "access denied"},
		{"free.stealth.mailer@x.org", 550, "5.7.1", "Spam not accepted"},
	}
	for _, tt := range tests {
		e, ok := a.From(tt.addr)
		if !ok {
			e, ok = a.To(tt.addr)
		}
		code, enh, text := e.Reply()
		if !ok || code != tt.code || enh != tt.enh || text != tt.text {
			t.Errorf("%s: Reply = %d %s %q, want %d %s %q", tt.addr, code, enh, text, tt.code, tt.enh, tt.text)
		}
	}
	e, _ := a.Connect(netip.MustParseAddr("1.1.1.1"), "x.spammer.net")
	if code, _, text := e.Reply(); code != 550 || text != "no spam" {
		t.Errorf("quoted error: %d %q", code, text)
	}
	if !strings.Contains(e.Rule(), "access line 15: Connect:spammer.net ERROR:550 no spam") {
		t.Errorf("Rule() = %q", e.Rule())
	}
	e, _ = a.Connect(netip.MustParseAddr("2001:db8:ff::9"), "")
	if code, enh, _ := e.Reply(); code != 451 || enh != "4.7.1" {
		t.Errorf("4xx error: %d %s", code, enh)
	}
}

func TestAccessErrors(t *testing.T) {
	in := `Connect:192.168.2 REJECT
Connect:1.2.3.4
Connect:300.1 OK
Bogus:example.com OK
From:x@example.com MAYBE
From:y@example.com ERROR:5.7.1:450 mismatch
From:z@example.com ERROR:250 not an error
Connect:user@example.com OK
Connect:192.168.2 OK
ClientRate:192.0.2.1 lots
ClientRate:example.com 3
Connect:10.0.0.1/8 OK
To:bad..domain OK
Try_TLS:x.example PERHAPS
From:a@b.example SKIP
Connect: OK
`
	_, err := ParseAccess("/etc/postern/access", strings.NewReader(in))
	var pe ParseErrors
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	wantLines := []int{2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	if len(pe) != len(wantLines) {
		t.Fatalf("got %d errors, want %d:\n%v", len(pe), len(wantLines), err)
	}
	for i, l := range wantLines {
		if pe[i].Line != l || pe[i].File != "/etc/postern/access" {
			t.Errorf("error %d at %s:%d, want line %d: %s", i, pe[i].File, pe[i].Line, l, pe[i].Msg)
		}
	}
	if !strings.Contains(err.Error(), "/etc/postern/access:9: duplicate key") {
		t.Errorf("duplicate message: %v", err)
	}
}

// TestIsDSN checks the enhanced-code test against the pattern it replaced,
// ^[245]\.\d{1,3}\.\d{1,3}$, on its edge cases.
func TestIsDSN(t *testing.T) {
	re := regexp.MustCompile(`^([245])\.(\d{1,3})\.(\d{1,3})$`)
	for _, s := range []string{
		"5.7.1", "4.0.0", "2.1.5", "5.999.999", "5.100.1", "3.7.1", "6.7.1", "5.7", "5..1", "5.7.",
		".7.1", "5.7.1.", "5.7.1.2", "5.1234.1", "5.1.1234", "5,7,1", "5.a.1", "5.7.x", "55.7.1",
		"5.7.1 ", " 5.7.1", "5.-1.1", "5.+1.1", "", "5", "5.", "5.٣.1", "5.7.1\n",
	} {
		if got, want := isDSN(s), re.MatchString(s); got != want {
			t.Errorf("isDSN(%q) = %v, the pattern says %v", s, got, want)
		}
	}
}
