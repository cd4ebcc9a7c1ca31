package audit_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/audit/audittest"
	"postern/internal/sendmailcf"
	"postern/internal/testenv"
)

// sendmailRoot is where .ci/run unpacks Debian's sendmail-bin,
// sendmail-base and sendmail-cf (with libwrap0 and m4) using apt-get
// download and dpkg -x: Debian's sendmail and postfix packages conflict,
// so sendmail is not installed but run from that folder.
func sendmailRoot(t *testing.T) string {
	root := os.Getenv("POSTERN_SENDMAIL_ROOT")
	if root == "" {
		root = "/var/cache/postern-test/sendmail/root"
	}
	for _, p := range []string{"usr/libexec/sendmail/sendmail", "usr/libexec/sendmail/makemap", "usr/bin/m4",
		"usr/share/sendmail/cf/debian/sendmail.mc", "usr/share/sendmail/cf/m4/cf.m4"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			testenv.Missing(t, "sendmail unpacked under %s (see .ci/run): %v", root, err)
		}
	}
	return root
}

// startSendmail builds a sendmail.cf from Debian's shipped sendmail.mc
// (plus extra .mc lines) and runs `sendmail -bD` on a loopback port.
//
// Sendmail resolves its own name and its clients' addresses through the
// system resolver, whose server may be anywhere on the network. So that
// it only ever talks to loopback, it runs in its own mount and UTS
// namespaces where /etc/resolv.conf names 127.0.0.1 (nothing answers
// there), /etc/hosts holds the names it needs, and the host name is
// mx.example.test. It returns the address of the MTA daemon.
func startSendmail(t *testing.T, extraMC string) (addr, cfFile string) {
	t.Helper()
	root := sendmailRoot(t)
	unshare := testenv.LookPath(t, "unshare")
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root (sendmail's daemon and the private mount namespace need it)")
	}
	dir := t.TempDir()
	audittest.OpenTraversal(t, dir)
	lib := filepath.Join(root, "usr/lib/x86_64-linux-gnu")

	// Debian's m4 files include each other by absolute path; relocate a
	// copy of the tree so that the build reads only the unpacked files.
	cf := filepath.Join(dir, "cf")
	src := filepath.Join(root, "usr/share/sendmail/cf")
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		dst := filepath.Join(cf, rel)
		if fi.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		b = bytes.ReplaceAll(b, []byte("/usr/share/sendmail/cf/"), []byte(cf+"/"))
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	mta, msa := audittest.FreePort(t), audittest.FreePort(t)
	_, mtaPort, _ := net.SplitHostPort(mta)
	_, msaPort, _ := net.SplitHostPort(msa)
	mc, err := os.ReadFile(filepath.Join(src, "debian/sendmail.mc"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(mc), "\n") {
		switch {
		case strings.Contains(l, "include(`/etc/mail/m4/"):
			continue // dial-up and provider hooks the package's postinst creates
		case strings.HasPrefix(l, "MAILER_DEFINITIONS"):
			lines = append(lines, extraMC)
		}
		l = strings.ReplaceAll(l, "/usr/share/sendmail/cf/", cf+"/")
		l = strings.ReplaceAll(l, "Port=smtp, Addr=127.0.0.1", "Port="+mtaPort+", Addr=127.0.0.1")
		l = strings.ReplaceAll(l, "Port=submission, M=Ea, Addr=127.0.0.1", "Port="+msaPort+", M=Ea, Addr=127.0.0.1")
		lines = append(lines, l)
	}
	write(t, filepath.Join(dir, "sendmail.mc"), strings.Join(lines, "\n"))
	m4 := exec.Command(filepath.Join(root, "usr/bin/m4"), filepath.Join(dir, "sendmail.mc"))
	var m4err bytes.Buffer
	m4.Stderr = &m4err
	out, err := m4.Output()
	if err != nil {
		t.Fatalf("m4: %v\n%s", err, m4err.String())
	}
	// Point every file and directory of the generated .cf into dir.
	etc, run, queue := filepath.Join(dir, "etc"), filepath.Join(dir, "run"), filepath.Join(dir, "mqueue")
	for _, d := range []string{etc, filepath.Join(run, "hs"), queue} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(queue, 0o700)
	var cfLines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "O TrustedUser=") {
			continue // Debian's postinst creates the smmta user
		}
		l = strings.NewReplacer("/etc/mail/", etc+"/", "/var/lib/sendmail/host_status", filepath.Join(run, "hs"),
			"/var/lib/sendmail/", run+"/", "/var/run/sendmail/mta/", run+"/", "/var/spool/mqueue", queue).Replace(l)
		cfLines = append(cfLines, l)
	}
	cfFile = filepath.Join(dir, "sendmail.cf")
	write(t, cfFile, strings.Join(cfLines, "\n"))
	write(t, filepath.Join(etc, "local-host-names"), "mx.example.test\nexample.test\n")
	write(t, filepath.Join(etc, "aliases"), "")
	// Debian's shipped access map lets the host itself relay.
	write(t, filepath.Join(etc, "access"), "Connect:localhost RELAY\nConnect:127.0.0.1 RELAY\n")
	mk := exec.Command(filepath.Join(root, "usr/libexec/sendmail/makemap"), "-C", cfFile, "hash", filepath.Join(etc, "access"))
	mk.Env = append(os.Environ(), "LD_LIBRARY_PATH="+lib)
	mk.Stdin = strings.NewReader("Connect:localhost RELAY\nConnect:127.0.0.1 RELAY\n")
	if b, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("makemap: %v\n%s", err, b)
	}
	// Names sendmail needs, so that it never asks DNS: its own, the
	// local domain, and the audit's source address 127.0.0.2.
	hosts := "127.0.0.1 mx.example.test mx localhost\n127.0.0.1 example.test\n127.0.0.2 stranger.example.net\n"
	write(t, filepath.Join(dir, "hosts"), hosts)
	write(t, filepath.Join(dir, "resolv.conf"), "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
	write(t, filepath.Join(dir, "service.switch"), "hosts files\naliases files\n")
	// The unpacked binary is set-group-id, which makes the loader ignore
	// LD_LIBRARY_PATH (needed for the unpacked libwrap); run a plain copy.
	bin := filepath.Join(dir, "sendmail")
	b, err := os.ReadFile(filepath.Join(root, "usr/libexec/sendmail/sendmail"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`set -e
mount --bind %[1]s/resolv.conf /etc/resolv.conf
mount --bind %[1]s/hosts /etc/hosts
hostname mx.example.test
export LD_LIBRARY_PATH=%[2]s
exec %[3]s -C %[4]s -bD -O ServiceSwitchFile=%[1]s/service.switch -O HostsFile=%[1]s/hosts
`, dir, lib, bin, cfFile)
	write(t, filepath.Join(dir, "run.sh"), script)
	var logs bytes.Buffer
	cmd := exec.Command(unshare, "--mount", "--uts", "sh", filepath.Join(dir, "run.sh"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		// The daemon and the children it forked share its process group.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("sendmail output:\n%s", logs.String())
		}
	})
	waitPort(t, mta, 30*time.Second, func() error {
		select {
		case err := <-done:
			done <- err
			return fmt.Errorf("%v: %s", err, logs.String())
		default:
			return nil
		}
	})
	return mta, cfFile
}

func TestSendmailDebianDefault(t *testing.T) {
	addr, _ := startSendmail(t, "")
	rep, err := audit.Run(withTimeout(t, 2*time.Minute), nil, audit.Options{
		Target: addr, From: net.ParseIP("127.0.0.2"), Timeout: 15 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.WriteText(&b, audit.TextOptions{})
	t.Log(b.String())
	relay := rep.Find("relay.open")
	if relay == nil || relay.Status == audit.Fail || relay.Status == audit.Skip {
		t.Fatalf("Debian's default sendmail reported as %+v", relay)
	}
	assertProtocolHygiene(t, relay.Evidence)
	// Debian's greeting names the sendmail version.
	if c := rep.Find("smtp.banner"); c == nil || c.Status != audit.Warn {
		t.Errorf("banner: %+v", c)
	}
}

func TestSendmailPromiscuousRelay(t *testing.T) {
	addr, cfFile := startSendmail(t, "FEATURE(`promiscuous_relay')dnl")
	// The linter finds the FEATURE in the sendmail.cf m4 generated.
	src, err := os.ReadFile(cfFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := sendmailcf.ParseCF("sendmail.cf", string(src))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range sendmailcf.Lint(sendmailcf.Input{Config: cfg}) {
		found = found || f.Rule == "promiscuous-relay"
	}
	if !found {
		t.Error("lint of the generated sendmail.cf does not report promiscuous_relay")
	}
	rep, err := audit.Run(withTimeout(t, 2*time.Minute), nil, audit.Options{
		Target: addr, From: net.ParseIP("127.0.0.2"), Timeout: 15 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	relay := rep.Find("relay.open")
	if relay == nil || relay.Status != audit.Fail {
		t.Fatalf("promiscuous_relay not reported as an open relay: %+v", relay)
	}
	if !strings.Contains(relay.Detail, "spoofed-local-sender") {
		t.Errorf("detail does not name the accepted probes: %s", relay.Detail)
	}
	assertProtocolHygiene(t, relay.Evidence)
	t.Log(relay.Detail)
}
