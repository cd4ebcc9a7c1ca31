package smtpd

import (
	"strconv"
	"strings"

	"postern/internal/smtp"
)

// command handles one command line.
func (c *conn) command(line []byte) {
	verb, arg, rep := smtp.ParseCommand(line)
	if rep != nil {
		c.fail(rep)
		return
	}
	if len(line)+2 > c.srv.opts.MaxLineLength && verb != "MAIL" && verb != "RCPT" {
		c.fail(smtp.ReplyLineTooLong)
		return
	}
	switch verb {
	case "HELO", "EHLO":
		c.hello(verb, arg)
	case "STARTTLS":
		c.startTLS(arg)
	case "AUTH":
		c.auth(arg)
	case "MAIL":
		c.mail(arg)
	case "RCPT":
		c.rcpt(arg)
	case "DATA":
		c.data(arg)
	case "BDAT":
		c.bdatCmd(arg)
	case "RSET":
		if arg != "" {
			c.fail(&smtp.Reply{Code: 501, Enhanced: "5.5.4", Text: "RSET takes no argument"})
			return
		}
		c.resetTransaction()
		c.reply(smtp.ReplyOK)
	case "NOOP":
		c.reply(smtp.ReplyOK)
	case "QUIT":
		c.reply(&smtp.Reply{Code: 221, Enhanced: "2.0.0", Text: "bye"})
		c.quit = true
	case "VRFY":
		// Reveal nothing about which users exist (RFC 5321 3.5.3 allows 252).
		c.reply(&smtp.Reply{Code: 252, Enhanced: "2.5.2", Text: "cannot verify, but will accept the message and attempt delivery"})
	case "EXPN":
		c.fail(&smtp.Reply{Code: 502, Enhanced: "5.5.1", Text: "EXPN not available"})
	case "HELP":
		c.reply(&smtp.Reply{Code: 214, Enhanced: "2.0.0", Text: "see RFC 5321"})
	case "GET", "POST", "HEAD", "PUT", "CONNECT", "USER", "PASS":
		// Not an SMTP client (a web proxy abuse attempt or a confused
		// client): stop at once, as Postfix's smtpd_forbidden_commands.
		c.reply(&smtp.Reply{Code: 421, Enhanced: "4.7.0", Text: "this is an SMTP server; closing connection"})
		c.log.Info("non-SMTP command", "client", c.info.Remote.String(), "verb", verb)
		c.quit = true
	default:
		c.fail(&smtp.Reply{Code: 500, Enhanced: "5.5.2", Text: "unrecognized command"})
	}
}

func (c *conn) hello(verb, arg string) {
	arg = strings.TrimSpace(arg)
	if arg == "" || strings.ContainsAny(arg, " \t") {
		c.fail(&smtp.Reply{Code: 501, Enhanced: "5.5.4", Text: "syntax: " + verb + " hostname"})
		return
	}
	c.resetTransaction()
	if rep := c.sess.Hello(c.ctx, arg, verb == "EHLO"); rep != nil {
		c.helo, c.ehlo = "", false
		c.fail(rep)
		return
	}
	c.helo, c.ehlo = arg, verb == "EHLO"
	if !c.ehlo {
		c.reply(&smtp.Reply{Code: 250, Text: c.srv.opts.Hostname})
		return
	}
	o := &c.srv.opts
	f := c.features()
	lines := []string{c.srv.opts.Hostname}
	if !f.NoPipelining {
		lines = append(lines, "PIPELINING")
	}
	lines = append(lines,
		"SIZE "+strconv.FormatInt(o.MaxMessageBytes, 10),
		"8BITMIME",
		"ENHANCEDSTATUSCODES",
		"SMTPUTF8",
	)
	if o.Chunking {
		lines = append(lines, "CHUNKING")
	}
	if c.dsn() {
		lines = append(lines, "DSN")
	}
	if o.TLS != nil && !c.tls && c.mode != ModeLocal && !f.NoSTARTTLS {
		lines = append(lines, "STARTTLS")
	}
	// RFC 8689 4: REQUIRETLS only on a session that is itself over TLS.
	if c.tls {
		lines = append(lines, "REQUIRETLS")
	}
	// AUTH only where users submit, and only under TLS: never offer a
	// plaintext password exchange.
	if c.mode != ModeMTA && c.mode != ModeLocal && c.tls && c.authUser == "" && !f.NoAUTH {
		lines = append(lines, "AUTH PLAIN LOGIN")
	}
	c.reply(&smtp.Reply{Code: 250, Text: strings.Join(lines, "\n")})
}
