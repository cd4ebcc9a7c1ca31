package policy

import (
	"net/netip"
	"strings"
	"testing"

	"postern/internal/maps"
	"postern/internal/smtp"
)

// primaryAnswers stands for a backupmx.Verifier: the primary's answers by
// address (a missing address: the primary cannot be asked).
type primaryAnswers map[string]*smtp.Reply

func (p primaryAnswers) Match(domain string) (string, bool, bool) {
	switch domain {
	case "backup.test":
		return "backup_mx backup.test (verify = callout)", true, true
	case "listed.test":
		return "backup_mx listed.test (verify = maps)", false, true
	}
	return "", false, false
}

func (p primaryAnswers) Callout(addr string) (*smtp.Reply, string) {
	rep, ok := p[addr]
	if !ok {
		return &smtp.Reply{Code: 451, Enhanced: "4.4.1", Text: "no answer"}, "no primary answered"
	}
	return rep, "asked"
}

// A backup-MX domain takes only verified recipients, from any client,
// before relay_domains (backup.test is in both); it opens no relay.
func TestBackupMXDecisions(t *testing.T) {
	r := testRelay()
	r.BackupMX = primaryAnswers{
		"bob@backup.test":  nil,
		"gone@backup.test": {Code: 550, Enhanced: "5.1.1", Text: "User unknown in relay recipient table"},
	}
	m := testMaps(t, "To:blocked@backup.test REJECT\n", "carol@listed.test x@y.test\n@listed.test catchall@y.test\nold@listed.test error:nouser left\n", "")
	r.Maps = func() *maps.Maps { return m }
	stranger := netip.MustParseAddr("203.0.113.9")
	trusted := netip.MustParseAddr("10.1.2.3")
	tests := []struct {
		client netip.Addr
		auth   string
		rcpt   string
		code   int
		class  Class
		rule   string
	}{
		{stranger, "", "bob@backup.test", 0, RelayDomain, "asked"},
		{stranger, "", "bob@BACKUP.test", 0, RelayDomain, "asked"},
		{stranger, "", "gone@backup.test", 550, 0, "asked"},
		{stranger, "", "nobody@backup.test", 451, 0, "no primary answered"},
		// A trusted or logged-in client gets no 250 for an unknown one.
		{trusted, "", "nobody@backup.test", 451, 0, "no primary"},
		{stranger, "alice", "gone@backup.test", 550, 0, "asked"},
		// The access map's REJECT still comes first.
		{stranger, "", "blocked@backup.test", 550, 0, "refused by"},
		{stranger, "", "carol@listed.test", 0, RelayDomain, "verified by virtusertable"},
		{stranger, "", "dave@listed.test", 550, 0, "no entry of its own"},
		{stranger, "", "old@listed.test", 550, 0, "virtusertable"},
		// Everything else is as before: no relay for strangers.
		{stranger, "", "bob@elsewhere.test", 550, 0, "neither a local nor a relay domain"},
		{stranger, "", "bob@sub.backup.test", 0, RelayDomain, "relay_domains"},
	}
	for _, tt := range tests {
		p, _, rep := smtp.ParseRcpt("TO:<"+tt.rcpt+">", smtp.ParseOptions{})
		if rep != nil {
			t.Fatal(rep)
		}
		d := r.Decide(Query{Client: tt.client, AuthUser: tt.auth, To: p})
		code := 0
		if d.Reply != nil {
			code = d.Reply.Code
		}
		if code != tt.code || d.Accepted() && d.Class != tt.class || !strings.Contains(d.Rule, tt.rule) {
			t.Errorf("%s from %s: got %d %v %q, want %d %v %q", tt.rcpt, tt.client, code, d.Class, d.Rule, tt.code, tt.class, tt.rule)
		}
	}
	if d := r.Decide(Query{Client: stranger, To: smtp.Path{Local: "gone", Domain: "backup.test"}}); d.Reply == nil || !strings.Contains(d.Reply.Text, "relay recipient table") {
		t.Errorf("the primary's text not passed on: %+v", d.Reply)
	}
}
