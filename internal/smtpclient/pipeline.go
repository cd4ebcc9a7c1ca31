package smtpclient

import (
	"context"

	"postern/internal/smtp"
)

// pipelined sends MAIL, the RCPTs and DATA in one write (RFC 2920 3.1:
// DATA may end a group) and reads their replies in order. It returns the
// indexes of accepted recipients (their replies are set in rcptErr for
// the others), the reply to MAIL when it was refused, the reply to DATA,
// or an error when the connection failed or the server closed it (421).
func (c *Client) pipelined(ctx context.Context, m *Message, rcptErr []error) ([]int, *smtp.Reply, *smtp.Reply, error) {
	defer c.deadline(ctx, c.opt.CommandTimeout)()
	lines := make([]string, 0, len(m.Rcpts)+2)
	lines = append(lines, c.mailCommand(m))
	for _, r := range m.Rcpts {
		lines = append(lines, c.rcptCommand(r))
	}
	lines = append(lines, "DATA")
	for _, l := range lines {
		if err := c.writeLine(l); err != nil {
			return nil, nil, nil, c.fail(err)
		}
	}
	if err := c.flush(); err != nil {
		return nil, nil, nil, err
	}
	var accepted []int
	var mailRep *smtp.Reply
	for k := range lines {
		rep, err := c.readReply()
		if err != nil {
			return nil, nil, nil, err
		}
		if rep.Code == 421 {
			// RFC 5321 3.8: the server is closing; no more replies come.
			return nil, nil, nil, rep
		}
		switch {
		case k == 0 && rep.Code != 250:
			mailRep = rep
		case k == len(lines)-1:
			return accepted, mailRep, rep, nil
		case k == 0 || mailRep != nil:
			// The RCPT replies mean nothing after a refused MAIL.
		case rep.Code == 250 || rep.Code == 251:
			accepted = append(accepted, k-1)
		default:
			rcptErr[k-1] = rep
		}
	}
	panic("unreachable")
}

// abandon ends a transaction that sends no content. RFC 2920 3.1: when
// every RCPT failed the client must still check the reply to a pipelined
// DATA; if the server answered 354 anyway, the client sends a single dot
// (an empty message for no recipient, which the server refuses or
// discards) and the transaction is over. RSET instead would be read as a
// line of content. When DATA was refused, or was not sent, RSET ends it.
func (c *Client) abandon(ctx context.Context, dataRep *smtp.Reply) {
	if dataRep == nil || dataRep.Code != 354 {
		c.Reset(ctx)
		return
	}
	defer c.deadline(ctx, c.opt.CommandTimeout)()
	if err := c.writeLine("."); err != nil {
		c.fail(err)
		return
	}
	if err := c.flush(); err != nil {
		return
	}
	c.readReply()
}
