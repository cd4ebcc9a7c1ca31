// Package smtpclient is the client side of SMTP (RFC 5321) and LMTP
// (RFC 2033) for delivery: greeting, EHLO/LHLO and its extensions,
// STARTTLS, AUTH, and transactions with PIPELINING, SIZE, 8BITMIME,
// SMTPUTF8 and DSN parameters, returning one result per recipient.
//
// Replies from the server come back as *smtp.Reply with the server's own
// text (which ends up in delivery status notifications); network and
// protocol failures are plain errors, to be treated as temporary.
package smtpclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"postern/internal/smtp"
)

// Options tune a Client. Zero values mean the defaults in brackets.
type Options struct {
	// LMTP speaks LMTP (LHLO, one reply per recipient after DATA).
	LMTP bool
	// CommandTimeout bounds each command's reply [5m, RFC 5321 4.5.3.2].
	CommandTimeout time.Duration
	// DataTimeout bounds the transfer of the content and the reply to
	// its end [10m, RFC 5321 4.5.3.2.6].
	DataTimeout time.Duration
}

// Client is one connection to an SMTP or LMTP server. It is not safe for
// concurrent use.
type Client struct {
	conn net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	opt  Options

	ext      Extensions
	greeting string // the server's name from the 220 greeting
	heloName string // the server's name from the EHLO reply
	esmtp    bool   // EHLO (or LHLO) was accepted
	tls      *tls.ConnectionState
	broken   error // set when the connection can no longer be used
	messages int   // transactions completed on this connection
}

// New wraps an established connection. Call Greet next.
func New(conn net.Conn, opt Options) *Client {
	if opt.CommandTimeout <= 0 {
		// RFC 5321 4.5.3.2: the client's timeouts are several minutes.
		opt.CommandTimeout = 5 * time.Minute
	}
	if opt.DataTimeout <= 0 {
		// RFC 5321 4.5.3.2.6: 10 minutes for the reply to the final dot.
		opt.DataTimeout = 10 * time.Minute
	}
	return &Client{conn: conn, br: bufio.NewReaderSize(conn, 4096), bw: bufio.NewWriterSize(conn, 32<<10), opt: opt}
}

// Conn is the underlying connection (a *tls.Conn after StartTLS).
func (c *Client) Conn() net.Conn { return c.conn }

// Extensions announced in the last EHLO/LHLO reply (nil after HELO).
func (c *Client) Extensions() Extensions { return c.ext }

// ServerName is the name the server gave in its greeting.
func (c *Client) ServerName() string { return c.greeting }

// TLS is the TLS state, or nil for a plaintext session.
func (c *Client) TLS() *tls.ConnectionState { return c.tls }

// Messages is the number of transactions completed on this connection.
func (c *Client) Messages() int { return c.messages }

// Usable reports whether another transaction may be tried on the
// connection.
func (c *Client) Usable() bool { return c.broken == nil }

// Close closes the connection without QUIT.
func (c *Client) Close() error {
	if c.broken == nil {
		c.broken = net.ErrClosed
	}
	return c.conn.Close()
}

// fail marks the connection unusable and returns err.
func (c *Client) fail(err error) error {
	if c.broken == nil {
		c.broken = err
	}
	return err
}

// deadline sets the connection deadline: d from now, or ctx's deadline
// when that is sooner. A cancelled ctx closes the connection.
func (c *Client) deadline(ctx context.Context, d time.Duration) (stop func() bool) {
	t := time.Now().Add(d)
	if dl, ok := ctx.Deadline(); ok && dl.Before(t) {
		t = dl
	}
	c.conn.SetDeadline(t)
	return context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
}

func (c *Client) writeLine(line string) error {
	if strings.ContainsAny(line, "\r\n") {
		// Never let a value end a command early (command injection).
		return fmt.Errorf("smtpclient: line break in command %q", clip(line))
	}
	c.bw.WriteString(line)
	_, err := c.bw.WriteString("\r\n")
	return err
}

func (c *Client) flush() error {
	if err := c.bw.Flush(); err != nil {
		return c.fail(err)
	}
	return nil
}

func (c *Client) readReply() (*smtp.Reply, error) {
	rep, err := ReadReply(c.br)
	if err != nil {
		return nil, c.fail(err)
	}
	// RFC 5321 3.8: a 421 means the server is closing the connection.
	if rep.Code == 421 {
		c.fail(errors.New("server closed the session (421)"))
	}
	return rep, nil
}

// cmd sends one command and reads its reply.
func (c *Client) cmd(ctx context.Context, line string) (*smtp.Reply, error) {
	if c.broken != nil {
		return nil, c.broken
	}
	defer c.deadline(ctx, c.opt.CommandTimeout)()
	if err := c.writeLine(line); err != nil {
		return nil, c.fail(err)
	}
	if err := c.flush(); err != nil {
		return nil, err
	}
	return c.readReply()
}

// Greet reads the server's greeting. Anything but 220 is returned as a
// *smtp.Reply error (RFC 5321 3.1: 554 means no service here).
func (c *Client) Greet(ctx context.Context) error {
	defer c.deadline(ctx, c.opt.CommandTimeout)()
	rep, err := c.readReply()
	if err != nil {
		return err
	}
	if rep.Code != 220 {
		c.fail(errors.New("no 220 greeting"))
		return rep
	}
	c.greeting = Greeting(rep.Text)
	return nil
}

// Hello sends EHLO (LHLO for LMTP) with name and records the extensions;
// when the server refuses EHLO it falls back to HELO (RFC 5321 3.2).
func (c *Client) Hello(ctx context.Context, name string) error {
	verb := "EHLO "
	if c.opt.LMTP {
		verb = "LHLO "
	}
	rep, err := c.cmd(ctx, verb+name)
	if err != nil {
		return err
	}
	if rep.Code == 250 {
		c.esmtp = true
		c.ext = ParseEHLO(rep.Text)
		c.heloName = Greeting(rep.Text)
		return nil
	}
	if c.opt.LMTP || rep.Code == 421 {
		return rep
	}
	// RFC 5321 3.2: a server that does not know EHLO answers 500/502;
	// the client may then use HELO.
	rep, err = c.cmd(ctx, "HELO "+name)
	if err != nil {
		return err
	}
	if rep.Code != 250 {
		return rep
	}
	c.esmtp, c.ext = false, Extensions{}
	c.heloName = Greeting(rep.Text)
	return nil
}

// HelloName is the name the server gave in its EHLO/HELO reply.
func (c *Client) HelloName() string { return c.heloName }

// StartTLS runs STARTTLS and the TLS handshake (RFC 3207). The caller
// must send Hello again afterwards (RFC 3207 4.2: everything learnt
// before TLS is forgotten). A non-220 reply comes back as a
// *smtp.Reply; a handshake failure as a plain error, and the connection
// is then unusable.
func (c *Client) StartTLS(ctx context.Context, cfg *tls.Config) error {
	rep, err := c.cmd(ctx, "STARTTLS")
	if err != nil {
		return err
	}
	if rep.Code != 220 {
		return rep
	}
	// RFC 3207 5: no data may follow the 220 before the handshake; a
	// server that sent some is trying to inject into the TLS session.
	if c.br.Buffered() > 0 {
		return c.fail(fmt.Errorf("%w: data after the STARTTLS reply", ErrProtocol))
	}
	tc := tls.Client(c.conn, cfg)
	stop := c.deadline(ctx, c.opt.CommandTimeout)
	err = tc.HandshakeContext(ctx)
	stop()
	if err != nil {
		return c.fail(fmt.Errorf("TLS handshake: %w", err))
	}
	st := tc.ConnectionState()
	c.conn, c.tls = tc, &st
	c.br = bufio.NewReaderSize(tc, 4096)
	c.bw = bufio.NewWriterSize(tc, 32<<10)
	c.ext, c.esmtp = nil, false
	return nil
}

// Auth authenticates with PLAIN (RFC 4616), or LOGIN when the server
// offers only that. It refuses to send credentials without TLS.
func (c *Client) Auth(ctx context.Context, user, password string) error {
	if c.tls == nil {
		return errors.New("smtpclient: refusing to send credentials without TLS")
	}
	mechs := c.ext.AuthMechanisms()
	has := func(m string) bool {
		for _, x := range mechs {
			if x == m {
				return true
			}
		}
		return false
	}
	switch {
	case has("PLAIN"):
		resp := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
		rep, err := c.cmd(ctx, "AUTH PLAIN "+resp)
		if err != nil {
			return err
		}
		if rep.Code != 235 {
			return rep
		}
		return nil
	case has("LOGIN"):
		steps := []string{"AUTH LOGIN", base64.StdEncoding.EncodeToString([]byte(user)), base64.StdEncoding.EncodeToString([]byte(password))}
		for i, s := range steps {
			rep, err := c.cmd(ctx, s)
			if err != nil {
				return err
			}
			want := 334
			if i == len(steps)-1 {
				want = 235
			}
			if rep.Code != want {
				return rep
			}
		}
		return nil
	}
	return fmt.Errorf("smtpclient: server offers no usable AUTH mechanism (%q)", c.ext["AUTH"])
}

// Reset sends RSET, readying the connection for another transaction.
func (c *Client) Reset(ctx context.Context) error {
	rep, err := c.cmd(ctx, "RSET")
	if err != nil {
		return err
	}
	if rep.Code != 250 {
		return c.fail(rep)
	}
	return nil
}

// Quit sends QUIT, waits briefly for the reply and closes the connection.
func (c *Client) Quit() error {
	if c.broken == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c.cmd(ctx, "QUIT")
		cancel()
	}
	return c.Close()
}
