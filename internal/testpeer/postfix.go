// Package testpeer runs real mail servers from Debian's packages for
// tests, on loopback ports, each in its own temporary directory.
package testpeer

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/testenv"
)

// Postfix is a private Postfix instance (own configuration, queue, data
// directory and log) with smtpd on a loopback port.
type Postfix struct {
	Dir  string // configuration, queue, data and maillog live here
	SMTP string // "127.0.0.1:port" of its smtpd

	mu  sync.Mutex
	out bytes.Buffer // master's own output
}

// postfixMaster is the master.cf of every instance after its smtpd line:
// no chroot, so that the temporary directories need no copies of /etc.
const postfixMaster = `pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
smtp unix - - n - - smtp
relay unix - - n - - smtp
lmtp unix - - n - - lmtp
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
`

// StartPostfix runs Postfix in the foreground (postfix start-fg) with a
// minimal main.cf plus settings (which override it), and stops it when
// the test ends. Postfix's master must start as root: without root, or
// without Postfix installed, the test is skipped (failed under CI=true).
func StartPostfix(t testing.TB, settings map[string]string) *Postfix {
	t.Helper()
	postfix := testenv.LookPath(t, "postfix")
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root (Postfix's master must start as root)")
	}
	pfUser, err := user.Lookup("postfix")
	if err != nil {
		testenv.Missing(t, "the postfix user (Debian package postfix)")
	}
	uid, _ := strconv.Atoi(pfUser.Uid)
	dir, err := os.MkdirTemp("", "postern-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	for _, d := range []string{"queue", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(filepath.Join(dir, "data"), uid, -1); err != nil {
		t.Fatal(err)
	}
	p := &Postfix{Dir: dir, SMTP: freeAddr(t)}
	main := map[string]string{
		"compatibility_level":          "3.6",
		"queue_directory":              filepath.Join(dir, "queue"),
		"data_directory":               filepath.Join(dir, "data"),
		"alternate_config_directories": dir,
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
		"alias_maps":                   "",
		"alias_database":               "",
		"biff":                         "no",
	}
	for k, v := range settings {
		main[k] = v
	}
	keys := make([]string, 0, len(main))
	for k := range main {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var cf strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&cf, "%s = %s\n", k, main[k])
	}
	write(t, filepath.Join(dir, "main.cf"), cf.String())
	write(t, filepath.Join(dir, "master.cf"), p.SMTP+" inet n - n - - smtpd\n"+postfixMaster)

	cmd := exec.Command(postfix, "-c", dir, "start-fg")
	cmd.Stdout, cmd.Stderr = lockedWriter{p}, lockedWriter{p}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		exec.Command(postfix, "-c", dir, "stop").Run()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("postfix log:\n%s", p.Log())
		}
		os.RemoveAll(dir)
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", p.SMTP, time.Second); err == nil {
			c.Close()
			return p
		}
		select {
		case err := <-done:
			t.Fatalf("postfix exited before listening: %v\n%s", err, p.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("postfix did not listen on %s\n%s", p.SMTP, p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Log returns master's output and the maillog so far.
func (p *Postfix) Log() string {
	p.mu.Lock()
	out := p.out.String()
	p.mu.Unlock()
	b, _ := os.ReadFile(filepath.Join(p.Dir, "maillog"))
	return out + string(b)
}

type lockedWriter struct{ p *Postfix }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.out.Write(b)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	return testenv.FreePort(t)
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
