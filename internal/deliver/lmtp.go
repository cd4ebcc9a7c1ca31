package deliver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"postern/internal/envelope"
	"postern/internal/smtp"
	"postern/internal/smtpclient"
)

// LMTP delivers to an LMTP server (RFC 2033), such as a mailbox store's
// delivery agent, over a UNIX socket or TCP. The server answers the end
// of the content once per recipient, so each recipient gets its own
// result. It is a spool.Courier.
type LMTP struct {
	// Network is "unix" for a socket path or "tcp" for host:port.
	Network string
	Address string
	// Hostname is our name in LHLO.
	Hostname string
	Log      *slog.Logger
	// ConnectTimeout bounds the connection [30s]; CommandTimeout and
	// DataTimeout the replies (see smtpclient).
	ConnectTimeout time.Duration
	CommandTimeout time.Duration
	DataTimeout    time.Duration
}

var replyLMTPUnavailable = &smtp.Reply{Code: 451, Enhanced: "4.4.1", Text: "mailbox server not available, will try again"}

// Deliver sends the message to rcpts in one LMTP transaction.
func (l *LMTP) Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
	errs := make([]error, len(rcpts))
	setAll := func(err error) []error {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	log := l.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := l.ConnectTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, l.Network, l.Address)
	if err != nil {
		return setAll(replyLMTPUnavailable.With(fmt.Errorf("lmtp %s: %w", l.Address, err)))
	}
	c := smtpclient.New(conn, smtpclient.Options{LMTP: true, CommandTimeout: l.CommandTimeout, DataTimeout: l.DataTimeout})
	defer c.Quit()
	if err := c.Greet(ctx); err != nil {
		return setAll(lmtpError(l.Address, err))
	}
	name := l.Hostname
	if name == "" {
		name = "localhost"
	}
	if err := c.Hello(ctx, name); err != nil {
		return setAll(lmtpError(l.Address, err))
	}
	msg := &smtpclient.Message{From: env.From, Size: env.Size, Body: env.Body, SMTPUTF8: env.SMTPUTF8, Ret: env.DSNRet, EnvID: env.EnvID}
	for _, r := range rcpts {
		msg.Rcpts = append(msg.Rcpts, smtpclient.Rcpt{Addr: r.Addr, Notify: r.Notify, ORCPT: r.ORCPT})
	}
	downgraded, err := fitMessage(c.Extensions(), msg, newContentScan(body, env.Size))
	if err != nil {
		return setAll(err)
	}
	res := c.Send(ctx, msg, io.NewSectionReader(body, 0, env.Size))
	n := 0
	for i, err := range res.Rcpts {
		errs[i] = err
		if err != nil {
			var rep *smtp.Reply
			if !errors.As(err, &rep) {
				errs[i] = lmtpError(l.Address, err)
			}
		} else {
			n++
		}
	}
	if n > 0 {
		attrs := []any{"id", env.ID, "lmtp", l.Address, "rcpts", n}
		if len(downgraded) > 0 {
			attrs = append(attrs, "downgraded", strings.Join(downgraded, ","))
		}
		log.InfoContext(ctx, "sent", attrs...)
	}
	return errs
}

func lmtpError(addr string, err error) error {
	var rep *smtp.Reply
	if errors.As(err, &rep) {
		return rep
	}
	return replyLMTPUnavailable.With(fmt.Errorf("lmtp %s: %w", addr, err))
}
