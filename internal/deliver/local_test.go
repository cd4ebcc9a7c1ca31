package deliver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/envelope"
	"postern/internal/smtp"
)

func TestMailboxPath(t *testing.T) {
	l := &Local{Mailbox: "/var/mail/{domain}/{user}/"}
	good := []struct{ user, domain, want string }{
		{"Alice", "Example.TEST", "/var/mail/example.test/alice/"},
		{"first.last+tag", "example.test", "/var/mail/example.test/first.last+tag/"},
		{"jörg", "xn--bcher-kva.example", "/var/mail/xn--bcher-kva.example/jörg/"},
		{"o'brien", "example.test", "/var/mail/example.test/o'brien/"},
	}
	for _, tc := range good {
		got, err := l.MailboxPath(tc.user, tc.domain)
		if err != nil || got != tc.want {
			t.Errorf("MailboxPath(%q, %q) = %q, %v; want %q", tc.user, tc.domain, got, err, tc.want)
		}
	}
	bad := []struct{ user, domain string }{
		{"", "example.test"},
		{"..", "example.test"},
		{".", "example.test"},
		{"a/../../etc", "example.test"},
		{"../root", "example.test"},
		{".ssh", "example.test"},
		{"a..b", "example.test"},
		{`"a/b"`, "example.test"},
		{`"odd user"`, "example.test"},
		{"a\x00b", "example.test"},
		{"a\\b", "example.test"},
		{"a b", "example.test"},
		{"\xff", "example.test"},
		{"alice", ".."},
		{"alice", "../etc"},
		{"alice", "a/b"},
		{"alice", ""},
		{"alice", "[127.0.0.1]"},
		{"alice", ".example.test"},
	}
	for _, tc := range bad {
		p, err := l.MailboxPath(tc.user, tc.domain)
		var r *smtp.Reply
		if err == nil || !errors.As(err, &r) || !r.Permanent() {
			t.Errorf("MailboxPath(%q, %q) = %q, %v; want a 5xx reply", tc.user, tc.domain, p, err)
		}
	}
}

func testEnv(body string, rcpts ...string) *envelope.Envelope {
	e := &envelope.Envelope{ID: envelope.NewID(time.Now()), From: "sender@example.org", Received: time.Unix(1763686800, 0), Size: int64(len(body))}
	for _, r := range rcpts {
		e.Rcpts = append(e.Rcpts, envelope.Recipient{Addr: r})
	}
	return e
}

func TestLocalMaildirAndRemote(t *testing.T) {
	root := t.TempDir()
	l := &Local{
		Mailbox: root + "/{domain}/{user}/",
		IsLocal: func(d string) bool { return d == "example.test" },
	}
	body := "Subject: t\r\n\r\nhello\r\n"
	env := testEnv(body, "Alice@example.test", "bob@example.test", "carol@remote.example", `"x/y"@example.test`)
	errs := l.Deliver(context.Background(), env, env.Rcpts, strings.NewReader(body))
	if len(errs) != 4 || errs[0] != nil || errs[1] != nil {
		t.Fatalf("errs = %v", errs)
	}
	var r *smtp.Reply
	if !errors.As(errs[2], &r) || !r.Temporary() || r.Text != "remote delivery not configured" {
		t.Errorf("remote recipient: %v, want a 4xx remote delivery not configured", errs[2])
	}
	if !errors.As(errs[3], &r) || !r.Permanent() {
		t.Errorf("quoted local part with a slash: %v, want 5xx", errs[3])
	}
	files, _ := filepath.Glob(filepath.Join(root, "example.test", "alice", "new", "*"))
	if len(files) != 1 {
		t.Fatalf("alice's new/: %v", files)
	}
	got, _ := os.ReadFile(files[0])
	want := "Return-Path: <sender@example.org>\nDelivered-To: Alice@example.test\nSubject: t\n\nhello\n"
	if string(got) != want {
		t.Errorf("delivered %q, want %q", got, want)
	}
	// Redelivery after a crash, after the reader moved the copy to cur/.
	os.Rename(files[0], filepath.Join(root, "example.test", "alice", "cur", filepath.Base(files[0])+":2,S"))
	ctx := envelope.WithRedelivery(context.Background())
	errs = l.Deliver(ctx, env, env.Rcpts[:2], strings.NewReader(body))
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	for _, u := range []string{"alice", "bob"} {
		n, _ := filepath.Glob(filepath.Join(root, "example.test", u, "*", "*"))
		if len(n) != 1 {
			t.Errorf("%s has %d copies after redelivery: %v", u, len(n), n)
		}
	}
}

func TestLocalMbox(t *testing.T) {
	root := t.TempDir()
	l := &Local{Mailbox: root + "/{user}"}
	body := "Subject: t\r\n\r\nFrom me\r\n"
	env := testEnv(body, "alice@localhost")
	env.From = ""
	if errs := l.Deliver(context.Background(), env, env.Rcpts, strings.NewReader(body)); errs[0] != nil {
		t.Fatal(errs[0])
	}
	got, _ := os.ReadFile(filepath.Join(root, "alice"))
	want := "From MAILER-DAEMON " + env.Received.UTC().Format("Mon Jan _2 15:04:05 2006") +
		"\nReturn-Path: <>\nDelivered-To: alice@localhost\nSubject: t\n\n>From me\n\n"
	if string(got) != want {
		t.Errorf("mbox %q, want %q", got, want)
	}
}

func TestLocalCanceled(t *testing.T) {
	l := &Local{Mailbox: t.TempDir() + "/{user}/"}
	env := testEnv("x\r\n", "a@b.example")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	errs := l.Deliver(ctx, env, env.Rcpts, strings.NewReader("x\r\n"))
	var r *smtp.Reply
	if errs[0] == nil || errors.As(errs[0], &r) && r.Permanent() {
		t.Errorf("canceled delivery: %v, want a temporary error", errs[0])
	}
}
