package smtpd

import (
	"postern/internal/smtp"
)

// startTLS handles STARTTLS (RFC 3207).
func (c *conn) startTLS(arg string) {
	switch {
	case arg != "":
		c.fail(&smtp.Reply{Code: 501, Enhanced: "5.5.4", Text: "STARTTLS takes no argument"})
		return
	case c.tls:
		c.fail(&smtp.Reply{Code: 503, Enhanced: "5.5.1", Text: "TLS already active"})
		return
	case c.srv.opts.TLS == nil, c.mode == ModeLocal, c.features().NoSTARTTLS:
		// A unix socket never leaves the host: nothing to encrypt.
		c.fail(&smtp.Reply{Code: 454, Enhanced: "4.7.0", Text: "TLS not available"})
		return
	case c.helo == "":
		c.fail(&smtp.Reply{Code: 503, Enhanced: "5.5.1", Text: "send EHLO first"})
		return
	}
	// CVE-2011-0411 class: anything the client sent after STARTTLS before
	// the handshake is plaintext that an attacker may have injected; it
	// must never be read as a command of the TLS session.
	if n := c.r.Buffered(); n > 0 {
		c.r.Discard(n)
		c.log.Warn("discarded plaintext pipelined after STARTTLS", "client", c.info.Remote.String(), "bytes", n)
	}
	c.reply(&smtp.Reply{Code: 220, Enhanced: "2.0.0", Text: "ready to start TLS"})
	if err := c.w.Flush(); err != nil {
		c.connError(err)
		c.quit = true
		return
	}
	tc, err := c.srv.handshakeWith(c.nc, c.tlsConfig())
	if err != nil {
		c.log.Info("tls handshake failed", "client", c.info.Remote.String(), "err", err)
		c.quit = true
		return
	}
	c.nc = tc
	c.r.Reset(tc)
	c.w.Reset(tc)
	c.tls = true
	// RFC 3207 4.2: forget everything learnt from the client; it must
	// EHLO again.
	c.resetTransaction()
	c.helo, c.ehlo, c.authUser = "", false, ""
	c.sess.TLS(tc.ConnectionState())
}
