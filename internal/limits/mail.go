package limits

import (
	"context"
	"fmt"
	"strings"

	"postern/internal/envelope"
	"postern/internal/inbound"
	"postern/internal/smtp"
)

// CheckMail implements inbound.MailChecker: messages per authenticated
// user (each MAIL FROM counts, as Postfix's anvil does).
func (l *Limits) CheckMail(ctx context.Context, t *inbound.Txn) *inbound.Verdict {
	c := t.Conn
	if c.AuthUser == "" {
		return nil
	}
	user := userKey(c.AuthUser)
	max := l.limit(MessagesPerUser, who{listener: c.Listener, mode: c.Mode, ip: c.IP(), user: user})
	if max < 0 {
		return nil
	}
	r, err := l.o.Backend.Hit(ctx, "m:"+user, 1, l.o.Window, l.inWindow(max))
	switch {
	case err != nil:
		return l.backendFailed(ctx, MessagesPerUser, 451, err)
	case !r.Allowed:
		return l.refuse(MessagesPerUser, 451, "4.7.1",
			fmt.Sprintf("%s has sent too many messages (limit %d per hour), try again %s", c.AuthUser, max, wait(r.Reset)),
			fmt.Sprintf("%d messages from %s in %s, limit %d", r.Count, user, l.o.Window, l.inWindow(max)))
	}
	return nil
}

// CheckRcpt implements inbound.RcptChecker: recipients per authenticated
// user, and the outbound rate (recipients leaving the host) per user and
// for the host.
func (l *Limits) CheckRcpt(ctx context.Context, t *inbound.Txn, to smtp.Path, rcpt *envelope.Recipient) *inbound.Verdict {
	c := t.Conn
	user := userKey(c.AuthUser)
	w := who{listener: c.Listener, mode: c.Mode, ip: c.IP(), user: user}
	if user != "" {
		if max := l.limit(RecipientsPerUser, w); max >= 0 {
			r, err := l.o.Backend.Hit(ctx, "r:"+user, 1, l.o.Window, l.inWindow(max))
			switch {
			case err != nil:
				if v := l.backendFailed(ctx, RecipientsPerUser, 451, err); v != nil {
					return v
				}
			case !r.Allowed:
				return l.refuse(RecipientsPerUser, 451, "4.7.1",
					fmt.Sprintf("%s has sent to too many recipients (limit %d per hour), try again %s", c.AuthUser, max, wait(r.Reset)),
					fmt.Sprintf("%d recipients from %s in %s, limit %d", r.Count, user, l.o.Window, l.inWindow(max)))
			}
		}
	}
	if l.isLocal(rcpt.Addr) {
		return nil
	}
	return l.outbound(ctx, c, w)
}

func (l *Limits) isLocal(addr string) bool {
	if l.o.IsLocal == nil {
		return false
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		// A bare local part (postmaster) is ours.
		return true
	}
	return l.o.IsLocal(strings.ToLower(addr[at+1:]))
}
