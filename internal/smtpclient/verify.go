package smtpclient

import (
	"context"

	"postern/internal/smtp"
)

// Verify asks the server whether it takes rcpt, as a recipient callout
// does: MAIL FROM:<> (so that nothing is ever sent back), RCPT TO:<rcpt>,
// then RSET; no content is sent. It returns the server's reply to RCPT,
// or its refusal of MAIL FROM:<> as a *smtp.Reply error, or a plain
// error when the connection failed.
func (c *Client) Verify(ctx context.Context, rcpt string) (*smtp.Reply, error) {
	rep, err := c.cmd(ctx, "MAIL FROM:<>")
	if err != nil {
		return nil, err
	}
	if rep.Code != 250 {
		return nil, rep
	}
	rep, err = c.cmd(ctx, "RCPT TO:<"+rcpt+">")
	if err != nil {
		return nil, err
	}
	c.Reset(ctx)
	return rep, nil
}
