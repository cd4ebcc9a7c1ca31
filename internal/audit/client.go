package audit

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"postern/internal/smtp"
)

// maxReplyLine bounds one reply line we are willing to read; RFC 5321
// 4.5.3.1.5 allows 512 octets, we accept more but not without limit.
const maxReplyLine = 4096

// maxReplyLines bounds the lines of one multi-line reply.
const maxReplyLines = 200

// client is the small SMTP client the probes use. It records every line
// sent ("C: ") and received ("S: ") so that a finding can show the exact
// exchange as its evidence.
type client struct {
	conn    net.Conn
	r       *bufio.Reader
	timeout time.Duration
	log     *[]string
	ext     map[string]string // EHLO keywords (upper case) -> parameters
	isTLS   bool
	tlsInfo *tls.ConnectionState
}

// dialer opens connections to the target, and only to the addresses that
// Options allow (loopback unless AllowRemote).
type dialer struct {
	addr    string // IP:port, already checked
	local   net.IP // source address; nil for any
	timeout time.Duration
}

func (d dialer) dial(ctx context.Context, port int, log *[]string) (*client, *smtp.Reply, error) {
	host, _, err := net.SplitHostPort(d.addr)
	if err != nil {
		return nil, nil, err
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	nd := net.Dialer{Timeout: d.timeout}
	if d.local != nil {
		nd.LocalAddr = &net.TCPAddr{IP: d.local}
	}
	conn, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	*log = append(*log, "connected to "+addr+" from "+conn.LocalAddr().String())
	c := &client{conn: conn, r: bufio.NewReaderSize(conn, 4096), timeout: d.timeout, log: log}
	// RFC 5321 4.2: the server speaks first, with a 220 greeting.
	rep, err := c.reply()
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return c, rep, nil
}

// localIP is the address our side of the connection uses.
func (c *client) localIP() net.IP {
	if a, ok := c.conn.LocalAddr().(*net.TCPAddr); ok {
		return a.IP
	}
	return nil
}

func (c *client) close() { c.conn.Close() }

// send writes one command line.
func (c *client) send(line string) error {
	*c.log = append(*c.log, "C: "+line)
	c.conn.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err := c.conn.Write([]byte(line + "\r\n"))
	return err
}

// raw writes bytes as they are (DATA content), logging them escaped.
func (c *client) raw(b string) error {
	*c.log = append(*c.log, "C: "+strconv.Quote(b))
	c.conn.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err := c.conn.Write([]byte(b))
	return err
}

// cmd sends a command and reads its reply.
func (c *client) cmd(line string) (*smtp.Reply, error) {
	if err := c.send(line); err != nil {
		return nil, err
	}
	return c.reply()
}

// reply reads one (possibly multi-line) reply, RFC 5321 4.2.1.
func (c *client) reply() (*smtp.Reply, error) {
	return c.replyWithin(c.timeout)
}

func (c *client) replyWithin(d time.Duration) (*smtp.Reply, error) {
	c.conn.SetReadDeadline(time.Now().Add(d))
	return c.readReply()
}

// readReply parses one reply from c.r, logging each line.
func (c *client) readReply() (*smtp.Reply, error) {
	var text []string
	code := 0
	for n := 0; ; n++ {
		if n >= maxReplyLines {
			return nil, errors.New("reply has too many lines")
		}
		line, err := c.readLine()
		if err != nil {
			return nil, err
		}
		*c.log = append(*c.log, "S: "+line)
		if len(line) < 3 {
			return nil, fmt.Errorf("malformed reply line %q", line)
		}
		k, err := strconv.Atoi(line[:3])
		if err != nil || k < 100 || k > 599 {
			return nil, fmt.Errorf("malformed reply line %q", line)
		}
		if code != 0 && k != code {
			return nil, fmt.Errorf("reply code changed within a reply: %q", line)
		}
		code = k
		more := len(line) > 3 && line[3] == '-'
		if len(line) > 4 {
			text = append(text, line[4:])
		} else {
			text = append(text, "")
		}
		if !more {
			break
		}
	}
	rep := &smtp.Reply{Code: code, Text: strings.Join(text, "\n")}
	// RFC 2034 4: an enhanced status code, when present, starts the text.
	if f := strings.Fields(text[0]); len(f) > 0 && isEnhanced(f[0], code) {
		rep.Enhanced = f[0]
	}
	return rep, nil
}

func isEnhanced(s string, code int) bool {
	p := strings.Split(s, ".")
	if len(p) != 3 || len(p[0]) != 1 || p[0][0] != byte('0'+code/100) {
		return false
	}
	for _, x := range p[1:] {
		if _, err := strconv.Atoi(x); err != nil || len(x) == 0 || len(x) > 3 {
			return false
		}
	}
	return true
}

func (c *client) readLine() (string, error) {
	var b []byte
	for {
		chunk, isPrefix, err := c.r.ReadLine()
		if err != nil {
			return "", err
		}
		b = append(b, chunk...)
		if len(b) > maxReplyLine {
			return "", errors.New("reply line too long")
		}
		if !isPrefix {
			return string(b), nil
		}
	}
}

// ehlo greets the server and records its extensions; it falls back to
// HELO when EHLO is refused (RFC 5321 3.2).
func (c *client) ehlo(name string) (*smtp.Reply, error) {
	rep, err := c.cmd("EHLO " + name)
	if err != nil {
		return nil, err
	}
	c.ext = map[string]string{}
	if rep.Code != 250 {
		rep, err = c.cmd("HELO " + name)
		if err != nil {
			return nil, err
		}
		return rep, nil
	}
	lines := strings.Split(rep.Text, "\n")
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(l), " ")
		// Old servers announce "AUTH=LOGIN"; treat it like "AUTH LOGIN".
		if kk, vv, ok := strings.Cut(k, "="); ok && strings.EqualFold(kk, "AUTH") {
			k, v = kk, strings.TrimSpace(vv+" "+v)
		}
		k = strings.ToUpper(k)
		if old, ok := c.ext[k]; ok && v != "" {
			v = old + " " + v
		}
		c.ext[k] = v
	}
	return rep, nil
}

func (c *client) has(ext string) bool {
	_, ok := c.ext[ext]
	return ok
}

// startTLS runs STARTTLS (RFC 3207) and the handshake with cfg.
func (c *client) startTLS(cfg *tls.Config) (*smtp.Reply, error) {
	rep, err := c.cmd("STARTTLS")
	if err != nil {
		return nil, err
	}
	if rep.Code != 220 {
		return rep, nil
	}
	tc := tls.Client(c.conn, cfg)
	tc.SetDeadline(time.Now().Add(c.timeout))
	if err := tc.Handshake(); err != nil {
		*c.log = append(*c.log, "TLS handshake failed: "+err.Error())
		return rep, err
	}
	st := tc.ConnectionState()
	*c.log = append(*c.log, fmt.Sprintf("TLS %s %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)))
	c.conn = tc
	// RFC 3207 4.2: discard what we knew from before the handshake.
	c.r = bufio.NewReaderSize(tc, 4096)
	c.isTLS = true
	c.tlsInfo = &st
	c.ext = nil
	return rep, nil
}

// quit ends the session politely and closes the connection.
func (c *client) quit() {
	c.cmd("QUIT")
	c.close()
}
