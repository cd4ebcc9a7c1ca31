// Package testpeer runs real mail servers from Debian's packages for
// tests, on loopback ports, each in its own temporary directory.
package testpeer

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"postern/internal/testenv"
)

// Postfix is a private Postfix instance (own configuration, queue, data
// directory and log) with smtpd on a loopback port.
type Postfix struct {
	Dir  string // configuration, queue, data and maillog live here
	SMTP string // "127.0.0.1:port" of its smtpd

	prog *Program // postfix start-fg, and master's own output
	ns   *Netns   // the namespace it runs in; nil: this host's loopback
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
virtual unix - n n - - virtual
smtp unix - - n - - smtp
relay unix - - n - - smtp
lmtp unix - - n - - lmtp
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
`

// StartPostfix runs Postfix in the foreground (postfix start-fg) with a
// minimal main.cf plus settings (which override it), and stops it
// (postfix stop) when the test ends. Postfix's master must start as
// root: without root, or without Postfix installed, the test is skipped
// (failed under CI=true).
func StartPostfix(t testing.TB, settings map[string]string) *Postfix {
	t.Helper()
	return startPostfix(t, settings, nil, testenv.FreePort(t))
}

// StartPostfixIn is StartPostfix with Postfix run inside the namespace
// ns, its smtpd on the namespace's address, port 2525, its clients only
// the namespace itself (mynetworks), unless settings say otherwise; it
// retries deferred mail every second or two (the queue's timers), so a
// test need not wait for it.
func StartPostfixIn(t testing.TB, ns *Netns, settings map[string]string) *Postfix {
	t.Helper()
	all := map[string]string{"inet_interfaces": ns.Addr, "mynetworks": ns.Addr + "/32",
		"queue_run_delay": "1s", "minimal_backoff_time": "1s", "maximal_backoff_time": "2s"}
	for k, v := range settings {
		all[k] = v
	}
	return startPostfix(t, all, ns, ns.Addr+":2525")
}

func startPostfix(t testing.TB, settings map[string]string, ns *Netns, smtp string) *Postfix {
	t.Helper()
	testenv.LookPath(t, "postfix")
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root (Postfix's master must start as root)")
	}
	p := &Postfix{Dir: postfixDir(t), SMTP: smtp, ns: ns}
	// Cleanups run last first: this one once Postfix has stopped.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("postfix maillog:\n%s", p.maillog())
		}
		os.RemoveAll(p.Dir)
	})
	write(t, filepath.Join(p.Dir, "main.cf"), postfixMainCF(p.Dir, settings))
	write(t, filepath.Join(p.Dir, "master.cf"), p.SMTP+" inet n - n - - smtpd\n"+postfixMaster)
	p.Start(t)
	return p
}

// Stop stops Postfix, as an outage does; its queue stays.
func (p *Postfix) Stop() { p.prog.Stop() }

// Start starts Postfix, again after Stop: the same port, configuration
// and queue (and namespace).
func (p *Postfix) Start(t testing.TB) {
	t.Helper()
	postfix := testenv.LookPath(t, "postfix")
	stop := func() { exec.Command(postfix, "-c", p.Dir, "stop").Run() }
	start := exec.Command(postfix, "-c", p.Dir, "start-fg")
	if p.ns != nil {
		stop = func() { p.ns.Command(postfix, "-c", p.Dir, "stop").Run() }
		p.prog = startProgramDial(t, "postfix", p.ns.wrap(start), stop, p.ns.Dial, p.SMTP)
		return
	}
	p.prog = startProgram(t, "postfix", start, stop, p.SMTP)
}

// postfixDir makes an instance's directory, outside the test's own
// temporary directory so that Postfix's users can reach it: its queue
// and its data directory, which belongs to the postfix user.
func postfixDir(t testing.TB) string {
	t.Helper()
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
	return dir
}

// postfixMainCF is the main.cf of the instance in dir: a minimal base
// (loopback only, no local delivery) with settings over it, sorted.
func postfixMainCF(dir string, settings map[string]string) string {
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
	return cf.String()
}

// Log returns master's output and the maillog so far.
func (p *Postfix) Log() string {
	return p.prog.Output() + p.maillog()
}

func (p *Postfix) maillog() string {
	b, _ := os.ReadFile(filepath.Join(p.Dir, "maillog"))
	return string(b)
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
