package smtpd

import (
	"errors"
	"time"

	"postern/internal/smtp"
)

// data handles DATA (RFC 5321 4.1.1.4).
func (c *conn) data(arg string) {
	switch {
	case arg != "":
		c.fail(&smtp.Reply{Code: 501, Enhanced: "5.5.4", Text: "DATA takes no argument"})
		return
	case !c.inMail:
		c.fail(&smtp.Reply{Code: 503, Enhanced: "5.5.1", Text: "need MAIL before DATA"})
		return
	case c.rcpts == 0:
		c.fail(&smtp.Reply{Code: 554, Enhanced: "5.5.1", Text: "no valid recipients"})
		return
	}
	c.reply(&smtp.Reply{Code: 354, Text: "end data with <CR><LF>.<CR><LF>"})
	if err := c.w.Flush(); err != nil {
		c.connError(err)
		c.quit = true
		return
	}
	// The whole DATA phase has one deadline, so a trickling client cannot
	// hold the connection for ever.
	c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.DataTimeout))
	dr := smtp.NewDataReader(c.r, c.srv.opts.MaxMessageBytes)
	rep := c.sess.Data(c.ctx, dr)
	if err := dr.Discard(); err != nil {
		var r *smtp.Reply
		if !errors.As(err, &r) {
			c.connError(err)
			c.quit = true
			return
		}
		// Rejected content wins over whatever the session said.
		if rep == nil || rep.Positive() {
			rep = r
		}
	}
	c.inMail, c.smtputf8, c.rcpts = false, false, 0
	c.finish(rep)
}

// finish sends the final reply of a transaction.
func (c *conn) finish(rep *smtp.Reply) {
	if rep == nil {
		rep = smtp.ReplyTempFailure
	}
	if rep.Code >= 400 {
		c.fail(rep)
		return
	}
	c.reply(rep)
}
