package submit

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"postern/internal/inbound"
	"postern/internal/smtp"
	"postern/internal/smtpd"
)

// SenderCheck decides which envelope senders a local user may use
// (sendmail -f): a trusted user any, everyone else only their own address
// (login@ the host name or a local domain). A foreign sender is refused,
// or with Warn accepted and marked with an X-Authentication-Warning
// header, as sendmail marks it for users outside its trusted class.
// It only looks at local submissions (smtpd.ModeLocal).
type SenderCheck struct {
	Hostname string // our host name, always a local domain
	// IsLocal reports whether a domain is delivered here (local_domains,
	// local-host-names); nil means only Hostname.
	IsLocal func(domain string) bool
	// Trusted are the uids that may use any sender: root, the server's
	// own user and [local] trusted_users.
	Trusted map[int]bool
	// Warn accepts a foreign sender with a warning header instead of
	// refusing it.
	Warn bool
	Log  *slog.Logger // nil: no log
}

type warnKey struct{}

// Own reports whether from is the local user's own address: the login
// name as local part (case-insensitively, as login names are compared by
// mail systems) at the host name or a local domain.
func (s *SenderCheck) Own(user string, from smtp.Path) bool {
	if from.IsNull() || user == "" || !strings.EqualFold(from.Local, user) {
		return false
	}
	if from.Domain == s.Hostname {
		return true
	}
	return s.IsLocal != nil && s.IsLocal(from.Domain)
}

// CheckMail implements inbound.MailChecker.
func (s *SenderCheck) CheckMail(ctx context.Context, t *inbound.Txn) *inbound.Verdict {
	c := t.Conn
	if c.Mode != smtpd.ModeLocal {
		return nil
	}
	if s.Trusted[c.PeerUID] || s.Own(c.LocalUser, t.From) {
		return nil
	}
	from := t.From.String()
	if t.From.IsNull() {
		from = "<>"
	}
	own := c.LocalUser + "@" + s.Hostname
	if s.Warn {
		t.Values[warnKey{}] = from
		if s.Log != nil {
			s.Log.InfoContext(ctx, "local sender set", "conn", c.ID, "user", c.LocalUser, "uid", c.PeerUID, "from", from)
		}
		return nil
	}
	// The local user gets the real reason: this is not a network peer.
	return &inbound.Verdict{
		Reply: &smtp.Reply{Code: 550, Enhanced: "5.7.1",
			Text: fmt.Sprintf("user %s may not send as %s; leave -f out to send as %s", c.LocalUser, from, own)},
		Rule: fmt.Sprintf("local user %s (uid %d) set sender %s: not their own address and not a trusted user ([local] sender_check = \"refuse\")",
			c.LocalUser, c.PeerUID, from),
	}
}

// CheckData implements inbound.DataChecker: the warning header for a
// sender the user set.
func (s *SenderCheck) CheckData(ctx context.Context, t *inbound.Txn, m *inbound.Message) *inbound.Verdict {
	from, ok := t.Values[warnKey{}].(string)
	if !ok {
		return nil
	}
	// sendmail's wording, so that existing filters recognise it.
	t.AddHeader("X-Authentication-Warning", fmt.Sprintf("%s: %s set sender to %s using -f", s.Hostname, headerWord(t.Conn.LocalUser), headerWord(from)))
	return nil
}

// headerWord keeps a value on one header line.
func headerWord(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, s)
}
