package policy

import (
	"net/netip"
	"strings"
	"testing"

	"postern/internal/maps"
	"postern/internal/smtp"
)

const testAccess = `
Connect:192.0.2          RELAY
Connect:192.0.2.128/25   REJECT
Connect:192.0.2.7        SKIP
Connect:relay.partner.test RELAY
Connect:partner.test     ERROR:4.7.1:451 come back later
Connect:198.51.100.9     DISCARD
Connect:198.51.100.20    OK
From:friend.test         RELAY
From:spammer@bad.test    REJECT
From:bad.test            OK
To:olduser@example.test  ERROR:5.1.1:550 This person left
To:relayed.test          RELAY
To:abuse@example.test    OK
To:sink.example.test     DISCARD
To:blocked.test          REJECT
`

const testVirt = `
info@example.test        alice
sales@example.test       bob@elsewhere.test
john+*@example.test      john-lists
@virt.test               %1@mailhost.test
@keep.test               %1%3@mailhost.test
gone@example.test        error:nouser This address is no longer in use
@closed.test             error:5.7.0:550 Domain closed
@closed.test             error:nouser
`

const testAliases = `
root:     alice
staff:    alice, bob@elsewhere.test
john-lists: alice
`

func testMaps(t *testing.T, access, virt, aliases string) *maps.Maps {
	t.Helper()
	m := &maps.Maps{}
	var err error
	if m.Access, err = maps.ParseAccess("/etc/postern/access", strings.NewReader(access)); err != nil {
		t.Fatal(err)
	}
	if m.Virtusertable, err = maps.ParseVirtusertable("/etc/postern/virtusertable", strings.NewReader(virt)); err != nil {
		t.Fatal(err)
	}
	if m.Aliases, err = maps.ParseAliases("/etc/postern/aliases", strings.NewReader(aliases)); err != nil {
		t.Fatal(err)
	}
	return m
}

func mapRelay(t *testing.T) *Relay {
	r := testRelay()
	r.Local = append(r.Local, NewDomainList("local-host-names", false, []string{"virt.test", "keep.test", "closed.test"}))
	// The duplicate catch-all above must be an error: build without it.
	m := testMaps(t, testAccess, strings.Replace(testVirt, "@closed.test             error:nouser\n", "", 1), testAliases)
	r.Maps = func() *maps.Maps { return m }
	return r
}

func TestVirtusertableDuplicateIsError(t *testing.T) {
	if _, err := maps.ParseVirtusertable("v", strings.NewReader(testVirt)); err == nil {
		t.Fatal("duplicate key accepted")
	}
}

func TestDecideWithMaps(t *testing.T) {
	stranger := netip.MustParseAddr("203.0.113.9")
	tests := []struct {
		name       string
		client     string
		clientName string
		auth       string
		from       string
		rcpt       string
		allowFrom  bool
		luser      string
		code       int // 0 = accepted
		class      Class
		mailbox    string
		rule       string // a part of the rule
		skip       bool
	}{
		// Connect: prefixes against CIDR: the longest prefix wins.
		{name: "connect octet prefix relays", client: "192.0.2.5", rcpt: "x@elsewhere.test", class: Outbound, mailbox: "x@elsewhere.test", rule: "access line 2: Connect:192.0.2 RELAY", skip: true},
		{name: "connect OK exempts from later checks", client: "198.51.100.20", rcpt: "alice@example.test", class: Local, rule: "Connect:198.51.100.20 OK: later recipient checks skipped", skip: true},
		{name: "connect OK does not relay", client: "198.51.100.20", rcpt: "x@elsewhere.test", code: 550},
		{name: "from OK exempts from nothing", client: "203.0.113.9", from: "a@bad.test", rcpt: "alice@example.test", class: Local},
		{name: "connect CIDR /25 longer than /24 rejects", client: "192.0.2.200", rcpt: "x@elsewhere.test", code: 550, rule: "Connect:192.0.2.128/25 REJECT"},
		{name: "connect CIDR rejects even local mail", client: "192.0.2.200", rcpt: "alice@example.test", code: 550},
		{name: "connect SKIP exempts one address", client: "192.0.2.7", rcpt: "x@elsewhere.test", code: 550, rule: "no access Connect: RELAY"},
		{name: "connect octet prefix is whole octets", client: "192.0.20.5", rcpt: "x@elsewhere.test", code: 550},
		{name: "connect host name relays", client: "203.0.113.1", clientName: "relay.partner.test", rcpt: "x@elsewhere.test", class: Outbound, rule: "Connect:relay.partner.test RELAY", skip: true},
		{name: "connect parent domain error", client: "203.0.113.1", clientName: "mx.partner.test", rcpt: "alice@example.test", code: 451, rule: "Connect:partner.test"},
		{name: "connect name without verification unused", client: "203.0.113.1", rcpt: "x@elsewhere.test", code: 550},
		{name: "connect v4-mapped", client: "::ffff:192.0.2.5", rcpt: "x@elsewhere.test", class: Outbound, skip: true},
		// From: RELAY only with allow_sender_relay.
		{name: "from relay refused by default", client: "203.0.113.9", from: "a@friend.test", rcpt: "x@elsewhere.test", code: 550, rule: "not honoured: allow_sender_relay is false"},
		{name: "from relay parent domain allowed", client: "203.0.113.9", from: "a@mail.friend.test", allowFrom: true, rcpt: "x@elsewhere.test", class: Outbound, rule: "allow_sender_relay = true"},
		{name: "from OK does not relay", client: "203.0.113.9", from: "a@bad.test", allowFrom: true, rcpt: "x@elsewhere.test", code: 550},
		// To:
		{name: "to error refuses a local address", client: "203.0.113.9", rcpt: "olduser@example.test", code: 550, rule: "To:olduser@example.test"},
		{name: "to error refuses even from trusted", client: "10.1.2.3", rcpt: "olduser@example.test", code: 550},
		{name: "to relay domain", client: "203.0.113.9", rcpt: "x@relayed.test", class: RelayDomain, mailbox: "x@relayed.test", rule: "To:relayed.test RELAY"},
		{name: "to relay parent domain", client: "203.0.113.9", rcpt: "x@a.relayed.test", class: RelayDomain},
		{name: "to relay label suffix", client: "203.0.113.9", rcpt: "x@notrelayed.test", code: 550},
		{name: "to reject parent", client: "10.1.2.3", rcpt: "x@sub.blocked.test", code: 550, rule: "To:blocked.test REJECT"},
		{name: "to OK skips later checks", client: "203.0.113.9", rcpt: "abuse@example.test", luser: "alice", class: Local, skip: true},
		{name: "to OK does not create a user", client: "203.0.113.9", rcpt: "abuse@example.test", code: 550},
		// virtusertable
		{name: "virt exact to local name", client: "203.0.113.9", rcpt: "Info@example.test", class: Local, mailbox: "alice@example.test", rule: "virtusertable line 2"},
		{name: "virt exact to remote", client: "203.0.113.9", rcpt: "sales@example.test", class: Forward, mailbox: "bob@elsewhere.test"},
		{name: "virt +detail", client: "203.0.113.9", rcpt: "john+news@example.test", class: Local, mailbox: "john-lists@example.test", rule: "alias john-lists"},
		{name: "virt catch-all %1", client: "203.0.113.9", rcpt: "Whoever@virt.test", class: Forward, mailbox: "whoever@mailhost.test"},
		{name: "virt catch-all %1 with detail", client: "203.0.113.9", rcpt: "a+b@virt.test", class: Forward, mailbox: "a@mailhost.test"},
		{name: "virt catch-all %3 keeps detail", client: "203.0.113.9", rcpt: "a+b@keep.test", class: Forward, mailbox: "a+b@mailhost.test"},
		{name: "virt error nouser", client: "203.0.113.9", rcpt: "gone@example.test", code: 550, rule: "error:nouser"},
		{name: "virt error domain", client: "203.0.113.9", rcpt: "x@closed.test", code: 550},
		{name: "virt error spares postmaster", client: "203.0.113.9", rcpt: "postmaster@closed.test", class: Local, mailbox: "alice@example.test"},
		{name: "virt catch-all not for subdomain", client: "203.0.113.9", rcpt: "x@sub.virt.test", code: 550},
		{name: "virt quoted local part not substituted", client: "203.0.113.9", rcpt: `"x@evil.test"@virt.test`, code: 550},
		// aliases, luser_relay
		{name: "alias without mailbox exists", client: "203.0.113.9", rcpt: "Staff@example.test", class: Local, mailbox: "staff@example.test", rule: "alias staff (aliases line 3)"},
		{name: "alias in another local domain", client: "203.0.113.9", rcpt: "root@mx.example.test", class: Local, mailbox: "root@mx.example.test"},
		{name: "unknown user refused", client: "203.0.113.9", rcpt: "nobody@example.test", code: 550, rule: "no mailbox nobody@example.test and no alias"},
		{name: "luser relay local name", client: "203.0.113.9", rcpt: "nobody@example.test", luser: "alice", class: Local, mailbox: "alice@example.test", rule: "luser_relay"},
		{name: "luser relay remote", client: "203.0.113.9", rcpt: "nobody@example.test", luser: "catch@elsewhere.test", class: Forward, mailbox: "catch@elsewhere.test"},
		{name: "luser relay not for remote domains", client: "203.0.113.9", rcpt: "x@elsewhere.test", luser: "alice", code: 550},
		{name: "existing user wins over luser relay", client: "203.0.113.9", rcpt: "alice@example.test", luser: "catch@elsewhere.test", class: Local, mailbox: "alice@example.test"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mapRelay(t)
			r.AllowSenderRelay, r.LuserRelay = tc.allowFrom, tc.luser
			client := stranger
			if tc.client != "" {
				client = netip.MustParseAddr(tc.client)
			}
			to, _, rep := smtp.ParseRcpt("TO:<"+tc.rcpt+">", smtp.ParseOptions{SMTPUTF8: true})
			if rep != nil {
				t.Fatalf("parse %s: %v", tc.rcpt, rep)
			}
			q := Query{Client: client, ClientName: tc.clientName, AuthUser: tc.auth, To: to}
			if tc.from != "" {
				f, _, rep := smtp.ParseMail("FROM:<"+tc.from+">", smtp.ParseOptions{})
				if rep != nil {
					t.Fatal(rep)
				}
				q.From, q.HasFrom = f, true
			}
			d := r.Decide(q)
			code := 0
			if d.Reply != nil {
				code = d.Reply.Code
			}
			if code != tc.code {
				t.Fatalf("code %d, want %d (rule: %s)", code, tc.code, d.Rule)
			}
			if tc.code == 0 && d.Class != tc.class {
				t.Errorf("class %s, want %s (rule: %s)", d.Class, tc.class, d.Rule)
			}
			if tc.mailbox != "" && d.Mailbox != tc.mailbox {
				t.Errorf("mailbox %q, want %q (rule: %s)", d.Mailbox, tc.mailbox, d.Rule)
			}
			if !strings.Contains(d.Rule, tc.rule) {
				t.Errorf("rule %q does not contain %q", d.Rule, tc.rule)
			}
			if d.SkipChecks != tc.skip {
				t.Errorf("SkipChecks %v, want %v", d.SkipChecks, tc.skip)
			}
		})
	}
}

func TestAccessVerdicts(t *testing.T) {
	r := mapRelay(t)
	path := func(s string) smtp.Path {
		p, _, rep := smtp.ParseMail("FROM:<"+s+">", smtp.ParseOptions{})
		if rep != nil {
			t.Fatal(rep)
		}
		return p
	}
	if v := r.Mail(path("spammer@bad.test")); v.Reply == nil || v.Reply.Code != 550 || !strings.Contains(v.Rule, "From:spammer@bad.test REJECT") {
		t.Errorf("REJECT sender: %+v", v)
	}
	if v := r.Mail(path("other@bad.test")); v.Reply != nil || v.Rule == "" {
		t.Errorf("OK sender: %+v", v)
	}
	if v := r.Mail(path("x@nowhere.test")); v.Reply != nil || v.Rule != "" {
		t.Errorf("no entry: %+v", v)
	}
	if v := r.Connect(netip.MustParseAddr("198.51.100.9"), ""); v.Fate != FateDiscard {
		t.Errorf("DISCARD client: %+v", v)
	}
	if v := r.Connect(netip.MustParseAddr("192.0.2.7"), ""); v.Rule != "" {
		t.Errorf("SKIP client: %+v", v)
	}
	if v := r.RcptFate(path("x@sink.example.test")); v.Fate != FateDiscard {
		t.Errorf("DISCARD recipient: %+v", v)
	}
	// Without maps nothing is decided by the access map.
	r.Maps = nil
	if v := r.Mail(path("spammer@bad.test")); v.Reply != nil {
		t.Errorf("no maps: %+v", v)
	}
}
