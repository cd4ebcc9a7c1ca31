package deliver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"
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
