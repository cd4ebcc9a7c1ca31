package sendmail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"strings"
	"syscall"
	"time"

	"postern/internal/inbound"
	"postern/internal/smtpclient"
	"postern/internal/submit"
)

// Client speaks to the running server through its local submission
// socket, on behalf of the user who ran sendmail.
type Client struct {
	Socket string // the server's [local] socket
	// Login is the caller's login name, as the server sees it (the
	// kernel tells it the uid); FullName the caller's full name, for a
	// From field sendmail adds. Caller gives both.
	Login, FullName string
	// Stderr gets every diagnostic ("postern sendmail: ...") and, with
	// -v, the SMTP conversation.
	Stderr io.Writer
}

// Caller returns the login name the server will see for this process
// and the full name of the password database (GECOS) for a From field.
func Caller() (login, fullName string) {
	uid := os.Getuid()
	login = inbound.LoginName(uid)
	if u, err := user.LookupId(fmt.Sprint(uid)); err == nil {
		// The GECOS field: the full name, then office and phone.
		fullName, _, _ = strings.Cut(u.Name, ",")
	}
	return login, fullName
}

func (c *Client) errorf(format string, args ...any) {
	fmt.Fprintf(c.Stderr, "postern sendmail: "+format+"\n", args...)
}

// dial connects to the server's socket, explaining failures; it returns
// the exit code when it cannot.
func (c *Client) dial(ctx context.Context) (net.Conn, int) {
	d := net.Dialer{Timeout: 30 * time.Second}
	nc, err := d.DialContext(ctx, "unix", c.Socket)
	if err == nil {
		return nc, 0
	}
	switch {
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED):
		c.errorf("the postern server is not running (nothing listens on %s); the message was not sent", c.Socket)
		return nil, ExTempFail
	case errors.Is(err, syscall.EACCES):
		c.errorf("permission denied on %s: its directory must be reachable by every user who sends mail (see [local] socket)", c.Socket)
		return nil, ExUnavailable
	}
	c.errorf("cannot connect to %s: %v", c.Socket, err)
	return nil, ExTempFail
}

// open connects and greets; host is the server's name, which completes
// bare addresses.
func (c *Client) open(ctx context.Context, verbose bool) (*smtpclient.Client, string, int) {
	nc, code := c.dial(ctx)
	if nc == nil {
		return nil, "", code
	}
	if verbose {
		nc = &traceConn{Conn: nc, w: c.Stderr}
	}
	sc := smtpclient.New(nc, smtpclient.Options{})
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := sc.Greet(ctx); err != nil {
		nc.Close()
		return nil, "", replyExit(c.Stderr, "the server refused the connection", err)
	}
	if err := sc.Hello(ctx, "localhost"); err != nil {
		nc.Close()
		return nil, "", replyExit(c.Stderr, "the server refused EHLO", err)
	}
	host := sc.ServerName()
	if host == "" {
		host = sc.HelloName()
	}
	return sc, host, 0
}

// EnvelopeSender is -f's address, or login@host without -f; "" is the
// null sender.
func EnvelopeSender(a *Args, login, host string) (string, error) {
	if !a.FromSet {
		return login + "@" + host, nil
	}
	f := strings.TrimSpace(a.From)
	if f == "" || f == "<>" {
		return "", nil // the null sender
	}
	list, err := submit.ParseAddressList(f, host)
	if err != nil || len(list) != 1 {
		return "", fmt.Errorf("-f %s: not an address", a.From)
	}
	return list[0], nil
}

// oneLine keeps a value on its line: control characters are shown
// escaped.
func oneLine(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
		return s
	}
	q := fmt.Sprintf("%q", s)
	return q[1 : len(q)-1]
}
