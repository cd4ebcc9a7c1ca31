package test

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"postern/internal/dkim"
	"postern/internal/dnstest"
	"postern/internal/testenv"
)

// needRoot skips, or fails under CI, a test of the production shape:
// postern started as root with user = "nobody", the CLI run as root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root, to start postern as production does (as root, dropping to nobody)")
	}
}

// serveFails runs `postern serve` and expects it to stop at once.
func (s *server) serveFails() string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "serve", "-config", s.cfgPath).CombinedOutput()
	if err == nil || ctx.Err() != nil {
		s.t.Fatalf("postern serve did not refuse to start (err %v):\n%s", err, out)
	}
	return string(out)
}

// submit logs in on the submission port and sends one message.
func (s *server) submit(user, pw, from, to, msg string) (int, string) {
	s.t.Helper()
	return s.login(s.Sub, user, pw).sendMail(from, to, msg)
}

// greeting connects from src and returns the server's first reply.
func greeting(t *testing.T, src, addr string) (int, string) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &smtpConn{t: t, nc: nc, r: bufio.NewReader(nc)}
	return c.reply()
}

func fileOwner(t *testing.T, p string) uint32 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Uid
}

// An access map root left at 0600 does not become an empty map: the
// server refuses to start and names the file, check fails as root, and
// after set-permissions the REJECT is applied. On a later reload that
// fails, the previous version stays in force and the failure shows in
// the log, the metrics, status and check.
func TestUnreadableMapFailsClosed(t *testing.T) {
	needRoot(t)
	s := newServer(t, serverConfig{})
	admin := s.Admin
	access := filepath.Join(s.dir, "access")
	if err := os.WriteFile(access, []byte("Connect:127.0.0.5 REJECT\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := s.serveFails(); !strings.Contains(out, access) || !strings.Contains(out, "does not start") {
		t.Errorf("serve's reason does not name %s:\n%s", access, out)
	}
	if out, err := s.postern("", "check"); err == nil || !strings.Contains(out, access+": permission denied (the server runs as nobody") {
		t.Errorf("check as root: err %v, want it to name %s:\n%s", err, access, out)
	}
	if out, err := s.postern("", "set-permissions"); err != nil || !strings.Contains(out, access+": mode 0600 -> 0640") {
		t.Fatalf("set-permissions: %v\n%s", err, out)
	}
	if out, err := s.postern("", "check"); err != nil {
		t.Fatalf("check after set-permissions: %v\n%s", err, out)
	}
	s.start()
	if code, text := greeting(t, "127.0.0.5", s.MTA); code != 554 {
		t.Fatalf("127.0.0.5 has Connect: REJECT; greeting %d %s", code, text)
	}

	// A reload that cannot read the map keeps the REJECT.
	os.Chown(access, 0, 0)
	os.Chmod(access, 0o600)
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(s.logs(), "map not loaded; previous version kept") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload error logged:\n%s", s.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, text := greeting(t, "127.0.0.5", s.MTA); code != 554 {
		t.Errorf("after a failed reload the REJECT is gone: greeting %d %s", code, text)
	}
	scrape := httpGet(t, "http://"+admin+"/metrics")
	if v, ok := metricValue(scrape, `postern_map_load_errors_total{map="access"}`); !ok || v < 1 {
		t.Errorf("postern_map_load_errors_total{map=\"access\"} = %v, %v", v, ok)
	}
	if v, _ := metricValue(scrape, `postern_map_load_failing{map="access"}`); v != 1 {
		t.Errorf("postern_map_load_failing{map=\"access\"} = %v, want 1", v)
	}
	if st, _ := s.postern("", "status"); !strings.Contains(st, "PROBLEMS:") || !strings.Contains(st, "map "+access+" not reloaded") {
		t.Errorf("status does not show the failed reload:\n%s", st)
	}
	if out, err := s.postern("", "check"); err == nil {
		t.Errorf("check passes with an unreadable map:\n%s", out)
	}
}

// dkim keygen run as root while the server runs leaves a key the server
// (nobody) signs with; a key directory the server cannot read gets 451
// 4.7.5 and no unsigned mail.
func TestRootKeygenSignsAndUnreadableKeyDefers(t *testing.T) {
	needRoot(t)
	ns := dnstest.Start(t, dnstest.Zone{})
	s := newServer(t, serverConfig{Local: []string{"example.org", "example.net"}, Extra: dnsExtra(ns) + "[dkim]\nactivate_after = \"1s\"\n"})
	s.addUser("alice@example.org", "pw")
	s.addUser("bob@example.net", "pw")
	s.start()
	out, err := s.postern("", "dkim", "keygen", "-domain", "example.org", "-selector", "r1")
	if err != nil || !strings.Contains(out, "owned by nobody") {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	keyPath := filepath.Join(s.dir, "data", "dkim", "example.org", "r1.key")
	if uid := fileOwner(t, keyPath); uid == 0 {
		t.Errorf("%s is root's: the server could not read it", keyPath)
	}
	key, err := dkim.LoadKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := dkim.PublicRecord(key)
	if err := ns.Set(dnstest.Zone{"r1._domainkey.example.org. TXT": {rec}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // activate_after
	msg := strings.Replace(testMessage("Alice <alice@example.org>", "signed"), "To: alice@example.test", "To: alice@example.org", 1)
	if code, text := s.submit("alice@example.org", "pw", "alice@example.org", "alice@example.org", msg); code != 250 {
		t.Fatalf("submission: %d %s", code, text)
	}
	got := s.waitMaildir("alice@example.org", 1, 10*time.Second)
	if len(got) != 1 || !strings.Contains(headerOf(got[0]), "DKIM-Signature:") || !strings.Contains(headerOf(got[0]), "d=example.org") {
		t.Fatalf("want one message signed by example.org, got %q", got)
	}

	// A key directory copied in by hand as root is closed to the server.
	if out, err := s.postern("", "dkim", "keygen", "-domain", "example.net", "-selector", "n1"); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	netDir := filepath.Join(s.dir, "data", "dkim", "example.net")
	if err := filepath.Walk(netDir, func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			err = os.Lchown(p, 0, 0)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	msg = strings.Replace(testMessage("Bob <bob@example.net>", "unsigned"), "To: alice@example.test", "To: bob@example.net", 1)
	code, text := s.submit("bob@example.net", "pw", "bob@example.net", "bob@example.net", msg)
	if code != 451 || !strings.Contains(text, " 4.7.5 ") {
		t.Errorf("a key the server cannot read: %d %s, want 451 4.7.5", code, text)
	}
	time.Sleep(500 * time.Millisecond)
	if m := s.maildir("bob@example.net"); len(m) != 0 {
		t.Errorf("mail sent without its signature: %q", m)
	}
	if !strings.Contains(s.logs(), "permission denied") {
		t.Errorf("the log does not say why:\n%s", s.logs())
	}
}
