package deliver

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"postern/internal/envelope"
	"postern/internal/smtp"
)

func writeScript(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "prog.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPipeDelivers(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	os.Setenv("POSTERN_SECRET_TEST", "leak")
	defer os.Unsetenv("POSTERN_SECRET_TEST")
	prog := writeScript(t, `cat > "$1"; env | sort > "$1.env"; exit 0`)
	p := &Pipe{Command: prog, Args: []string{out}}
	env, rcpts, body := message("Q1", "a@example.org", "Subject: pipe\r\n\r\nline 1\r\nbare\rCR\r\n", "list@example.test")
	if err := p.Deliver(context.Background(), env, rcpts, body)[0]; err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	want := "Return-Path: <a@example.org>\nSubject: pipe\n\nline 1\nbare\rCR\n"
	if string(got) != want {
		t.Errorf("stdin:\n got %q\nwant %q", got, want)
	}
	envs, _ := os.ReadFile(out + ".env")
	for _, w := range []string{"SENDER=a@example.org", "RECIPIENT=list@example.test", "QUEUE_ID=Q1", "PATH=/usr/local/bin:/usr/bin:/bin"} {
		if !strings.Contains(string(envs), w+"\n") {
			t.Errorf("no %s in environment:\n%s", w, envs)
		}
	}
	if strings.Contains(string(envs), "POSTERN_SECRET_TEST") {
		t.Error("postern's environment leaked to the command")
	}
}

func TestPipeExitCodes(t *testing.T) {
	for _, c := range []struct {
		script   string
		code     int
		enhanced string
	}{
		{"exit 75", 451, "4.3.0"},    // EX_TEMPFAIL: retry
		{"exit 67", 554, "5.1.1"},    // EX_NOUSER
		{"exit 77", 554, "5.7.0"},    // EX_NOPERM
		{"exit 1", 554, "5.3.0"},     // anything else: permanent
		{"kill -9 $$", 451, "4.3.0"}, // a signal: retry
	} {
		p := &Pipe{Command: writeScript(t, "cat >/dev/null; "+c.script)}
		env, rcpts, body := message("Q2", "a@example.org", "x\r\n", "r@example.test")
		wantReply(t, c.script, p.Deliver(context.Background(), env, rcpts, body)[0], c.code, c.enhanced)
	}
	// A command that hangs is killed, with its children, and retried.
	p := &Pipe{Command: writeScript(t, "sleep 30 & sleep 30"), Timeout: 300 * time.Millisecond}
	env, rcpts, body := message("Q3", "a@example.org", "x\r\n", "r@example.test")
	start := time.Now()
	wantReply(t, "timeout", p.Deliver(context.Background(), env, rcpts, body)[0], 451, "4.3.0")
	if time.Since(start) > 10*time.Second {
		t.Errorf("timeout took %s", time.Since(start))
	}
	// Not an absolute path: configuration error, never a shell lookup.
	p = &Pipe{Command: "sh"}
	wantReply(t, "relative", p.Deliver(context.Background(), env, rcpts, body)[0], 554, "5.3.5")
	// Missing program: temporary (the admin may install it).
	p = &Pipe{Command: "/nonexistent/prog"}
	wantReply(t, "missing", p.Deliver(context.Background(), env, rcpts, body)[0], 451, "4.3.0")
}

func TestLFReader(t *testing.T) {
	for in, want := range map[string]string{
		"a\r\nb\r\n": "a\nb\n",
		"a\rb":       "a\rb",
		"a\r":        "a\r",
		"\r\r\n":     "\r\n",
		"":           "",
	} {
		b := new(strings.Builder)
		r := newLFReader(iotest.OneByteReader(strings.NewReader(in)))
		buf := make([]byte, 1)
		for {
			n, err := r.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		if b.String() != want {
			t.Errorf("%q -> %q, want %q", in, b.String(), want)
		}
	}
}

func TestPipeRunsAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change user")
	}
	out := filepath.Join(t.TempDir(), "id")
	os.Chmod(filepath.Dir(out), 0o777)
	prog := writeScript(t, `cat >/dev/null; id -u > "$1"; echo "$HOME $LOGNAME" >> "$1"`)
	// nobody must reach the script and the output through the test's
	// temporary directories.
	os.Chmod(filepath.Dir(prog), 0o755)
	os.Chmod(filepath.Dir(filepath.Dir(prog)), 0o755)
	p := &Pipe{Command: prog, Args: []string{out}, User: &PipeUser{UID: 65534, GID: 65534, Home: "/nonexistent", Name: "nobody"}}
	env, rcpts, body := message("Q4", "a@example.org", "x\r\n", "r@example.test")
	if err := p.Deliver(context.Background(), env, rcpts, body)[0]; err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if string(got) != "65534\n/nonexistent nobody\n" {
		t.Errorf("ran as %q", got)
	}
}

// TestPipeReplies checks the whole reply for each way a command can end:
// code, enhanced code, text and the error behind it (with the command's
// output, cut at 4096 bytes).
func TestPipeReplies(t *testing.T) {
	long := strings.Repeat("x", 5000)
	for _, c := range []struct {
		name    string
		script  string // "": the command is the one in cmd
		cmd     string
		timeout time.Duration
		want    smtp.Reply
		err     string // PROG stands for the command
	}{
		{name: "tempfail", script: "echo try later; exit 75",
			want: smtp.Reply{Code: 451, Enhanced: "4.3.0", Text: "delivery command failed temporarily, will try again"}, err: "PROG: exit 75: try later"},
		{name: "nouser", script: "echo '  no such user  ' >&2; exit 67",
			want: smtp.Reply{Code: 554, Enhanced: "5.1.1", Text: "delivery command failed: user unknown"}, err: "PROG: exit 67: no such user"},
		{name: "config", script: "exit 78",
			want: smtp.Reply{Code: 554, Enhanced: "5.3.5", Text: "delivery command failed: configuration error"}, err: "PROG: exit 78: "},
		{name: "unknown code", script: "echo " + long + "; exit 3",
			want: smtp.Reply{Code: 554, Enhanced: "5.3.0", Text: "delivery command failed: unknown error"}, err: "PROG: exit 3: " + long[:4096]},
		{name: "signal", script: "echo dying; kill -TERM $$",
			want: smtp.Reply{Code: 451, Enhanced: "4.3.0", Text: "delivery command failed, will try again"}, err: "PROG: signal: terminated: dying"},
		{name: "timeout", script: "sleep 30", timeout: 200 * time.Millisecond,
			want: smtp.Reply{Code: 451, Enhanced: "4.3.0", Text: "delivery command timed out, will try again"}, err: "PROG: killed after 200ms"},
		{name: "relative", cmd: "prog",
			want: smtp.Reply{Code: 554, Enhanced: "5.3.5", Text: "delivery command misconfigured"}, err: `pipe command "prog" is not an absolute path`},
		{name: "missing", cmd: "/nonexistent/prog",
			want: smtp.Reply{Code: 451, Enhanced: "4.3.0", Text: "delivery command failed, will try again"}, err: "PROG: fork/exec PROG: no such file or directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			prog := c.cmd
			if c.script != "" {
				prog = writeScript(t, "cat >/dev/null; "+c.script)
			}
			var logs bytes.Buffer
			p := &Pipe{Command: prog, Timeout: c.timeout, Log: slog.New(slog.NewTextHandler(&logs, nil))}
			env, rcpts, body := message("Q5", "a@example.org", "x\r\n", "r@example.test")
			err := p.Deliver(context.Background(), env, rcpts, body)[0]
			var rep *smtp.Reply
			if !errors.As(err, &rep) {
				t.Fatalf("%v (%T), want a reply", err, err)
			}
			if rep.Code != c.want.Code || rep.Enhanced != c.want.Enhanced || rep.Text != c.want.Text {
				t.Errorf("reply %d %s %q, want %d %s %q", rep.Code, rep.Enhanced, rep.Text, c.want.Code, c.want.Enhanced, c.want.Text)
			}
			if want := strings.ReplaceAll(c.err, "PROG", prog); rep.Err == nil || rep.Err.Error() != want {
				t.Errorf("error %q, want %q", rep.Err, want)
			}
			if logs.Len() != 0 {
				t.Errorf("failure logged: %s", logs.String())
			}
		})
	}
}

// TestPipeEnvironment checks the command's whole environment and working
// directory, and the log line of a delivery.
func TestPipeEnvironment(t *testing.T) {
	for _, c := range []struct {
		name string
		rcpt envelope.Recipient
		dir  string // Pipe.Dir; "" for the default
		env  []string
	}{
		{name: "address", rcpt: envelope.Recipient{Addr: "list@example.test", ORCPT: "rfc822;List@Example.TEST"},
			env: []string{"DOMAIN=example.test", "ORIGINAL_RECIPIENT=List@Example.TEST", "PATH=/usr/local/bin:/usr/bin:/bin",
				"QUEUE_ID=Q6", "RECIPIENT=list@example.test", "SENDER=a@example.org", "SHELL=/bin/sh", "USER=list"}},
		{name: "no domain", rcpt: envelope.Recipient{Addr: "postmaster"}, dir: "/tmp",
			env: []string{"ORIGINAL_RECIPIENT=", "PATH=/usr/local/bin:/usr/bin:/bin",
				"QUEUE_ID=Q6", "RECIPIENT=postmaster", "SENDER=a@example.org", "SHELL=/bin/sh"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			// env -0 would be clearer; the shell's own variables (PWD,
			// SHLVL, _) are left out by name.
			prog := writeScript(t, `cat >/dev/null; pwd > "$1"; env | grep -v '^\(PWD\|OLDPWD\|SHLVL\|_\)=' | sort >> "$1"`)
			var logs bytes.Buffer
			p := &Pipe{Command: prog, Args: []string{out}, Dir: c.dir, Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				}}))}
			env, _, body := message("Q6", "a@example.org", "x\r\n")
			if err := p.Deliver(context.Background(), env, []envelope.Recipient{c.rcpt}, body)[0]; err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(out)
			dir := c.dir
			if dir == "" {
				dir = "/"
			}
			if want := dir + "\n" + strings.Join(c.env, "\n") + "\n"; string(got) != want {
				t.Errorf("directory and environment:\n%s\nwant:\n%s", got, want)
			}
			if want := "level=INFO msg=sent id=Q6 rcpt=" + c.rcpt.Addr + " pipe=" + prog + "\n"; logs.String() != want {
				t.Errorf("log %q, want %q", logs.String(), want)
			}
		})
	}
}
