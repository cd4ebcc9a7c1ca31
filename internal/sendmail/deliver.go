package sendmail

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"postern/internal/smtp"
	"postern/internal/smtpclient"
	"postern/internal/submit"
)

// MaxSubmission bounds what sendmail reads from its input; the server's
// own SIZE limit is checked before anything is sent.
const MaxSubmission = 1 << 30

const noRecipients = "no recipients given (name them, or use -t)"

// Deliver is -bm: read the message from in, complete it, submit it. It
// returns the exit status.
func (c *Client) Deliver(ctx context.Context, a *Args, in io.Reader) int {
	if len(a.Rcpts) == 0 && !a.Extract {
		// Said before waiting for a message on a terminal.
		c.errorf(noRecipients)
		return ExUsage
	}
	// The whole input is read before the server is contacted: cron
	// streams a job's output as it comes, which may take hours.
	msg, err := submit.ReadInput(in, a.DotEnds, MaxSubmission)
	if err != nil {
		c.errorf("reading the message: %v", err)
		if errors.Is(err, submit.ErrTooBig) {
			return ExDataErr
		}
		return ExIOErr
	}
	sc, host, code := c.open(ctx, a.Verbose)
	if sc == nil {
		return code
	}
	defer sc.Quit()
	m, content, code := c.message(a, msg, host)
	if m == nil {
		return code
	}
	if rep := sc.Check(m); rep != nil {
		c.errorf("%v", rep)
		return ReplyCode(rep)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	res := sc.Send(ctx, m, bytes.NewReader(content))
	return c.result(res, m)
}

// message completes the header (From, Date, Message-ID; Bcc removed) and
// makes the envelope; on a problem m is nil and code the exit status.
func (c *Client) message(a *Args, msg []byte, host string) (m *smtpclient.Message, content []byte, code int) {
	sender, err := EnvelopeSender(a, c.Login, host)
	if err != nil {
		c.errorf("%v", err)
		return nil, nil, ExUsage
	}
	fromHeader, name := sender, a.FullName
	if fromHeader == "" {
		fromHeader = c.Login + "@" + host
	}
	if name == "" && !a.FromSet {
		name = c.FullName
	}
	p, err := submit.Prepare(msg, submit.Options{ExtractRcpts: a.Extract, From: fromHeader, FullName: name, Hostname: host})
	if err != nil {
		c.errorf("header %v", err)
		return nil, nil, ExDataErr
	}
	rcpts, code := c.recipients(a, p.Rcpts, host)
	if code != 0 {
		return nil, nil, code
	}
	return envelope(a, sender, rcpts, p.Message), p.Message, 0
}

// recipients are those of the command line, then (Postfix's rule: with
// -t, the header's recipients are added to those on the command line)
// those of the header, each once.
func (c *Client) recipients(a *Args, fromHeader []string, host string) ([]string, int) {
	var rcpts []string
	seen := map[string]bool{}
	add := func(r string) {
		if k := strings.ToLower(r); !seen[k] {
			seen[k] = true
			rcpts = append(rcpts, r)
		}
	}
	for _, arg := range a.Rcpts {
		list, err := submit.ParseAddressList(arg, host)
		if err != nil {
			c.errorf("recipient %v", err)
			return nil, ExNoUser
		}
		for _, r := range list {
			add(r)
		}
	}
	for _, r := range fromHeader {
		add(r)
	}
	if len(rcpts) == 0 {
		if a.Extract {
			c.errorf("no recipient addresses found in the header (To, Cc, Bcc)")
		} else {
			c.errorf(noRecipients)
		}
		return nil, ExUsage
	}
	return rcpts, 0
}

// envelope is the MAIL and RCPT of the message, with the DSN request
// and the body type it needs.
func envelope(a *Args, sender string, rcpts []string, content []byte) *smtpclient.Message {
	m := &smtpclient.Message{From: sender, Size: int64(len(content)), Ret: a.Ret, EnvID: a.EnvID, Body: a.Body}
	if m.Body == "" && !isASCII(content) {
		// RFC 6152: 8-bit content is declared.
		m.Body = "8BITMIME"
	}
	m.SMTPUTF8 = !isASCII([]byte(sender))
	for _, r := range rcpts {
		m.Rcpts = append(m.Rcpts, smtpclient.Rcpt{Addr: r, Notify: a.Notify})
		if !isASCII([]byte(r)) {
			m.SMTPUTF8 = true
		}
	}
	return m
}

// result reports the outcome: every refused recipient on standard
// error; the exit status of the worst refusal.
func (c *Client) result(res smtpclient.Result, m *smtpclient.Message) int {
	if res.Whole != nil {
		var rep *smtp.Reply
		if errors.As(res.Whole, &rep) {
			c.errorf("message refused: %v", rep)
			return ReplyCode(rep)
		}
		if res.DataSent {
			c.errorf("connection lost after the message was sent; it may or may not have been accepted: %v", res.Whole)
		} else {
			c.errorf("connection lost; the message was not sent: %v", res.Whole)
		}
		return ExTempFail
	}
	code, perm := 0, false
	for i, err := range res.Rcpts {
		if err == nil {
			continue
		}
		c.errorf("%s: %v", m.Rcpts[i].Addr, err)
		var rep *smtp.Reply
		if !errors.As(err, &rep) {
			if !perm {
				code = ExTempFail
			}
			continue
		}
		rc := ReplyCode(rep)
		if rep.Code >= 500 {
			if !perm {
				code, perm = rc, true
			}
		} else if !perm {
			code = rc
		}
	}
	return code
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
