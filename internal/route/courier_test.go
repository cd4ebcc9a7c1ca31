package route

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/deliver"
	"postern/internal/envelope"
	"postern/internal/maps"
	"postern/internal/smtp"
	"postern/internal/spool"
)

type userSet map[string]bool

func (u userSet) Exists(a string) bool { return u[a] }

// queueInject writes into a real spool (never run: messages stay queued).
func queueInject(sp *spool.Spool) func(ctx context.Context, env *envelope.Envelope, content io.Reader) error {
	return func(ctx context.Context, env *envelope.Envelope, content io.Reader) error {
		w, err := sp.Create(env)
		if err != nil {
			return err
		}
		defer w.Abort()
		if _, err := io.Copy(w, content); err != nil {
			return err
		}
		return w.Commit(ctx)
	}
}

type fixture struct {
	dir, mail, spoolDir string
	c                   *Courier
}

func newFixture(t *testing.T, aliases string, files map[string]string) *fixture {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	al, err := maps.ParseAliases(filepath.Join(dir, "aliases"), strings.NewReader(aliases))
	if err != nil {
		t.Fatal(err)
	}
	m := &maps.Maps{Aliases: al}
	isLocal := func(d string) bool { return d == "example.test" || d == "mx.example.test" }
	f := &fixture{dir: dir, mail: filepath.Join(dir, "mail"), spoolDir: filepath.Join(dir, "spool")}
	sp, err := spool.New(f.spoolDir, &deliver.Local{}, nil, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	f.c = &Courier{
		Inner:      &deliver.Local{Mailbox: f.mail + "/{domain}/{user}/", IsLocal: isLocal},
		Maps:       func() *maps.Maps { return m },
		IsLocal:    isLocal,
		Users:      userSet{"alice@example.test": true, "bob@example.test": true, "carol@example.test": true},
		Postmaster: "alice@example.test",
		Forwarder:  &Forwarder{Inject: queueInject(sp), Dir: filepath.Join(dir, "forwards")},
		Done:       &Marks{Dir: filepath.Join(dir, "forwards")},
	}
	return f
}

func (f *fixture) deliver(t *testing.T, msg string, rcpts ...string) []error {
	t.Helper()
	env := &envelope.Envelope{ID: "TESTID1", From: "sender@origin.test", Received: time.Unix(1763686800, 0), Size: int64(len(msg))}
	for _, r := range rcpts {
		env.Rcpts = append(env.Rcpts, envelope.Recipient{Addr: r})
	}
	return f.c.Deliver(context.Background(), env, env.Rcpts, strings.NewReader(msg))
}

func (f *fixture) count(t *testing.T, addr string) int {
	t.Helper()
	local, domain, _ := strings.Cut(addr, "@")
	ents, _ := os.ReadDir(filepath.Join(f.mail, domain, local, "new"))
	return len(ents)
}

func (f *fixture) queued(t *testing.T) []spool.Item {
	t.Helper()
	items, err := spool.List(f.spoolDir)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

const testMsg = "From: sender@origin.test\r\nSubject: hi\r\n\r\nbody\r\n"

func code(err error) int {
	var r *smtp.Reply
	if errors.As(err, &r) {
		return r.Code
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestAliasToLocalAndRemote(t *testing.T) {
	f := newFixture(t, "staff: alice, bob@example.test, dave@elsewhere.test, erin@elsewhere.test\nroot: staff\n", nil)
	errs := f.deliver(t, testMsg, "root@example.test", "carol@example.test")
	for i, err := range errs {
		if err != nil {
			t.Fatalf("rcpt %d: %v", i, err)
		}
	}
	for _, a := range []string{"alice@example.test", "bob@example.test", "carol@example.test"} {
		if n := f.count(t, a); n != 1 {
			t.Errorf("%s has %d messages, want 1", a, n)
		}
	}
	items := f.queued(t)
	if len(items) != 1 {
		t.Fatalf("%d forwards queued, want 1: %+v", len(items), items)
	}
	if items[0].From != "sender@origin.test" || strings.Join(items[0].Rcpts, ",") != "dave@elsewhere.test,erin@elsewhere.test" {
		t.Errorf("forward: %+v", items[0])
	}
	// A retry of the original (another target failed for now) queues no
	// second forward and writes no second local copy.
	f.deliver(t, testMsg, "root@example.test")
	if n := len(f.queued(t)); n != 1 {
		t.Errorf("after a retry %d forwards queued, want 1", n)
	}
	if n := f.count(t, "alice@example.test"); n != 1 {
		t.Errorf("after a retry alice has %d messages", n)
	}
}

func TestAliasExpansionFailures(t *testing.T) {
	tests := []struct {
		name    string
		aliases string
		files   map[string]string
		rcpt    string
		code    int
		allow   bool
	}{
		{name: "loop", aliases: "a: b\nb: a\n", rcpt: "a@example.test", code: 554},
		{name: "loop with one good target delivers", aliases: "a: b, alice\nb: a\n", rcpt: "a@example.test", code: 0},
		{name: "self reference delivers to the user", aliases: "alice: alice, carol\n", rcpt: "alice@example.test", code: 0},
		{name: "file refused by default", aliases: "arch: /tmp/never-written\n", rcpt: "arch@example.test", code: 550},
		{name: "command refused by default", aliases: "prog: \"|/bin/true\"\n", rcpt: "prog@example.test", code: 550},
		{name: "command allowed", aliases: "prog: \"|/bin/true\"\n", rcpt: "prog@example.test", code: 0, allow: true},
		{name: "command failing", aliases: "prog: \"|/bin/false\"\n", rcpt: "prog@example.test", code: 554, allow: true},
		{name: "target without a mailbox", aliases: "x: nobody\n", rcpt: "x@example.test", code: 550},
		{name: "include", aliases: "list: :include:list.txt\n", files: map[string]string{"list.txt": "# members\nalice\nbob, carol\n"}, rcpt: "list@example.test"},
		{name: "missing include defers", aliases: "list: :include:nothere.txt\n", rcpt: "list@example.test", code: 451},
		{name: "include loop", aliases: "list: :include:l.txt\n", files: map[string]string{"l.txt": "list\n"}, rcpt: "list@example.test", code: 554},
		{name: "detail falls back to the user's alias", aliases: "team: alice\n", rcpt: "team+x@example.test"},
		{name: "not an alias passes", aliases: "team: alice\n", rcpt: "bob@example.test"},
		{name: "postmaster target goes to the postmaster setting", aliases: "root: postmaster\n", rcpt: "root@mx.example.test"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.aliases, tc.files)
			f.c.AllowFiles, f.c.AllowCommands = tc.allow, tc.allow
			errs := f.deliver(t, testMsg, tc.rcpt)
			if got := code(errs[0]); got != tc.code {
				t.Fatalf("code %d, want %d (%v)", got, tc.code, errs[0])
			}
		})
	}
}

func TestAliasFileTarget(t *testing.T) {
	dir := t.TempDir()
	box := filepath.Join(dir, "archive")
	f := newFixture(t, "arch: "+box+"\n", nil)
	f.c.AllowFiles = true
	if err := f.deliver(t, testMsg, "arch@example.test")[0]; err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(box)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "From sender@origin.test ") || !strings.Contains(string(b), "Delivered-To: arch@example.test\n") {
		t.Errorf("mbox file:\n%s", b)
	}
}

func TestAliasCommandTarget(t *testing.T) {
	out := filepath.Join(t.TempDir(), "piped")
	f := newFixture(t, "prog: \"|/usr/bin/tee "+out+"\"\n", nil)
	f.c.AllowCommands = true
	if err := f.deliver(t, testMsg, "prog@example.test")[0]; err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "Subject: hi\nReturn-Path") && !strings.Contains(string(b), "Subject: hi\n") {
		t.Errorf("command got:\n%s", b)
	}
}

// A retry of a recipient whose alias has a program and a file target,
// after the file failed for now, runs the program only once.
func TestAliasTargetsServedOnce(t *testing.T) {
	out := filepath.Join(t.TempDir(), "piped")
	// The file's directory is for now a plain file: writing fails.
	later := filepath.Join(t.TempDir(), "later")
	if err := os.WriteFile(later, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	box := filepath.Join(later, "box")
	f := newFixture(t, "team: \"|/usr/bin/tee -a "+out+"\", "+box+"\n", nil)
	f.c.AllowCommands, f.c.AllowFiles = true, true
	if got := code(f.deliver(t, testMsg, "team@example.test")[0]); got != 451 {
		t.Fatalf("first attempt: code %d, want 451", got)
	}
	if err := os.Remove(later); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(later, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := f.deliver(t, testMsg, "team@example.test")[0]; err != nil {
		t.Fatalf("retry: %v", err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "Subject: hi"); n != 1 {
		t.Errorf("the program got the message %d times, want 1", n)
	}
	if b, err := os.ReadFile(box); err != nil || strings.Count(string(b), "Subject: hi") != 1 {
		t.Errorf("file: %q %v", b, err)
	}
	// A third attempt (say, after a crash) serves nothing again.
	if err := f.deliver(t, testMsg, "team@example.test")[0]; err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(box); strings.Count(string(b), "Subject: hi") != 1 {
		t.Errorf("file written again:\n%s", b)
	}
}

func TestDeliveredToLoop(t *testing.T) {
	f := newFixture(t, "staff: dave@elsewhere.test\n", nil)
	msg := "Delivered-To: Staff@example.test\r\n" + testMsg
	if got := code(f.deliver(t, msg, "staff@example.test")[0]); got != 554 {
		t.Fatalf("code %d, want 554", got)
	}
	if n := len(f.queued(t)); n != 0 {
		t.Errorf("%d forwards queued", n)
	}
}

func TestForwardFile(t *testing.T) {
	home := t.TempDir()
	f := newFixture(t, "", nil)
	f.c.Forward = &ForwardFiles{Paths: []string{"$home/.forward"}, Home: func(u string) (string, int, bool) {
		if u != "carol" {
			return "", 0, false
		}
		return home, os.Getuid(), true
	}}
	write := func(s string, mode os.FileMode) {
		p := filepath.Join(home, ".forward")
		if err := os.WriteFile(p, []byte(s), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
	}
	write("\\carol, carol@elsewhere.test\n", 0o600)
	if err := f.deliver(t, testMsg, "carol@example.test")[0]; err != nil {
		t.Fatal(err)
	}
	if n := f.count(t, "carol@example.test"); n != 1 {
		t.Errorf("carol has %d messages", n)
	}
	if items := f.queued(t); len(items) != 1 || items[0].Rcpts[0] != "carol@elsewhere.test" {
		t.Errorf("forward: %+v", items)
	}
	write("carol@elsewhere.test\n", 0o666)
	if got := code(f.deliver(t, testMsg, "carol@example.test")[0]); got != 550 {
		t.Errorf("group-writable .forward: code %d, want 550", got)
	}
	// Users without a system account have no .forward.
	if err := f.deliver(t, testMsg, "alice@example.test")[0]; err != nil || f.count(t, "alice@example.test") != 1 {
		t.Errorf("alice: %v", err)
	}
}

// downUsers are users nobody could read (a users table down past its
// stale period).
type downUsers struct{ userSet }

func (downUsers) UnavailableText() string { return "users table t: connection refused" }

// With the users unknown, an alias to a local name waits (451): it
// neither bounces as "no mailbox" nor creates a mailbox.
func TestAliasUsersDown(t *testing.T) {
	f := newFixture(t, "staff: alice, nobody\n", nil)
	f.c.Users = downUsers{userSet{"alice@example.test": true}}
	errs := f.deliver(t, testMsg, "staff@example.test")
	if code(errs[0]) != 451 {
		t.Fatalf("staff with the users down: %v, want 451", errs[0])
	}
	if f.count(t, "alice@example.test") != 0 || f.count(t, "nobody@example.test") != 0 {
		t.Error("delivered with the users unknown")
	}
}
