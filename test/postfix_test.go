package test

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/internal/testenv"
)

// postfixInstance is a private Postfix (own config, queue and log) on a
// loopback port, started by a test.
type postfixInstance struct {
	t    testing.TB
	dir  string
	SMTP string // host:port of its smtpd
}

// startPostfix runs Postfix with main.cf settings added to a minimal
// base. Postfix's master needs root; under CI the tests run as root.
func startPostfix(t testing.TB, settings map[string]string) *postfixInstance {
	t.Helper()
	postfix := testenv.LookPath(t, "postfix")
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root, to run a private Postfix")
	}
	pfUser, err := user.Lookup("postfix")
	if err != nil {
		testenv.Missing(t, "the postfix user (Debian package postfix)")
	}
	dir, err := os.MkdirTemp("", "postern-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	p := &postfixInstance{t: t, dir: dir, SMTP: freePort(t)}
	for _, d := range []string{"conf", "queue", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	uid, _ := strconv.Atoi(pfUser.Uid)
	os.Chown(filepath.Join(dir, "data"), uid, -1)
	base := map[string]string{
		"compatibility_level":          "3.6",
		"queue_directory":              filepath.Join(dir, "queue"),
		"data_directory":               filepath.Join(dir, "data"),
		"alternate_config_directories": filepath.Join(dir, "conf"),
		"maillog_file":                 filepath.Join(dir, "maillog"),
		"maillog_file_prefixes":        dir,
		"mail_owner":                   "postfix",
		"setgid_group":                 "postdrop",
		"myhostname":                   "pf.sender.test",
		"mydestination":                "",
		"inet_interfaces":              "127.0.0.1",
		"inet_protocols":               "ipv4",
		"mynetworks":                   "127.0.0.0/8",
		"smtputf8_enable":              "no",
	}
	for k, v := range settings {
		base[k] = v
	}
	var main strings.Builder
	for k, v := range base {
		fmt.Fprintf(&main, "%s = %s\n", k, v)
	}
	master := fmt.Sprintf(`%s inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`, p.SMTP)
	conf := filepath.Join(dir, "conf")
	os.WriteFile(filepath.Join(conf, "main.cf"), []byte(main.String()), 0o644)
	os.WriteFile(filepath.Join(conf, "master.cf"), []byte(master), 0o644)
	if out, err := exec.Command(postfix, "-c", conf, "start").CombinedOutput(); err != nil {
		t.Fatalf("postfix start: %v\n%s\n%s", err, out, p.log())
	}
	t.Cleanup(func() {
		exec.Command(postfix, "-c", conf, "stop").Run()
		if t.Failed() {
			t.Logf("postfix log:\n%s", p.log())
		}
		os.RemoveAll(dir)
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := rawDial(p.SMTP); err == nil {
			c.close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("postfix did not listen on %s\n%s", p.SMTP, p.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

func (p *postfixInstance) log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "maillog"))
	return string(b)
}

// Postfix as the sending MTA: mail injected into Postfix is relayed by
// its smtp client into postern over STARTTLS and delivered to Maildir.
func TestPostfixRelaysIntoPostern(t *testing.T) {
	swaks := testenv.LookPath(t, "swaks")
	s := newServer(t, serverConfig{Trusted: []string{"127.0.0.9/32"}})
	s.addUser("alice@example.test", "pw")
	s.start()
	pf := startPostfix(t, map[string]string{
		"relayhost":               "[127.0.0.1]:" + portOf(s.MTA),
		"smtp_tls_security_level": "encrypt",
		"smtp_tls_loglevel":       "1",
	})
	for i := 0; i < 3; i++ {
		out, err := exec.Command(swaks, "--server", pf.SMTP, "--from", "sender@sender.test",
			"--to", "alice@example.test", "--header", fmt.Sprintf("Subject: via postfix %d", i),
			"--body", "relayed by postfix\n.\nafter a dot line").CombinedOutput()
		if err != nil {
			t.Fatalf("swaks into postfix: %v\n%s", err, out)
		}
	}
	msgs := s.waitMaildir("alice@example.test", 3, 60*time.Second)
	if len(msgs) != 3 {
		t.Fatalf("%d of 3 messages arrived\npostfix:\n%s", len(msgs), pf.log())
	}
	for _, m := range msgs {
		for _, want := range []string{"by mx.example.test with ESMTPS", "by pf.sender.test", "Subject: via postfix", "after a dot line"} {
			if !strings.Contains(m, want) {
				t.Errorf("message lacks %q:\n%s", want, m)
			}
		}
	}
}

func portOf(hp string) string {
	_, p, _ := splitHostPort(hp)
	return p
}
