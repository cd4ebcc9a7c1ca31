package smtpd

import (
	"postern/internal/smtp"
)

var (
	replyMailOK = &smtp.Reply{Code: 250, Enhanced: "2.1.0", Text: "OK"}
	replyRcptOK = &smtp.Reply{Code: 250, Enhanced: "2.1.5", Text: "OK"}
)

// mail handles MAIL FROM.
func (c *conn) mail(arg string) {
	switch {
	case c.helo == "":
		c.fail(&smtp.Reply{Code: 503, Enhanced: "5.5.1", Text: "send HELO or EHLO first"})
		return
	case c.inMail:
		c.fail(&smtp.Reply{Code: 503, Enhanced: "5.5.1", Text: "nested MAIL command"})
		return
	case c.mode == ModeLocal:
		// The kernel named the local user (ConnInfo.PeerUID): no TLS, no
		// AUTH on a unix socket.
	case c.mode != ModeMTA && !c.tls:
		c.fail(&smtp.Reply{Code: 530, Enhanced: "5.7.0", Text: "must issue a STARTTLS command first"})
		return
	case c.mode != ModeMTA && c.authUser == "":
		c.fail(smtp.ReplyAuthRequired)
		return
	case c.features().RequireAuth && c.authUser == "":
		// Srv_Features: l. On an mta listener, where AUTH is never
		// offered, this refuses the client's mail.
		c.fail(smtp.ReplyAuthRequired)
		return
	}
	from, p, rep := smtp.ParseMail(arg, smtp.ParseOptions{DSN: c.dsn(), RequireTLS: c.tls})
	if rep != nil {
		c.fail(rep)
		return
	}
	if !c.ehlo && (p != smtp.Params{}) {
		c.fail(&smtp.Reply{Code: 555, Enhanced: "5.5.4", Text: "parameters need EHLO"})
		return
	}
	// RFC 1870 6.2: a declared size above the limit is refused at MAIL.
	if p.Size > c.srv.opts.MaxMessageBytes {
		c.fail(smtp.ReplyMessageTooBig)
		return
	}
	if rep := c.sess.Mail(c.ctx, from, p); rep != nil {
		c.fail(rep)
		return
	}
	c.inMail = true
	c.smtputf8 = p.SMTPUTF8
	c.rcpts = 0
	c.reply(replyMailOK)
}

// rcpt handles RCPT TO.
func (c *conn) rcpt(arg string) {
	if !c.inMail {
		c.fail(&smtp.Reply{Code: 503, Enhanced: "5.5.1", Text: "need MAIL before RCPT"})
		return
	}
	if c.rcpts >= c.srv.opts.MaxRecipients {
		// RFC 5321 4.5.3.1.10: 452 for too many recipients.
		c.fail(smtp.ReplyTooManyRcpts)
		return
	}
	to, p, rep := smtp.ParseRcpt(arg, smtp.ParseOptions{SMTPUTF8: c.smtputf8, DSN: c.dsn()})
	if rep != nil {
		c.fail(rep)
		return
	}
	if rep := c.sess.Rcpt(c.ctx, to, p); rep != nil {
		c.fail(rep)
		return
	}
	c.rcpts++
	c.reply(replyRcptOK)
}
