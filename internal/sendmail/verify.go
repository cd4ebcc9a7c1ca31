package sendmail

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"time"

	"postern/internal/smtp"
	"postern/internal/smtpclient"
	"postern/internal/submit"
)

// command sends one SMTP command line ("" sends nothing) and reads the
// reply.
type command func(line string) (*smtp.Reply, error)

// Verify is -bv: RCPT for each address, then RSET; nothing is sent. Each
// address's verdict goes to out; it returns the exit status.
func (c *Client) Verify(ctx context.Context, a *Args, out io.Writer) int {
	if len(a.Rcpts) == 0 {
		c.errorf("-bv needs addresses to verify")
		return ExUsage
	}
	nc, code := c.dial(ctx)
	if nc == nil {
		return code
	}
	defer nc.Close()
	if a.Verbose {
		nc = &traceConn{Conn: nc, w: c.Stderr}
	}
	nc.SetDeadline(time.Now().Add(5 * time.Minute))
	br := bufio.NewReader(nc)
	cmd := func(line string) (*smtp.Reply, error) {
		if line != "" {
			if _, err := io.WriteString(nc, line+"\r\n"); err != nil {
				return nil, err
			}
		}
		return smtpclient.ReadReply(br)
	}
	rep, err := cmd("")
	if err == nil && rep.Code == 220 {
		host := smtpclient.Greeting(rep.Text)
		rep, err = cmd("EHLO localhost")
		if err == nil && rep.Code == 250 {
			sender, serr := EnvelopeSender(a, c.Login, host)
			if serr != nil {
				c.errorf("%v", serr)
				return ExUsage
			}
			rep, err = cmd("MAIL FROM:<" + sender + ">")
			if err == nil && rep.Code == 250 {
				return c.verifyRcpts(a.Rcpts, host, cmd, out)
			}
		}
	}
	if err != nil {
		c.errorf("%v", err)
		return ExTempFail
	}
	c.errorf("refused: %v", rep)
	return ReplyCode(rep)
}

func (c *Client) verifyRcpts(args []string, host string, cmd command, out io.Writer) int {
	code := 0
	for _, arg := range args {
		list, err := submit.ParseAddressList(arg, host)
		if err != nil {
			fmt.Fprintf(out, "%s... not an address: %v\n", arg, err)
			code = ExNoUser
			continue
		}
		for _, r := range list {
			rep, err := cmd("RCPT TO:<" + r + ">")
			if err != nil {
				c.errorf("%v", err)
				return ExTempFail
			}
			if rep.Code == 250 || rep.Code == 251 {
				fmt.Fprintf(out, "%s... deliverable\n", r)
				continue
			}
			fmt.Fprintf(out, "%s... undeliverable: %d %s %s\n", r, rep.Code, rep.Enhanced, oneLine(rep.Text))
			if rc := ReplyCode(rep); code == 0 || rc != ExTempFail {
				code = rc
			}
		}
	}
	cmd("RSET")
	cmd("QUIT")
	return code
}
