package smtpd

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"postern/internal/smtp"
)

// conn is one SMTP connection and its state.
type conn struct {
	srv  *Server
	nc   net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	mode Mode
	info ConnInfo
	sess Session
	log  *slog.Logger
	ctx  context.Context

	mu      sync.Mutex // guards closing and busy
	closing bool       // Shutdown asked us to stop
	busy    bool       // a command is being handled

	tls      bool
	helo     string // "" until HELO/EHLO
	ehlo     bool
	authUser string
	inMail   bool
	smtputf8 bool
	rcpts    int
	errors   int
	quit     bool
}

// RFC 5321 4.5.3.1.4 lets extensions lengthen command lines: MAIL and RCPT
// may carry ESMTP parameters (RFC 1870 SIZE, RFC 3461 ORCPT and ENVID)
// beyond the plain limit.
const paramAllowance = 512

// errLineTooLong and errBareLF are command-line errors the loop answers
// and goes on from.
var (
	errLineTooLong = errors.New("command line too long")
	errBareLF      = errors.New("command line ends in bare LF")
)

// serve runs one connection: the TLS handshake on an smtps listener, the
// session, the greeting (after the session's greet pause, if any), then
// the command loop.
func (c *conn) serve() {
	defer c.srv.forget(c)
	defer c.nc.Close()
	c.log = c.srv.log.With("conn", c.info.ID)
	var cancel context.CancelFunc
	c.ctx, cancel = context.WithCancel(context.Background())
	defer cancel()

	if c.mode == ModeSMTPS && !c.implicitTLS() {
		return
	}
	c.r = bufio.NewReaderSize(c.nc, 4096)
	c.w = bufio.NewWriterSize(c.nc, 1024)

	sess, rep := c.srv.backend.NewSession(c.ctx, c.info)
	if rep != nil {
		c.reply(rep)
		c.w.Flush()
		return
	}
	c.sess = sess
	defer sess.Close()
	if c.tls {
		sess.TLS(c.nc.(*tls.Conn).ConnectionState())
	}
	if !c.greetPause() {
		return
	}
	// RFC 5321 4.3.1: the greeting; the hostname only, no software name.
	c.reply(&smtp.Reply{Code: 220, Text: c.srv.opts.Hostname + " ESMTP"})
	c.loop()
}

// implicitTLS runs the TLS handshake of an smtps connection (RFC 8314).
// It reports false, having logged why, when the handshake failed.
func (c *conn) implicitTLS() bool {
	tc, err := c.srv.handshake(c.nc)
	if err != nil {
		c.log.Info("tls handshake failed", "client", c.info.Remote.String(), "err", err)
		return false
	}
	c.nc = tc
	c.tls = true
	return true
}

// greetPause holds the greeting back while the session's greet pause
// lasts, if it has one. It reports false, having answered, when the client
// talked first or the connection failed meanwhile.
func (c *conn) greetPause() bool {
	gp, ok := c.sess.(GreetPauser)
	if !ok {
		return true
	}
	d := gp.GreetPause()
	if d <= 0 {
		return true
	}
	talked, err := c.talksFirst(d)
	if err != nil {
		c.connError(err)
		return false
	}
	if talked {
		c.reply(gp.EarlyTalker())
		c.w.Flush()
		c.log.Info("early talker", "client", c.info.Remote.String())
		return false
	}
	return true
}

// loop reads and answers command lines until the connection is to end.
// A line too long or ending in a bare LF is refused and the loop goes on.
func (c *conn) loop() {
	for !c.quit {
		if !c.flushIfIdle() {
			return
		}
		line, err := c.readLine()
		switch {
		case errors.Is(err, errLineTooLong):
			c.fail(smtp.ReplyLineTooLong)
			continue
		case errors.Is(err, errBareLF):
			c.fail(&smtp.Reply{Code: 500, Enhanced: "5.5.2", Text: "bare LF in command line not allowed"})
			continue
		case err != nil:
			c.connError(err)
			return
		}
		if !c.handle(line) {
			return
		}
	}
	c.w.Flush()
}

// handle answers one command line, unless the server is shutting down.
// After it, the session may hang up, and too many client errors end the
// connection. It reports false, with the replies flushed, when the
// connection must close at once.
func (c *conn) handle(line []byte) bool {
	if !c.begin() {
		c.reply(smtp.ReplyShuttingDown)
		c.w.Flush()
		return false
	}
	c.command(line)
	c.end()
	if h, ok := c.sess.(Hanger); ok && h.Hangup() {
		c.quit = true
	}
	if c.errors >= c.srv.opts.MaxErrors {
		c.reply(smtp.ReplyTooManyErrors)
		c.w.Flush()
		c.log.Info("too many errors", "client", c.info.Remote.String(), "errors", c.errors)
		return false
	}
	return true
}

// talksFirst waits up to d for the client to send anything before our
// greeting (RFC 5321 4.3.1: the client must wait for it).
func (c *conn) talksFirst(d time.Duration) (bool, error) {
	c.setReadDeadline(d)
	_, err := c.r.Peek(1)
	c.nc.SetReadDeadline(time.Time{})
	if err == nil {
		return true, nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.mu.Lock()
		closing := c.closing
		c.mu.Unlock()
		if closing {
			return false, err
		}
		return false, nil
	}
	return false, err
}

// setReadDeadline arms the read deadline, unless Shutdown already asked
// this connection to stop (then the read returns at once). Both happen
// under c.mu, so Shutdown's wake-up is never overwritten.
func (c *conn) setReadDeadline(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		c.nc.SetReadDeadline(time.Now())
		return
	}
	c.nc.SetReadDeadline(time.Now().Add(d))
}

// begin marks the connection busy; false means the server is shutting down.
func (c *conn) begin() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	c.busy = true
	return true
}

func (c *conn) end() {
	c.mu.Lock()
	c.busy = false
	closing := c.closing
	c.mu.Unlock()
	if closing {
		c.reply(smtp.ReplyShuttingDown)
		c.quit = true
	}
}

// shutdown is called by Server.Shutdown: an idle connection is woken from
// its read and closed with 421; a busy one finishes its command first.
func (c *conn) shutdown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closing = true
	if !c.busy {
		c.nc.SetReadDeadline(time.Now())
	}
}

// flushIfIdle sends buffered replies when the client has nothing more
// pipelined (RFC 2920 3.1: the server may hold replies until then).
func (c *conn) flushIfIdle() bool {
	if c.r.Buffered() > 0 {
		return true
	}
	if err := c.w.Flush(); err != nil {
		c.connError(err)
		return false
	}
	return true
}

// readLine reads one command line, without its CRLF.
func (c *conn) readLine() ([]byte, error) {
	c.setReadDeadline(c.srv.opts.CommandTimeout)
	n := 0
	for {
		chunk, err := c.r.ReadSlice('\n')
		n += len(chunk)
		if err == bufio.ErrBufferFull {
			continue // longer than the buffer: keep discarding to the end of line
		}
		if err != nil {
			return nil, err
		}
		if n > c.srv.opts.MaxLineLength+paramAllowance {
			return nil, errLineTooLong
		}
		if n != len(chunk) {
			return nil, errLineTooLong
		}
		// RFC 5321 2.3.8: lines end in CRLF; a bare LF is refused.
		if len(chunk) < 2 || chunk[len(chunk)-2] != '\r' {
			return nil, errBareLF
		}
		return chunk[:len(chunk)-2], nil
	}
}

// reply queues a reply; it is flushed when the client is idle.
func (c *conn) reply(r *smtp.Reply) {
	c.w.Write(r.Format(true))
	if r.Code == 421 {
		// RFC 5321 3.8: 421 closes the transmission channel; whatever
		// stage answered it (a rate limit, a revoked login), we hang up.
		c.quit = true
	}
}

// fail sends an error reply caused by the client and counts it.
func (c *conn) fail(r *smtp.Reply) {
	c.errors++
	c.reply(r)
}

// connError logs why a connection ended abnormally and says goodbye when
// it still can.
func (c *conn) connError(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		c.log.Debug("client went away", "client", c.info.Remote.String())
	case errors.As(err, &ne) && ne.Timeout():
		c.mu.Lock()
		closing := c.closing
		c.mu.Unlock()
		if closing {
			c.nc.SetWriteDeadline(time.Now().Add(time.Second))
			c.reply(smtp.ReplyShuttingDown)
		} else {
			c.log.Info("timeout", "client", c.info.Remote.String())
			c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			c.reply(smtp.ReplyTimeout)
		}
		c.w.Flush()
	default:
		c.log.Info("connection error", "client", c.info.Remote.String(), "err", err)
	}
}

// resetTransaction forgets MAIL and RCPT.
func (c *conn) resetTransaction() {
	if c.inMail {
		c.sess.Reset()
	}
	c.inMail = false
	c.smtputf8 = false
	c.rcpts = 0
}
