package policy

import (
	"net/netip"
	"testing"

	"postern/internal/smtp"
)

type userSet map[string]bool

func (u userSet) Exists(a string) bool { return u[a] }

func testRelay() *Relay {
	return &Relay{
		Hostname:   "mx.example.test",
		Local:      []Domains{NewDomainList("local_domains", false, []string{"example.test"})},
		Relay:      []Domains{NewDomainList("relay_domains", true, []string{"backup.test"})},
		Trusted:    []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("2001:db8::/48")},
		OwnAddrs:   []netip.Addr{netip.MustParseAddr("192.0.2.25")},
		Users:      userSet{"alice@example.test": true, "bob@mx.example.test": true},
		Postmaster: "alice@example.test",
	}
}

func TestRelayDecisions(t *testing.T) {
	r := testRelay()
	stranger := netip.MustParseAddr("203.0.113.9")
	trusted := netip.MustParseAddr("10.1.2.3")
	tests := []struct {
		name    string
		client  netip.Addr
		auth    string
		rcpt    string // as after "RCPT TO:"
		code    int    // 0 = accepted
		class   Class
		mailbox string
	}{
		{"local user", stranger, "", "<alice@example.test>", 0, Local, "alice@example.test"},
		{"local user upper case", stranger, "", "<ALICE@EXAMPLE.TEST>", 0, Local, "alice@example.test"},
		{"local user trailing dot", stranger, "", "<alice@example.test.>", 0, Local, "alice@example.test"},
		{"hostname is local", stranger, "", "<bob@mx.example.test>", 0, Local, "bob@mx.example.test"},
		{"unknown local user", stranger, "", "<nobody@example.test>", 550, 0, ""},
		{"unknown local user from trusted", trusted, "", "<nobody@example.test>", 550, 0, ""},
		{"postmaster", stranger, "", "<Postmaster@example.test>", 0, Local, "alice@example.test"},
		{"bare postmaster", stranger, "", "<postmaster>", 0, Local, "alice@example.test"},
		{"relay domain", stranger, "", "<x@backup.test>", 0, RelayDomain, "x@backup.test"},
		{"relay subdomain", stranger, "", "<x@a.backup.test>", 0, RelayDomain, "x@a.backup.test"},
		{"relay label suffix", stranger, "", "<x@evilbackup.test>", 550, 0, ""},
		{"remote from stranger", stranger, "", "<x@elsewhere.test>", 550, 0, ""},
		{"remote from trusted", trusted, "", "<x@elsewhere.test>", 0, Outbound, "x@elsewhere.test"},
		{"remote from trusted v6", netip.MustParseAddr("2001:db8:0:1::5"), "", "<x@elsewhere.test>", 0, Outbound, "x@elsewhere.test"},
		{"remote from v4-mapped trusted", netip.MustParseAddr("::ffff:10.1.2.3"), "", "<x@elsewhere.test>", 0, Outbound, "x@elsewhere.test"},
		{"remote authenticated", stranger, "alice@example.test", "<x@elsewhere.test>", 0, Outbound, "x@elsewhere.test"},
		{"remote from a local user", netip.Addr{}, "www-data", "<x@elsewhere.test>", 0, Outbound, "x@elsewhere.test"},
		{"remote from local submission without a user", netip.Addr{}, "", "<x@elsewhere.test>", 550, 0, ""},
		{"local user from local submission", netip.Addr{}, "www-data", "<alice@example.test>", 0, Local, "alice@example.test"},
		// The classic open-relay probe set: none may pass for a stranger.
		{"percent hack", stranger, "", "<x%elsewhere.test@example.test>", 550, 0, ""},
		{"bang path", stranger, "", "<elsewhere.test!x@example.test>", 550, 0, ""},
		{"quoted local part", stranger, "", `<"x@elsewhere.test"@example.test>`, 550, 0, ""},
		{"quoted existing user", stranger, "", `<"alice"@example.test>`, 550, 0, ""},
		{"source route to remote", stranger, "", "<@example.test:x@elsewhere.test>", 550, 0, ""},
		{"source route to local", stranger, "", "<@elsewhere.test:alice@example.test>", 0, Local, "alice@example.test"},
		{"our IP literal", stranger, "", "<bob@[192.0.2.25]>", 0, Local, "bob@mx.example.test"},
		{"foreign IP literal", stranger, "", "<x@[198.51.100.1]>", 550, 0, ""},
		{"label suffix", stranger, "", "<x@notexample.test>", 550, 0, ""},
		{"local domain as suffix", stranger, "", "<x@example.test.elsewhere.test>", 550, 0, ""},
		{"subdomain of local is not local", stranger, "", "<alice@sub.example.test>", 550, 0, ""},
		{"invalid client (local submission)", netip.Addr{}, "", "<x@elsewhere.test>", 550, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _, rep := smtp.ParseRcpt("TO:"+tt.rcpt, smtp.ParseOptions{})
			if rep != nil {
				if tt.code == 0 {
					t.Fatalf("parse %s: %v", tt.rcpt, rep)
				}
				return // refused by the parser: fine for a probe
			}
			d := r.Rcpt(tt.client, tt.auth, path)
			if d.Rule == "" {
				t.Errorf("no rule given")
			}
			if tt.code != 0 {
				if d.Accepted() || d.Reply.Code != tt.code {
					t.Fatalf("got %+v (%s), want %d", d.Reply, d.Rule, tt.code)
				}
				return
			}
			if !d.Accepted() || d.Class != tt.class || d.Mailbox != tt.mailbox {
				t.Fatalf("got reply=%v class=%v mailbox=%q rule=%q; want class %v mailbox %q", d.Reply, d.Class, d.Mailbox, d.Rule, tt.class, tt.mailbox)
			}
		})
	}
}

// downUsers are users nobody could read (a users table down past its
// stale period).
type downUsers struct{ userSet }

func (downUsers) UnavailableText() string { return "users table t: connection refused" }

// TestRelayUsersDown: with the users unknown, a local recipient waits
// (451), never a "no such user"; what needs no user is decided as ever.
func TestRelayUsersDown(t *testing.T) {
	r := testRelay()
	r.Users = downUsers{userSet{"alice@example.test": true}}
	stranger := netip.MustParseAddr("203.0.113.9")
	for rcpt, want := range map[string]int{"<alice@example.test>": 451, "<nobody@example.test>": 451, "<x@elsewhere.test>": 550, "<x@backup.test>": 0} {
		path, _, _ := smtp.ParseRcpt("TO:"+rcpt, smtp.ParseOptions{})
		d := r.Rcpt(stranger, "", path)
		switch {
		case d.Accepted() && want != 0:
			t.Errorf("%s accepted (%s), want %d", rcpt, d.Rule, want)
		case !d.Accepted() && d.Reply.Code != want:
			t.Errorf("%s: %d (%s), want %d", rcpt, d.Reply.Code, d.Rule, want)
		}
	}
}
