package audit_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/testenv"
)

// freePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitPort waits until something accepts connections on addr.
func waitPort(t testing.TB, addr string, d time.Duration, alive func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if alive != nil {
			if err := alive(); err != nil {
				t.Fatalf("server for %s exited before listening: %v", addr, err)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("nothing listening on %s after %s", addr, d)
}

// openTraversal makes dir and its parents up to the temp root searchable
// by the unprivileged users servers drop to (t.TempDir is mode 0700).
func openTraversal(t testing.TB, dir string) {
	t.Helper()
	tmp := os.TempDir()
	for d := dir; strings.HasPrefix(d, tmp) && d != tmp; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// postfixOptions shape the private Postfix instance.
type postfixOptions struct {
	mynetworks string // e.g. "0.0.0.0/0" for an open relay
	cert, key  string // TLS files; "" for no STARTTLS
	extra      string // more main.cf lines
}

// startPostfix runs a private Postfix (own config, queue and data
// directories in a temporary directory) with smtpd on a loopback port,
// and stops it when the test ends. It returns "127.0.0.1:port".
func startPostfix(t *testing.T, o postfixOptions) string {
	t.Helper()
	postfix := testenv.LookPath(t, "postfix")
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root (Postfix's master must start as root)")
	}
	dir := t.TempDir()
	openTraversal(t, dir)
	port := freePort(t)
	for _, d := range []string{"queue", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(filepath.Join(dir, "data"), postfixUID(t), -1); err != nil {
		t.Fatal(err)
	}
	main := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.example.test
mydomain = example.test
myorigin = $mydomain
mydestination = $myhostname, $mydomain, localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = %[2]s
maillog_file = %[1]s/maillog
maillog_file_prefixes = %[1]s
smtpd_banner = $myhostname ESMTP
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtpd_soft_error_limit = 100
smtpd_error_sleep_time = 0
`, dir, o.mynetworks)
	if o.cert != "" {
		main += fmt.Sprintf("smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\nsmtpd_tls_security_level = may\n", o.cert, o.key)
	}
	main += o.extra
	master := fmt.Sprintf("127.0.0.1:%d inet n - n - - smtpd\n", port) + `pickup unix n - n 60 1 pickup
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
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
`
	write(t, filepath.Join(dir, "main.cf"), main)
	write(t, filepath.Join(dir, "master.cf"), master)

	var out bytes.Buffer
	cmd := exec.Command(postfix, "-c", dir, "start-fg")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		stop := exec.Command(postfix, "-c", dir, "stop")
		stop.Run()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "maillog"))
			t.Logf("postfix output:\n%s\nmaillog:\n%s", out.String(), log)
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitPort(t, addr, 30*time.Second, func() error {
		select {
		case err := <-done:
			done <- err
			return fmt.Errorf("%v: %s", err, out.String())
		default:
			return nil
		}
	})
	return addr
}

func postfixUID(t testing.TB) int {
	out, err := exec.Command("id", "-u", "postfix").Output()
	if err != nil {
		testenv.Missing(t, "user postfix (installed with the postfix package)")
	}
	var uid int
	fmt.Sscan(string(out), &uid)
	return uid
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// withTimeout gives a test context a deadline.
func withTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
