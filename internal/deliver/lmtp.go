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
	// Pool, when set, keeps the connection open after the message for
	// the next one to the same server; nil means one connection per
	// message.
	Pool *LMTPPool
}

var replyLMTPUnavailable = &smtp.Reply{Code: 451, Enhanced: "4.4.1", Text: "mailbox server not available, will try again"}

// Deliver sends the message to rcpts in one LMTP transaction. An idle
// connection from the pool is used first; when it turns out dead before
// any content was sent (the server closed it, answered 421 or refused
// RSET or MAIL), the message is tried once more on a new connection.
func (l *LMTP) Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
	scan := newContentScan(body, env.Size)
	key := l.Network + " " + l.Address + " " + l.Hostname
	if l.Pool != nil {
		l.Pool.init()
		if e := l.Pool.cache.get(key); e != nil {
			errs, res := l.send(ctx, key, e.c, env, rcpts, body, scan)
			var rep *smtp.Reply
			// Once the content went out, per-recipient replies may have
			// been given: sending again could deliver twice, so the
			// queue's retry decides instead.
			if res.Whole == nil || res.DataSent || (errors.As(res.Whole, &rep) && rep.Permanent()) {
				return errs
			}
			l.log().DebugContext(ctx, "idle LMTP connection failed, opening a new one", "id", env.ID, "lmtp", l.Address, "err", res.Whole)
		}
	}
	c, err := l.open(ctx)
	if err != nil {
		errs := make([]error, len(rcpts))
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	errs, _ := l.send(ctx, key, c, env, rcpts, body, scan)
	return errs
}

func (l *LMTP) log() *slog.Logger {
	if l.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.Log
}

// open connects and gets the session ready for MAIL: greeting, LHLO.
func (l *LMTP) open(ctx context.Context) (*smtpclient.Client, error) {
	timeout := l.ConnectTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, l.Network, l.Address)
	if err != nil {
		return nil, replyLMTPUnavailable.With(fmt.Errorf("lmtp %s: %w", l.Address, err))
	}
	c := smtpclient.New(conn, smtpclient.Options{LMTP: true, CommandTimeout: l.CommandTimeout, DataTimeout: l.DataTimeout})
	if err := c.Greet(ctx); err != nil {
		c.Quit()
		return nil, lmtpError(l.Address, err)
	}
	name := l.Hostname
	if name == "" {
		name = "localhost"
	}
	// RFC 2033 4.1: LHLO, never EHLO or HELO.
	if err := c.Hello(ctx, name); err != nil {
		c.Quit()
		return nil, lmtpError(l.Address, err)
	}
	return c, nil
}

// send runs one transaction on c and returns one result per recipient
// and the transaction's outcome. c then goes back to the pool, or is
// closed. The client sends RSET itself after a transaction that ended
// early (MAIL, every RCPT or DATA refused), so a connection that goes
// back is always ready for the next MAIL; one whose RSET failed, that
// broke or got 421 is not usable and is closed.
func (l *LMTP) send(ctx context.Context, key string, c *smtpclient.Client, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt, scan *contentScan) ([]error, smtpclient.Result) {
	errs := make([]error, len(rcpts))
	msg := &smtpclient.Message{From: env.From, Size: env.Size, Body: env.Body, SMTPUTF8: env.SMTPUTF8, Ret: env.DSNRet, EnvID: env.EnvID}
	for _, r := range rcpts {
		msg.Rcpts = append(msg.Rcpts, smtpclient.Rcpt{Addr: r.Addr, Notify: r.Notify, ORCPT: r.ORCPT})
	}
	var res smtpclient.Result
	downgraded, err := fitMessage(c.Extensions(), msg, scan)
	if err != nil {
		// Nothing is sent; the connection stays good for other messages.
		res = smtpclient.Result{Rcpts: make([]error, len(rcpts)), Whole: err}
		for i := range res.Rcpts {
			res.Rcpts[i] = err
		}
	} else {
		res = c.Send(ctx, msg, io.NewSectionReader(body, 0, env.Size))
	}
	switch {
	case !c.Usable():
		c.Close()
	case l.Pool != nil && c.Messages() < l.Pool.MaxMessages && ctx.Err() == nil:
		l.Pool.cache.put(key, c, struct{}{})
	default:
		c.Quit()
	}
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
		l.log().InfoContext(ctx, "sent", attrs...)
	}
	return errs, res
}

func lmtpError(addr string, err error) error {
	var rep *smtp.Reply
	if errors.As(err, &rep) {
		return rep
	}
	return replyLMTPUnavailable.With(fmt.Errorf("lmtp %s: %w", addr, err))
}
