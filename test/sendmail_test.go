package test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"postern/internal/dnstest"
)

// localSubmission is a server with its local socket in the test's
// directory, and a copy of the binary that any user may run, reachable
// as "sendmail" and "mailq" through links, as on an installed system.
type localSubmission struct {
	*server
	sock string
	bin  string // directory with postern, sendmail, mailq
}

func newLocalServer(t *testing.T, sc serverConfig, local string) *localSubmission {
	t.Helper()
	// The socket's directory: reachable by every user, writable by none.
	run := t.TempDir()
	os.Chmod(run, 0o755)
	os.Chmod(filepath.Dir(run), 0o755)
	sock := filepath.Join(run, "s.sock")
	if len(sock) > 100 {
		t.Skipf("temporary directory %s too deep for a unix socket", run)
	}
	sc.Extra += fmt.Sprintf("\n[local]\nsocket = %q\n%s\n", sock, local)
	s := newServer(t, sc)
	// Every local user reads the configuration to find the socket.
	if err := os.Chmod(s.cfgPath, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	os.Chmod(bin, 0o755)
	os.Chmod(filepath.Dir(bin), 0o755)
	data, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "postern"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, link := range []string{"sendmail", "mailq"} {
		if err := os.Symlink("postern", filepath.Join(bin, link)); err != nil {
			t.Fatal(err)
		}
	}
	return &localSubmission{server: s, sock: sock, bin: bin}
}

// cronUser is the account the client runs as: www-data, as a web
// application or its cron jobs would, when the tests run as root (the
// server itself runs as nobody then); else the user running the tests.
func cronUser(t *testing.T) (name string, cred *syscall.Credential) {
	t.Helper()
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		return u.Username, nil
	}
	u, err := user.Lookup("www-data")
	if err != nil {
		t.Skip("no www-data account to run the client as")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return u.Username, &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
}

// needOtherUser skips a test of the rules for ordinary users when the
// client cannot run as a user other than the server's.
func needOtherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the client as a user other than the server's")
	}
}

type runResult struct {
	code           int
	stdout, stderr string
}

// run runs prog (postern, sendmail or mailq) from the public copy as
// cred (nil: as the test), with the config passed as -C.
func (l *localSubmission) run(cred *syscall.Credential, stdin, prog string, args ...string) runResult {
	l.t.Helper()
	cmd := exec.Command(filepath.Join(l.bin, prog), args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "POSTERN_CONFIG=" + l.cfgPath}
	cmd.Dir = "/"
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		l.t.Fatal(err)
	}
	return runResult{code, out.String(), errb.String()}
}

func (r runResult) must(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
}

// A cron job of an unprivileged user sends through the sendmail link
// with -t: no network, the mail reaches local mailboxes, the Bcc
// recipient gets it without the Bcc field, and the missing header fields
// are added.
func TestSendmailCronUser(t *testing.T) {
	login, cred := cronUser(t)
	l := newLocalServer(t, serverConfig{}, "")
	l.addUser("alice@example.test", "pw-alice-1234")
	l.addUser("bob@example.test", "pw-bob-123456")
	l.start()
	if fi, err := os.Stat(l.sock); err != nil || fi.Mode().Perm() != 0o666 || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("socket %s: %v %v", l.sock, fi, err)
	}

	msg := "To: Alice <alice@example.test>\nBcc: bob@example.test\nSubject: nightly report\n\nall good\n.\nthe dot above is text with -oi\n"
	l.run(cred, msg, "sendmail", "-t", "-oi").must(t, 0)
	for _, rcpt := range []string{"alice@example.test", "bob@example.test"} {
		got := l.waitMaildir(rcpt, 1, 10*time.Second)
		if len(got) != 1 {
			t.Fatalf("%s: %d messages\n%s", rcpt, len(got), l.logs())
		}
		m := got[0]
		sender := login + "@mx.example.test"
		for _, want := range []string{
			"Return-Path: <" + sender + ">",
			"Received: by mx.example.test (postern, from local user " + login + ")",
			"From: ", sender, "\nDate: ", "\nMessage-ID: <", "@mx.example.test>",
			"Subject: nightly report", "all good\n.\nthe dot above is text with -oi\n",
		} {
			if !strings.Contains(m, want) {
				t.Errorf("%s: no %q in\n%s", rcpt, want, m)
			}
		}
		if hasHeaderField(m, "Bcc") {
			t.Errorf("%s: Bcc left in the message:\n%s", rcpt, m)
		}
	}
	if !strings.Contains(l.logs(), "client=local:"+login) {
		t.Errorf("log does not name the local user:\n%s", l.logs())
	}

	// Without -i a line with a single dot ends the message, as in
	// sendmail; recipients on the command line; bare names are users of
	// the host (here unknown: 67 EX_NOUSER, the others still get it).
	r := l.run(cred, "Subject: dot\n\nbefore\n.\nafter\n", "sendmail", "alice@example.test", "nosuchuser")
	r.must(t, 67)
	if !strings.Contains(r.stderr, "nosuchuser@mx.example.test") || !strings.Contains(r.stderr, "550 5.1.1") {
		t.Errorf("stderr %q", r.stderr)
	}
	got := l.waitMaildir("alice@example.test", 2, 10*time.Second)
	if len(got) != 2 {
		t.Fatalf("alice: %d messages", len(got))
	}
	for _, m := range got {
		if strings.Contains(m, "Subject: dot") && (strings.Contains(m, "after") || !strings.Contains(m, "before")) {
			t.Errorf("the dot did not end the message:\n%s", m)
		}
	}
}

// A local user may relay to other domains with no trusted network at
// all, while a TCP client from localhost may not: the message is
// queued, and mailq shows it.
func TestSendmailRemoteQueued(t *testing.T) {
	login, cred := cronUser(t)
	l := newLocalServer(t, serverConfig{Trusted: []string{}, Zone: dnstest.Zone{"remote.example. SERVFAIL": {""}}}, "")
	l.start()
	c := dialFrom(t, "127.0.0.1", l.MTA)
	c.must("EHLO localhost", 250)
	c.must("MAIL FROM:<x@example.test>", 250)
	c.must("RCPT TO:<friend@remote.example>", 550) // relay access denied
	c.must("QUIT", 221)

	l.run(cred, "Subject: to the world\n\nhi\n", "sendmail", "-i", "friend@remote.example").must(t, 0)
	var out string
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := l.run(nil, "", "mailq")
		r.must(t, 0)
		out = r.stdout
		if strings.Contains(out, "friend@remote.example") || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(out, "friend@remote.example") {
		t.Fatalf("mailq:\n%s\nlog:\n%s", out, l.logs())
	}
	// sendmail -q is a queue run.
	r := l.run(nil, "", "sendmail", "-q")
	r.must(t, 0)
	if !strings.Contains(r.stdout, "flushed") {
		t.Errorf("sendmail -q: %q %q", r.stdout, r.stderr)
	}
	// newaliases has nothing to build; it checks the maps.
	r = l.run(nil, "", "postern", "sendmail", "-bi")
	r.must(t, 0)
	if !strings.Contains(r.stdout, "no database to rebuild") || !strings.Contains(r.stdout, "are valid") {
		t.Errorf("newaliases: %q", r.stdout)
	}
	if !strings.Contains(l.logs(), "client=local:"+login) {
		t.Errorf("local client not logged:\n%s", l.logs())
	}
}

// -f: an ordinary user may only use their own address; root may use any;
// with sender_check = "warn" the message goes with sendmail's
// X-Authentication-Warning.
func TestSendmailSenderRules(t *testing.T) {
	needOtherUser(t)
	login, cred := cronUser(t)
	l := newLocalServer(t, serverConfig{}, "")
	l.addUser("alice@example.test", "pw-alice-1234")
	l.start()

	r := l.run(cred, "Subject: forged\n\nx\n", "sendmail", "-f", "ceo@example.test", "alice@example.test")
	r.must(t, 77) // EX_NOPERM
	if !strings.Contains(r.stderr, "may not send as ceo@example.test") {
		t.Errorf("stderr %q", r.stderr)
	}
	l.run(cred, "Subject: own\n\nx\n", "sendmail", "-f"+login+"@example.test", "alice@example.test").must(t, 0)
	l.run(nil, "Subject: root\n\nx\n", "sendmail", "-f", "ceo@example.test", "-F", "The Boss", "alice@example.test").must(t, 0)
	got := l.waitMaildir("alice@example.test", 2, 10*time.Second)
	if len(got) != 2 {
		t.Fatalf("alice: %d messages\n%s", len(got), l.logs())
	}
	for _, m := range got {
		switch {
		case strings.Contains(m, "Subject: own"):
			if !strings.Contains(m, "Return-Path: <"+login+"@example.test>") {
				t.Errorf("own sender:\n%s", m)
			}
		case strings.Contains(m, "Subject: root"):
			if !strings.Contains(m, "Return-Path: <ceo@example.test>") || !strings.Contains(m, `From: "The Boss" <ceo@example.test>`) {
				t.Errorf("root's sender:\n%s", m)
			}
		default:
			t.Errorf("unexpected message:\n%s", m)
		}
		if strings.Contains(m, "X-Authentication-Warning") {
			t.Errorf("warning without cause:\n%s", m)
		}
	}

	w := newLocalServer(t, serverConfig{}, `sender_check = "warn"`)
	w.addUser("alice@example.test", "pw-alice-1234")
	w.start()
	w.run(cred, "Subject: forged\n\nx\n", "sendmail", "-f", "ceo@example.test", "alice@example.test").must(t, 0)
	got = w.waitMaildir("alice@example.test", 1, 10*time.Second)
	if len(got) != 1 || !strings.Contains(got[0], "X-Authentication-Warning: mx.example.test: "+login+" set sender to ceo@example.test using -f") {
		t.Fatalf("warn mode:\n%q", got)
	}

	// trusted_users may use any sender.
	tr := newLocalServer(t, serverConfig{}, fmt.Sprintf("trusted_users = [%q]", login))
	tr.addUser("alice@example.test", "pw-alice-1234")
	tr.start()
	tr.run(cred, "Subject: trusted\n\nx\n", "sendmail", "-f", "ceo@example.test", "alice@example.test").must(t, 0)
}

// -bv asks without sending; -bs speaks SMTP on standard input and output
// (a person typing: bare LF line ends).
func TestSendmailVerifyAndSMTP(t *testing.T) {
	_, cred := cronUser(t)
	l := newLocalServer(t, serverConfig{}, "")
	l.addUser("alice@example.test", "pw-alice-1234")
	l.start()

	r := l.run(cred, "", "sendmail", "-bv", "alice@example.test", "nobody@example.test")
	r.must(t, 67)
	if !strings.Contains(r.stdout, "alice@example.test... deliverable") || !strings.Contains(r.stdout, "nobody@example.test... undeliverable: 550 5.1.1") {
		t.Errorf("-bv output:\n%s", r.stdout)
	}
	l.run(cred, "", "sendmail", "-bv", "alice@example.test").must(t, 0)

	login, _ := cronUser(t)
	conv := "EHLO me\nMAIL FROM:<" + login + "@mx.example.test>\nRCPT TO:<alice@example.test>\nDATA\nSubject: by hand\n\ntyped\n.\nQUIT\n"
	r = l.run(cred, conv, "sendmail", "-bs")
	r.must(t, 0)
	if !strings.Contains(r.stdout, "250 2.0.0 OK: queued as") || !strings.HasSuffix(r.stdout, "221 2.0.0 bye\r\n") {
		t.Fatalf("-bs transcript:\n%s", r.stdout)
	}
	if got := l.waitMaildir("alice@example.test", 1, 10*time.Second); len(got) != 1 || !strings.Contains(got[0], "typed\n") {
		t.Fatalf("-bs message: %q", got)
	}
	if strings.Contains(r.stdout, "STARTTLS") || strings.Contains(r.stdout, "AUTH") {
		t.Errorf("local socket offers STARTTLS or AUTH:\n%s", r.stdout)
	}
}

// Without a running server sendmail fails at once with EX_TEMPFAIL and
// says why; bad flags are EX_USAGE.
func TestSendmailFailures(t *testing.T) {
	_, cred := cronUser(t)
	l := newLocalServer(t, serverConfig{}, "")
	r := l.run(cred, "Subject: x\n\ny\n", "sendmail", "root")
	r.must(t, 75)
	if !strings.Contains(r.stderr, "not running") || !strings.Contains(r.stderr, l.sock) {
		t.Errorf("stderr %q", r.stderr)
	}
	for _, args := range [][]string{{"-X", "/tmp/log", "a@b.test"}, {"-Q"}, {"-bd"}, {"-q30m"}, {"-oQ/tmp"}, {"-f"}} {
		r := l.run(cred, "", "sendmail", args...)
		r.must(t, 64)
		if !strings.Contains(r.stderr, "postern sendmail: ") {
			t.Errorf("%q: stderr %q", args, r.stderr)
		}
	}
	l.addUser("alice@example.test", "pw-alice-1234")
	l.start()
	r = l.run(cred, "Subject: x\n\ny\n", "sendmail", "-t")
	r.must(t, 64)
	if !strings.Contains(r.stderr, "no recipient addresses found") {
		t.Errorf("stderr %q", r.stderr)
	}
	// Ignored flags that programs pass are accepted.
	l.run(cred, "Subject: flags\n\nz\n", "postern", "sendmail", "-oem", "-odi", "-oi", "-L", "cron", "-h", "5", "-N", "failure,delay", "--", "alice@example.test").must(t, 0)
	if got := l.waitMaildir("alice@example.test", 1, 10*time.Second); len(got) != 1 {
		t.Fatalf("alice: %d messages", len(got))
	}
}

// hasHeaderField reports whether the header section of m has a field
// with the given name (case-insensitive).
func hasHeaderField(m, name string) bool {
	head, _, _ := strings.Cut(strings.ReplaceAll(m, "\r\n", "\n"), "\n\n")
	for _, line := range strings.Split(head, "\n") {
		if k, _, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return true
		}
	}
	return false
}
