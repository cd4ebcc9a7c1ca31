package deliver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"postern/internal/envelope"
	"postern/internal/smtp"
)

// Pipe delivers a message by running a command with the message on its
// standard input, as sendmail's prog mailer does for "|command" aliases.
// The command runs without a shell, in a clean environment, once per
// recipient. It is a spool.Courier; whether pipes are allowed at all is
// decided where the targets come from (aliases), never here.
type Pipe struct {
	Command string   // absolute path of the program
	Args    []string // arguments after the program name
	// Timeout bounds one run [10m]; a command still running is killed
	// and the delivery is tried again later.
	Timeout time.Duration
	// User, when set, runs the command with these ids (postern must
	// then run as root); nil keeps postern's own.
	User *PipeUser
	// Dir is the working directory ["/"].
	Dir string
	Log *slog.Logger
}

// PipeUser is the identity a pipe command runs as.
type PipeUser struct {
	UID, GID uint32
	Home     string
	Name     string
}

// sysexits(3) codes and what they mean for the message; the enhanced
// codes follow Postfix's table (RFC 3463).
var sysexits = map[int]struct {
	enhanced, text string
}{
	64: {"5.3.0", "command line usage error"},  // EX_USAGE
	65: {"5.6.0", "data format error"},         // EX_DATAERR
	66: {"5.3.0", "cannot open input"},         // EX_NOINPUT
	67: {"5.1.1", "user unknown"},              // EX_NOUSER
	68: {"5.1.2", "host name unknown"},         // EX_NOHOST
	69: {"5.3.0", "service unavailable"},       // EX_UNAVAILABLE
	70: {"5.3.0", "internal software error"},   // EX_SOFTWARE
	71: {"5.3.0", "system error"},              // EX_OSERR
	72: {"5.3.0", "critical OS file missing"},  // EX_OSFILE
	73: {"5.2.0", "cannot create output file"}, // EX_CANTCREAT
	74: {"5.3.0", "input/output error"},        // EX_IOERR
	76: {"5.5.0", "remote error in protocol"},  // EX_PROTOCOL
	77: {"5.7.0", "permission denied"},         // EX_NOPERM
	78: {"5.3.5", "configuration error"},       // EX_CONFIG
}

// exTempFail is EX_TEMPFAIL: try again later.
const exTempFail = 75

// Deliver runs the command for each recipient.
func (p *Pipe) Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
	errs := make([]error, len(rcpts))
	for i, r := range rcpts {
		errs[i] = p.run(ctx, env, r, body)
	}
	return errs
}

// run delivers to one recipient: it runs the command with the message on
// its standard input, then turns the way it ended into the result.
func (p *Pipe) run(ctx context.Context, env *envelope.Envelope, r envelope.Recipient, body io.ReaderAt) error {
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	if !strings.HasPrefix(p.Command, "/") {
		return &smtp.Reply{Code: 554, Enhanced: "5.3.5", Text: "delivery command misconfigured",
			Err: fmt.Errorf("pipe command %q is not an absolute path", p.Command)}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := p.command(ctx, env, r)
	// The content as a mailbox would hold it: Return-Path first
	// (RFC 5321 4.4), LF line ends as Unix programs expect.
	hdr := "Return-Path: <" + env.From + ">\r\n"
	cmd.Stdin = newLFReader(io.MultiReader(strings.NewReader(hdr), io.NewSectionReader(body, 0, env.Size)))
	var out bytes.Buffer
	cmd.Stdout = &limitedBuffer{b: &out, max: 4096}
	cmd.Stderr = cmd.Stdout
	err := cmd.Run()
	if err == nil {
		log.InfoContext(ctx, "sent", "id", env.ID, "rcpt", r.Addr, "pipe", p.Command)
		return nil
	}
	return p.failure(ctx, err, strings.TrimSpace(out.String()), timeout)
}

// command prepares the command for one recipient: its working directory,
// a clean environment, the user it runs as and its own process group,
// killed as a whole when ctx ends.
func (p *Pipe) command(ctx context.Context, env *envelope.Envelope, r envelope.Recipient) *exec.Cmd {
	cmd := exec.CommandContext(ctx, p.Command, p.Args...)
	cmd.Dir = p.Dir
	if cmd.Dir == "" {
		cmd.Dir = "/"
	}
	// A clean environment: nothing of postern's own leaks to the command.
	cmd.Env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"SHELL=/bin/sh",
		"SENDER=" + env.From,
		"RECIPIENT=" + r.Addr,
		"ORIGINAL_RECIPIENT=" + strings.TrimPrefix(r.ORCPT, "rfc822;"),
		"QUEUE_ID=" + env.ID,
	}
	if local, domain, ok := strings.Cut(r.Addr, "@"); ok {
		cmd.Env = append(cmd.Env, "USER="+local, "DOMAIN="+domain)
	}
	if p.User != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: p.User.UID, Gid: p.User.GID}, Setsid: true}
		if p.User.Home != "" {
			cmd.Env = append(cmd.Env, "HOME="+p.User.Home)
		}
		if p.User.Name != "" {
			cmd.Env = append(cmd.Env, "LOGNAME="+p.User.Name)
		}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	// Kill the whole process group on timeout, not only the command.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// failure turns a command that did not succeed (err from running it, text
// its output) into the result: a timeout, EX_TEMPFAIL, a signal or a
// command that could not start is tried again later; any other exit code
// fails for good, as sysexits says.
func (p *Pipe) failure(ctx context.Context, err error, text string, timeout time.Duration) error {
	var ee *exec.ExitError
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return &smtp.Reply{Code: 451, Enhanced: "4.3.0", Text: "delivery command timed out, will try again",
			Err: fmt.Errorf("%s: killed after %s", p.Command, timeout)}
	case errors.As(err, &ee) && ee.Exited():
		code := ee.ExitCode()
		if code == exTempFail {
			return &smtp.Reply{Code: 451, Enhanced: "4.3.0", Text: "delivery command failed temporarily, will try again",
				Err: fmt.Errorf("%s: exit %d: %s", p.Command, code, text)}
		}
		e, ok := sysexits[code]
		if !ok {
			e.enhanced, e.text = "5.3.0", "unknown error"
		}
		return &smtp.Reply{Code: 554, Enhanced: e.enhanced, Text: "delivery command failed: " + e.text,
			Err: fmt.Errorf("%s: exit %d: %s", p.Command, code, text)}
	case errors.As(err, &ee):
		// Killed by a signal: nothing says the message is bad.
		return &smtp.Reply{Code: 451, Enhanced: "4.3.0", Text: "delivery command failed, will try again",
			Err: fmt.Errorf("%s: %v: %s", p.Command, err, text)}
	}
	// The command could not be started at all.
	return &smtp.Reply{Code: 451, Enhanced: "4.3.0", Text: "delivery command failed, will try again",
		Err: fmt.Errorf("%s: %w", p.Command, err)}
}

// limitedBuffer keeps the first max bytes of the command's output (for
// the log) and drops the rest.
type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// lfReader turns CR LF into LF; a lone CR stays.
type lfReader struct {
	r       io.Reader
	pending bool   // a CR ended the last chunk read
	buf     []byte // read buffer
	out     []byte // converted bytes not yet returned
	err     error
}

func newLFReader(r io.Reader) io.Reader { return &lfReader{r: r, buf: make([]byte, 32<<10)} }

func (l *lfReader) Read(p []byte) (int, error) {
	for len(l.out) == 0 {
		if l.err != nil {
			return 0, l.err
		}
		n, err := l.r.Read(l.buf)
		l.err = err
		conv := l.out[:0]
		for _, c := range l.buf[:n] {
			if l.pending {
				l.pending = false
				if c != '\n' {
					conv = append(conv, '\r')
				}
			}
			if c == '\r' {
				l.pending = true
				continue
			}
			conv = append(conv, c)
		}
		if err != nil && l.pending {
			conv = append(conv, '\r')
			l.pending = false
		}
		l.out = conv
	}
	n := copy(p, l.out)
	l.out = l.out[n:]
	return n, nil
}
