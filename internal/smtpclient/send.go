package smtpclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"postern/internal/smtp"
)

// Message is one transaction's envelope.
type Message struct {
	From     string // reverse-path without brackets; "" for <>
	Rcpts    []Rcpt
	Size     int64  // octets of the content, for SIZE=; 0 leaves SIZE= out
	Body     string // "8BITMIME" when the content is 8-bit MIME (RFC 6152)
	SMTPUTF8 bool   // received with SMTPUTF8 (RFC 6531); the caller clears it when nothing needs it
	Ret      string // DSN RET=FULL|HDRS (RFC 3461 4.3), passed on when the server offers DSN
	EnvID    string // DSN ENVID (RFC 3461 4.4), plain text; encoded as xtext on the wire
	// RequireTLS sends MAIL REQUIRETLS (RFC 8689); a server that does not
	// offer it is refused the message (550 5.7.30).
	RequireTLS bool
}

// Rcpt is one recipient with its DSN parameters.
type Rcpt struct {
	Addr   string
	Notify string // NOTIFY= value, "" for none
	ORCPT  string // "rfc822;address" (decoded), "" for none
}

// Result is the outcome of Send.
type Result struct {
	// Rcpts holds one result per recipient, in order: nil when the
	// server took responsibility for the message for that recipient, a
	// *smtp.Reply with the server's reply, or another error (the
	// connection failed; temporary).
	Rcpts []error
	// DataSent is set once the end of the content was sent: from then on
	// a failure without a reply leaves it unknown whether the server
	// took the message, so it must not be sent to another host at once.
	DataSent bool
	// Whole is set when the transaction failed as a whole (MAIL refused,
	// the connection failed or the server closed it) rather than
	// recipient by recipient: another server may do better.
	Whole error
	// Final is the reply to the end of the content (the last one, for
	// LMTP), for the log; nil when no content was sent.
	Final *smtp.Reply
	// DSN is set when the server offered DSN, so that the DSN parameters
	// (RET, ENVID, NOTIFY, ORCPT) went with the transaction: the server
	// now reports on them itself (RFC 3461 5.2.1).
	DSN bool
}

// Replies given for problems found before anything is sent.
var (
	// RFC 1870 6.1: a message larger than the server's SIZE will fail.
	replyTooBig = &smtp.Reply{Code: 552, Enhanced: "5.3.4", Text: "message too big for the next-hop server"}
	// RFC 6531 3.5: an SMTPUTF8 message must not go to a server that does
	// not offer SMTPUTF8; it is returned as undeliverable.
	replyNoUTF8 = &smtp.Reply{Code: 553, Enhanced: "5.6.7", Text: "next-hop server does not support SMTPUTF8"}
	// RFC 6152 3: 8-bit content must not go to a server without
	// 8BITMIME unless converted; postern does not convert.
	replyNo8bit = &smtp.Reply{Code: 554, Enhanced: "5.6.3", Text: "next-hop server does not support 8BITMIME"}
	// RFC 8689 4.2.1: a REQUIRETLS message goes only to servers that
	// offer REQUIRETLS.
	replyNoRequireTLS = &smtp.Reply{Code: 550, Enhanced: "5.7.30", Text: "REQUIRETLS support required: the next-hop server does not offer it"}
)

// Check returns a permanent *smtp.Reply when the message must not be sent
// to this server at all (SIZE, SMTPUTF8, 8BITMIME, REQUIRETLS), or nil. It takes the
// flags as given: dropping SMTPUTF8 or BODY=8BITMIME from a message that
// does not need them is for the caller, which can read the content.
func (c *Client) Check(m *Message) *smtp.Reply {
	if lim := c.ext.Size(); lim > 0 && m.Size > lim {
		return replyTooBig.With(fmt.Errorf("%d octets, server limit %d", m.Size, lim))
	}
	if m.SMTPUTF8 && !c.ext.Has("SMTPUTF8") {
		return replyNoUTF8
	}
	if strings.EqualFold(m.Body, "8BITMIME") && !c.ext.Has("8BITMIME") {
		return replyNo8bit
	}
	if m.RequireTLS && (!c.ext.Has("REQUIRETLS") || c.TLS() == nil) {
		return replyNoRequireTLS
	}
	return nil
}

// mailCommand builds MAIL FROM with the parameters this server accepts.
func (c *Client) mailCommand(m *Message) string {
	var b strings.Builder
	b.WriteString("MAIL FROM:<")
	b.WriteString(m.From)
	b.WriteByte('>')
	if c.ext.Has("SIZE") && m.Size > 0 {
		b.WriteString(" SIZE=" + strconv.FormatInt(m.Size, 10))
	}
	if c.ext.Has("8BITMIME") && m.Body != "" {
		b.WriteString(" BODY=" + strings.ToUpper(m.Body))
	}
	if m.SMTPUTF8 && c.ext.Has("SMTPUTF8") {
		b.WriteString(" SMTPUTF8")
	}
	if m.RequireTLS {
		b.WriteString(" REQUIRETLS")
	}
	// RFC 3461 4: DSN parameters go only to a server that offers DSN.
	if c.ext.Has("DSN") {
		if m.Ret != "" {
			b.WriteString(" RET=" + m.Ret)
		}
		if m.EnvID != "" {
			b.WriteString(" ENVID=" + smtp.EncodeXtext(m.EnvID))
		}
	}
	return b.String()
}

func (c *Client) rcptCommand(r Rcpt) string {
	s := "RCPT TO:<" + r.Addr + ">"
	if c.ext.Has("DSN") {
		if r.Notify != "" {
			s += " NOTIFY=" + r.Notify
		}
		if typ, addr, ok := strings.Cut(r.ORCPT, ";"); ok && addr != "" {
			// RFC 3461 4.2: ORCPT=addr-type;xtext.
			s += " ORCPT=" + typ + ";" + smtp.EncodeXtext(addr)
		}
	}
	return s
}

// Send runs one mail transaction: MAIL, RCPT for each recipient, DATA
// with body (sent dot-stuffed with CRLF line ends only, whatever body
// holds: smtp.DotWriter) and the reply or, for LMTP, one reply per
// accepted recipient (RFC 2033 4.2). With PIPELINING (RFC 2920) MAIL, the
// RCPTs and DATA go in one write and the content follows only when a
// recipient was accepted and DATA was answered 354. A server that refuses
// the message before any content is sent leaves the connection usable for
// the next one.
func (c *Client) Send(ctx context.Context, m *Message, body io.Reader) Result {
	res := Result{Rcpts: make([]error, len(m.Rcpts)), DSN: c.ext.Has("DSN")}
	setAll := func(err error) Result {
		res.Whole = err
		for i := range res.Rcpts {
			if res.Rcpts[i] == nil {
				res.Rcpts[i] = err
			}
		}
		return res
	}
	if c.broken != nil {
		return setAll(c.broken)
	}
	if rep := c.Check(m); rep != nil {
		return setAll(rep)
	}
	for _, r := range m.Rcpts {
		if strings.ContainsAny(r.Addr, "\r\n<>") || strings.ContainsAny(r.Notify, "\r\n ") {
			return setAll(fmt.Errorf("smtpclient: bad recipient %q", clip(r.Addr)))
		}
	}
	var accepted []int
	var mailRep, dataRep *smtp.Reply
	var err error
	if c.ext.Has("PIPELINING") {
		accepted, mailRep, dataRep, err = c.pipelined(ctx, m, res.Rcpts)
	} else {
		accepted, mailRep, err = c.envelope(ctx, m, res.Rcpts)
	}
	if err != nil {
		return setAll(err)
	}
	if mailRep != nil || len(accepted) == 0 {
		// RFC 5321 3.3: MAIL refused, nothing else in this transaction
		// counts; or every recipient refused: no content goes out.
		c.abandon(ctx, dataRep)
		if mailRep != nil {
			return setAll(mailRep)
		}
		return res
	}
	if dataRep == nil {
		if dataRep, err = c.cmd(ctx, "DATA"); err != nil {
			return setAll(err)
		}
	}
	err = c.data(ctx, body, dataRep, accepted, &res)
	if err != nil {
		if len(accepted) == len(m.Rcpts) {
			res.Whole = err
		}
		for _, i := range accepted {
			if res.Rcpts[i] == nil {
				res.Rcpts[i] = err
			}
		}
		return res
	}
	if res.DataSent {
		c.messages++
	}
	return res
}

// envelope sends MAIL and the RCPTs one at a time (no PIPELINING). It
// returns the indexes of accepted recipients, the reply to MAIL when it
// was refused, or a connection error.
func (c *Client) envelope(ctx context.Context, m *Message, rcptErr []error) ([]int, *smtp.Reply, error) {
	rep, err := c.cmd(ctx, c.mailCommand(m))
	if err != nil {
		return nil, nil, err
	}
	if rep.Code != 250 {
		return nil, rep, nil
	}
	var accepted []int
	for i, r := range m.Rcpts {
		rep, err := c.cmd(ctx, c.rcptCommand(r))
		if err != nil {
			return nil, nil, err
		}
		if rep.Code == 250 || rep.Code == 251 {
			accepted = append(accepted, i)
		} else {
			rcptErr[i] = rep
		}
	}
	return accepted, nil, nil
}

// data sends the content and the end after DATA was answered with rep,
// and reads the reply (or, for LMTP, one reply per accepted recipient).
// A DATA refused with anything but 421 is each accepted recipient's
// reply and leaves the connection usable.
func (c *Client) data(ctx context.Context, body io.Reader, rep *smtp.Reply, accepted []int, res *Result) error {
	rcptErr := res.Rcpts
	if rep.Code != 354 {
		if rep.Code == 421 {
			return rep
		}
		for _, i := range accepted {
			rcptErr[i] = rep
		}
		if len(accepted) == len(rcptErr) {
			res.Whole = rep
		}
		c.Reset(ctx)
		return nil
	}
	stop := c.deadline(ctx, c.opt.DataTimeout)
	defer stop()
	dw := smtp.NewDotWriter(c.bw)
	if _, err := io.Copy(dw, body); err != nil {
		// A read error of our own copy: the transfer cannot be ended
		// cleanly (a final dot would deliver a truncated message).
		return c.fail(fmt.Errorf("sending content: %w", err))
	}
	if err := dw.Close(); err != nil {
		return c.fail(err)
	}
	if err := c.flush(); err != nil {
		return err
	}
	res.DataSent = true
	n := 1
	if c.opt.LMTP {
		// RFC 2033 4.2: one reply for each recipient that was accepted.
		n = len(accepted)
	}
	for k := 0; k < n; k++ {
		rep, err := c.readReply()
		if err != nil {
			return err
		}
		res.Final = rep
		targets := accepted
		if c.opt.LMTP {
			targets = accepted[k : k+1]
		}
		for _, i := range targets {
			if rep.Code != 250 {
				rcptErr[i] = rep
			}
		}
	}
	return nil
}

// IsReply returns err as a *smtp.Reply when it is one.
func IsReply(err error) (*smtp.Reply, bool) {
	var r *smtp.Reply
	if errors.As(err, &r) {
		return r, true
	}
	return nil, false
}
