package metrics

import (
	"context"
	"strings"
	"time"

	"postern/internal/history"
	"postern/internal/inbound"
)

// Checker counts what happens in SMTP sessions. Give it to inbound first
// among the checkers so that it sees every connection; it never refuses.
type Checker struct {
	M *Metrics
	// IsLocal tells whether a recipient domain is ours; mail to any other
	// domain is outbound. nil counts nothing as outbound.
	IsLocal func(domain string) bool
}

// CheckConnect implements inbound.ConnectChecker.
func (c *Checker) CheckConnect(_ context.Context, conn *inbound.Conn) *inbound.Verdict {
	c.M.connections.WithLabelValues(conn.Listener).Inc()
	return nil
}

// Closed implements inbound.CloseObserver.
func (c *Checker) Closed(conn *inbound.Conn) {
	c.M.sessions.WithLabelValues(conn.Listener, yesNo(conn.TLS != "")).Inc()
}

// Rejected implements inbound.RejectObserver.
func (c *Checker) Rejected(_ context.Context, conn *inbound.Conn, stage string, v *inbound.Verdict) {
	code, enhanced := 0, ""
	if v.Reply != nil {
		code, enhanced = v.Reply.Code, v.Reply.Enhanced
	}
	c.M.Rejected(Reject{Time: time.Now(), Conn: conn.ID, Client: conn.IP().String(), Stage: stage, Code: code, Enhanced: enhanced, Rule: v.Rule})
}

// Accepted implements inbound.AcceptObserver.
func (c *Checker) Accepted(_ context.Context, t *inbound.Txn) {
	env := t.Env
	c.M.accepted.WithLabelValues(env.Listener, yesNo(env.TLS != ""), yesNo(env.AuthUser != "")).Inc()
	c.M.acceptedBytes.Add(float64(env.Size))
	c.M.addHistory(history.Accepted)
	if c.IsLocal == nil {
		return
	}
	for _, r := range env.Rcpts {
		if !c.IsLocal(domainOf(r.Addr)) {
			user := env.AuthUser
			if user == "" {
				user = "-"
			}
			c.M.outbound.WithLabelValues(user).Inc()
			c.M.addHistory(history.OutboundPrefix + history.Host)
			if env.AuthUser != "" {
				c.M.addHistory(history.OutboundPrefix + env.AuthUser)
			}
			return
		}
	}
}

func domainOf(addr string) string {
	return strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
}
