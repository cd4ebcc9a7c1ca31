package submit

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/mail"

	"postern/internal/inbound"
	"postern/internal/maps"
	"postern/internal/smtp"
	"postern/internal/smtpd"
)

// LoginCheck keeps a client logged in with AUTH to the sender addresses
// it owns (Postfix's reject_authenticated_sender_login_mismatch), for
// the envelope sender at MAIL FROM and the From: addresses at the end of
// DATA, on every network listener. Which addresses a login owns is
// maps.Owns: its own, the sender-login map's, and those its aliases and
// virtusertable entries deliver to it. It runs before DKIM signing, so
// nothing is signed for an address the login may not use.
type LoginCheck struct {
	Maps    func() *maps.Maps // the current maps; nil or nil result: none
	IsLocal func(domain string) bool
	// Envelope and HeaderFrom turn the two checks on.
	Envelope, HeaderFrom bool
	Log                  *slog.Logger // nil: no log
}

// Owns reports whether login may use addr, and the rule that says so.
func (c *LoginCheck) Owns(login, addr string) (bool, string) {
	var m *maps.Maps
	if c.Maps != nil {
		m = c.Maps()
	}
	return m.Owns(login, addr, c.IsLocal)
}

// applies is true for sessions logged in over the network; local
// submission has its own rule ([local] sender_check).
func applies(conn *inbound.Conn) bool {
	return conn.AuthUser != "" && conn.Mode != smtpd.ModeLocal
}

// CheckMail implements inbound.MailChecker. The null sender has no
// owner (auto-replies and bounces use it) and is let through.
func (c *LoginCheck) CheckMail(ctx context.Context, t *inbound.Txn) *inbound.Verdict {
	if !c.Envelope || !applies(t.Conn) || t.From.IsNull() {
		return nil
	}
	login, from := t.Conn.AuthUser, t.From.String()
	ok, rule := c.Owns(login, from)
	if ok {
		return nil
	}
	c.logRefusal(ctx, t, "envelope", from, rule)
	return &inbound.Verdict{
		Reply: &smtp.Reply{Code: 553, Enhanced: "5.7.1",
			Text: fmt.Sprintf("<%s>: sender address rejected: not owned by user %s", from, headerWord(login))},
		Rule: "sender_login: " + rule + " ([sender_login] envelope = \"refuse\")",
	}
}

// CheckData implements inbound.DataChecker: every address of every From:
// field. RFC 5321 4.3.2 lists 550 for a refusal at the end of DATA.
func (c *LoginCheck) CheckData(ctx context.Context, t *inbound.Txn, m *inbound.Message) *inbound.Verdict {
	if !c.HeaderFrom || !applies(t.Conn) {
		return nil
	}
	login := t.Conn.AuthUser
	for _, v := range m.Header().Values("From") {
		list, err := fromParser.ParseList(v)
		if err != nil {
			return &inbound.Verdict{
				Reply: &smtp.Reply{Code: 550, Enhanced: "5.6.0", Text: "From: header does not parse as a list of addresses; postern cannot tell whose address it is"},
				Rule:  fmt.Sprintf("sender_login: From: %q does not parse (%v)", headerWord(v), err),
			}
		}
		for _, a := range list {
			ok, rule := c.Owns(login, a.Address)
			if ok {
				continue
			}
			c.logRefusal(ctx, t, "From:", a.Address, rule)
			return &inbound.Verdict{
				Reply: &smtp.Reply{Code: 550, Enhanced: "5.7.1",
					Text: fmt.Sprintf("From: address %s is not owned by user %s", headerWord(a.Address), headerWord(login))},
				Rule: "sender_login: From: " + rule + " ([sender_login] header_from = \"refuse\")",
			}
		}
	}
	return nil
}

func (c *LoginCheck) logRefusal(ctx context.Context, t *inbound.Txn, where, addr, rule string) {
	if c.Log != nil {
		c.Log.InfoContext(ctx, "sender not owned by login", "conn", t.Conn.ID, "user", t.Conn.AuthUser, "where", where, "address", addr, "rule", rule)
	}
}

// fromParser reads From: fields whatever the charset of their display
// names: only the addresses matter here.
var fromParser = mail.AddressParser{WordDecoder: &mime.WordDecoder{
	CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil },
}}
