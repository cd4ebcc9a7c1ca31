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
		{"anna", "Bücher.example.", "/var/mail/xn--bcher-kva.example/anna/"},
		{"root", "[127.0.0.1]", "/var/mail/[127.0.0.1]/root/"},
		{"root", "[IPv6:::1]", "/var/mail/[ipv6:::1]/root/"},
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
		{"alice", "[127.0.0.1/../x]"},
		{"alice", "[]"},
		{"alice", "[127.0.0.1"},
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
		"\nReturn-Path: <>\nDelivered-To: alice@localhost\nX-Postern-Delivery: " + deliveryName(env, "alice@localhost") +
		"\nSubject: t\n\n>From me\n\n"
	if string(got) != want {
		t.Errorf("mbox %q, want %q", got, want)
	}
	// A redelivery after a crash finds the copy, also behind later mail.
	other := testEnv(body, "alice@localhost")
	if errs := l.Deliver(context.Background(), other, other.Rcpts, strings.NewReader(body)); errs[0] != nil {
		t.Fatal(errs[0])
	}
	before, _ := os.ReadFile(filepath.Join(root, "alice"))
	ctx := envelope.WithRedelivery(context.Background())
	if errs := l.Deliver(ctx, env, env.Rcpts, strings.NewReader(body)); errs[0] != nil {
		t.Fatal(errs[0])
	}
	after, _ := os.ReadFile(filepath.Join(root, "alice"))
	if string(after) != string(before) {
		t.Errorf("redelivery appended a second copy")
	}
	// A message not delivered before is appended on redelivery.
	third := testEnv(body, "alice@localhost")
	if errs := l.Deliver(ctx, third, third.Rcpts, strings.NewReader(body)); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if n := strings.Count(readString(t, filepath.Join(root, "alice")), "\n\nFrom "); n != 2 {
		t.Errorf("%d messages after the first, want 2", n)
	}
}

func readString(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFindMarked(t *testing.T) {
	long := strings.Repeat("y", 100<<10)
	tests := []struct {
		in         string
		start, end int64
		found      bool
	}{
		{"From a\nX: a\n\n", 0, 13, true},
		{"From a\nb\n\nFrom c\nX: a\n\nFrom d\nx\n\n", 10, 23, true},
		{"From a\nX: ab\n\n", 0, 0, false},
		{"From a\nzX: a\n\n", 0, 0, false},
		{"From a\nX: a", 0, 0, false}, // no newline: not a whole line
		{"From a\n" + long + "X: a\n\n", 0, 0, false},
		{"From a\n" + long + "\nX: a\n\nFrom b\n", 0, int64(len(long)) + 14, true},
		{"From a\nX: a\nFrom b\n\n", 0, 20, true}, // From without a blank line before: not a boundary
		{"", 0, 0, false},
	}
	// Started in the middle of a file: the first (partial) line is not a
	// From_ line nor the mark.
	if _, _, found, _ := findMarked(strings.NewReader("X: a\nb\n"), "X: a", true); found {
		t.Error("mid-file start: the partial first line matched")
	}
	if start, end, found, _ := findMarked(strings.NewReader("om x\n\nFrom b\nX: a\n\n"), "X: a", true); !found || start != 6 || end != 19 {
		t.Errorf("mid-file start: %d, %d, %v", start, end, found)
	}
	for _, tc := range tests {
		start, end, found, err := findMarked(strings.NewReader(tc.in), "X: a", false)
		if err != nil || found != tc.found || found && (start != tc.start || end != tc.end) {
			t.Errorf("findMarked(%.30q...) = %d, %d, %v, %v; want %d, %d, %v", tc.in, start, end, found, err, tc.start, tc.end, tc.found)
		}
	}
}

// A copy cut short by a crash while appending is replaced, at the end of
// the file, or followed by a whole copy when other mail came after it.
func TestMboxRedeliveryAfterCutShortCopy(t *testing.T) {
	root := t.TempDir()
	l := &Local{Mailbox: root + "/{user}"}
	path := filepath.Join(root, "alice")
	body := "Subject: t\r\n\r\n" + strings.Repeat("line\r\n", 100)
	env := testEnv(body, "alice@localhost")
	ctx := envelope.WithRedelivery(context.Background())
	if errs := l.Deliver(context.Background(), env, env.Rcpts, strings.NewReader(body)); errs[0] != nil {
		t.Fatal(errs[0])
	}
	whole := readString(t, path)
	// Cut short at the end of the file.
	os.WriteFile(path, []byte(whole[:len(whole)-100]), 0o600)
	if errs := l.Deliver(ctx, env, env.Rcpts, strings.NewReader(body)); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if got := readString(t, path); got != whole {
		t.Errorf("after redelivery over a cut-short copy at the end:\n%q\nwant\n%q", got, whole)
	}
	// Cut short, then other mail.
	os.WriteFile(path, []byte(whole[:len(whole)-100]), 0o600)
	other := testEnv(body, "alice@localhost")
	l.Deliver(context.Background(), other, other.Rcpts, strings.NewReader(body))
	if errs := l.Deliver(ctx, env, env.Rcpts, strings.NewReader(body)); errs[0] != nil {
		t.Fatal(errs[0])
	}
	got := readString(t, path)
	if !strings.HasSuffix(got, "\n\n"+whole) || strings.Count(got, "\n\nFrom ") != 2 {
		t.Errorf("no whole copy appended after the cut-short one and other mail:\n%q", got)
	}
}

func FuzzFindMarked(f *testing.F) {
	f.Add("From a\nb\n\nFrom c\nX: a\n\nFrom d\nx\n\n")
	f.Add("X: a\n")
	f.Add("From a\nX: a")
	f.Fuzz(func(t *testing.T, in string) {
		start, end, found, err := findMarked(strings.NewReader(in), "X: a", false)
		if err != nil {
			t.Fatal(err)
		}
		if !found {
			return
		}
		if start < 0 || start > end || end > int64(len(in)) {
			t.Fatalf("bad range %d, %d in %d bytes", start, end, len(in))
		}
		if !strings.Contains(in[start:end], "X: a\n") {
			t.Fatalf("mark not in the range %q", in[start:end])
		}
		if end < int64(len(in)) && !strings.HasPrefix(in[end:], "From ") {
			t.Fatalf("range ends before %q, not a From_ line", in[end:])
		}
	})
}
