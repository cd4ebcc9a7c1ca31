package smtpd

import (
	"errors"
	"fmt"
	"io"
	"time"

	"postern/internal/smtp"
)

var (
	replyBadBDAT = &smtp.Reply{Code: 501, Enhanced: "5.5.4", Text: "syntax: BDAT size [LAST]; closing connection"}
	replyNoBDAT  = &smtp.Reply{Code: 502, Enhanced: "5.5.1", Text: "CHUNKING not offered; closing connection"}
	errBDATAbort = errors.New("BDAT transfer aborted by the client")
)

// bdatCmd handles the first BDAT of a transaction (RFC 3030). The chunk's
// bytes follow the command at once, so a BDAT whose size cannot be
// trusted ends the connection: its payload must never be read as
// commands.
func (c *conn) bdatCmd(arg string) {
	if !c.srv.opts.Chunking || !c.ehlo {
		c.fail(replyNoBDAT)
		c.quit = true
		return
	}
	size, last, rep := smtp.ParseBDAT(arg)
	if rep != nil {
		c.fail(replyBadBDAT)
		c.quit = true
		return
	}
	c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.DataTimeout))
	if !c.inMail || c.rcpts == 0 {
		// RFC 3030 2: the chunk is read and thrown away, then refused.
		if _, err := io.CopyN(io.Discard, c.r, size); err != nil {
			c.connError(err)
			c.quit = true
			return
		}
		if !c.inMail {
			c.fail(&smtp.Reply{Code: 503, Enhanced: "5.5.1", Text: "need MAIL before BDAT"})
		} else {
			c.fail(&smtp.Reply{Code: 554, Enhanced: "5.5.1", Text: "no valid recipients"})
		}
		return
	}
	br := &bdatReader{c: c, remaining: size, last: last, max: c.srv.opts.MaxMessageBytes, chunkSize: size}
	rep = c.sess.Data(c.ctx, br)
	br.drain()
	switch {
	case br.connErr != nil:
		c.connError(br.connErr)
		c.quit = true
		return
	case br.aborted:
		return // the command that aborted was answered already
	}
	c.inMail, c.smtputf8, c.rcpts = false, false, 0
	c.finish(rep)
}

// bdatReader gives the session the message carried by a BDAT sequence:
// it reads each chunk, answers it, and reads the next BDAT command
// itself, until LAST. Bare CR, bare LF and NUL are refused as in DATA.
type bdatReader struct {
	c         *conn
	remaining int64 // bytes left in the current chunk
	last      bool  // the current chunk is the last one
	max       int64
	total     int64
	prevCR    bool // the previous byte was CR
	lastTwo   [2]byte
	err       error  // content error, returned after LAST
	done      bool   // LAST chunk consumed
	aborted   bool   // RSET, QUIT or another command ended the transfer
	connErr   error  // the connection failed
	tail      []byte // bytes to hand out before EOF (a missing final CRLF)
	chunkSize int64
}

func (b *bdatReader) Read(p []byte) (int, error) {
	for b.remaining == 0 {
		if b.connErr != nil {
			return 0, b.connErr
		}
		if b.aborted {
			return 0, errBDATAbort
		}
		if b.last {
			if !b.done {
				b.done = true
				if b.prevCR {
					b.contentErr(replyBareCRLF)
				}
				if b.err == nil && b.total > 0 && (b.lastTwo != [2]byte{'\r', '\n'}) {
					b.tail = []byte("\r\n") // a message always ends in CRLF
				}
			}
			if b.err != nil {
				return 0, b.err
			}
			if len(b.tail) > 0 {
				n := copy(p, b.tail)
				b.tail = b.tail[n:]
				return n, nil
			}
			return 0, io.EOF
		}
		b.next()
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.c.r.Read(p)
	b.remaining -= int64(n)
	b.total += int64(n)
	if err != nil {
		b.connErr = err
		return 0, err
	}
	b.check(p[:n])
	if b.err != nil {
		// Keep reading the chunks to LAST, then report the error.
		return 0, b.drainErr()
	}
	return n, nil
}

var (
	replyBareCRLF = &smtp.Reply{Code: 550, Enhanced: "5.6.0", Text: "bare CR or LF in message not allowed"}
	replyNUL      = &smtp.Reply{Code: 550, Enhanced: "5.6.0", Text: "NUL in message not allowed"}
)

// check scans a piece of content for bare CR, bare LF, NUL and size.
func (b *bdatReader) check(p []byte) {
	if b.max > 0 && b.total > b.max {
		b.contentErr(smtp.ReplyMessageTooBig)
	}
	for _, ch := range p {
		switch {
		case ch == 0:
			b.contentErr(replyNUL)
		case ch == '\n' && !b.prevCR:
			b.contentErr(replyBareCRLF)
		case ch != '\n' && b.prevCR:
			b.contentErr(replyBareCRLF)
		}
		b.prevCR = ch == '\r'
	}
	if len(p) >= 2 {
		b.lastTwo = [2]byte{p[len(p)-2], p[len(p)-1]}
	} else if len(p) == 1 {
		b.lastTwo = [2]byte{b.lastTwo[1], p[0]}
	}
}

func (b *bdatReader) contentErr(r *smtp.Reply) {
	if b.err == nil {
		b.err = r
	}
}

// drainErr consumes the rest of the transfer and returns the content
// error (or the connection error).
func (b *bdatReader) drainErr() error {
	b.drain()
	if b.connErr != nil {
		return b.connErr
	}
	if b.aborted {
		return errBDATAbort
	}
	return b.err
}

// drain consumes every remaining chunk up to LAST.
func (b *bdatReader) drain() {
	for b.connErr == nil && !b.aborted {
		if b.remaining > 0 {
			n, err := io.CopyN(io.Discard, b.c.r, b.remaining)
			b.remaining -= n
			b.total += n
			if err != nil {
				b.connErr = err
				return
			}
			continue
		}
		if b.last {
			return
		}
		b.next()
	}
}

// next acknowledges the finished chunk and reads the next command, which
// must be BDAT.
func (b *bdatReader) next() {
	c := b.c
	c.reply(&smtp.Reply{Code: 250, Enhanced: "2.0.0", Text: fmt.Sprintf("%d octets received", b.chunkSize)})
	if !c.flushIfIdle() {
		b.connErr = io.ErrUnexpectedEOF
		return
	}
	line, err := c.readLine()
	if err != nil {
		if errors.Is(err, errLineTooLong) || errors.Is(err, errBareLF) {
			c.fail(smtp.ReplySyntax)
			b.abort()
			return
		}
		b.connErr = err
		return
	}
	verb, arg, rep := smtp.ParseCommand(line)
	switch {
	case rep != nil:
		c.fail(rep)
		b.abort()
	case verb == "BDAT":
		size, last, rep := smtp.ParseBDAT(arg)
		if rep != nil {
			c.fail(replyBadBDAT)
			b.connErr = errBDATAbort
			return
		}
		b.remaining, b.last = size, last
		b.chunkSize = size
		c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.DataTimeout))
	case verb == "RSET":
		b.abort()
		c.reply(smtp.ReplyOK)
	case verb == "QUIT":
		b.abort()
		c.reply(&smtp.Reply{Code: 221, Enhanced: "2.0.0", Text: "bye"})
		c.quit = true
	default:
		b.abort()
		c.fail(&smtp.Reply{Code: 503, Enhanced: "5.5.1", Text: "only BDAT may follow BDAT; transaction aborted"})
	}
}

// abort ends the transfer because of a command other than BDAT.
func (b *bdatReader) abort() {
	b.aborted = true
	c := b.c
	c.inMail, c.smtputf8, c.rcpts = false, false, 0
	c.sess.Reset()
}
