package testpeer

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"postern/internal/testenv"
)

// Postsrsd is a running postsrsd (Debian package postsrsd, version 1:
// two TCP lookup tables in Postfix's tcp_table protocol), for checking
// postern's SRS addresses against it.
type Postsrsd struct {
	Forward, Reverse string // "127.0.0.1:port" of each table
}

// StartPostsrsd runs postsrsd for domain with the secrets (the first
// signs, as in its secrets file), in the foreground, until the test
// ends. Without postsrsd the test is skipped (failed under CI=true).
func StartPostsrsd(t testing.TB, domain string, secrets ...string) *Postsrsd {
	t.Helper()
	bin := testenv.LookPath(t, "postsrsd")
	secretFile := filepath.Join(t.TempDir(), "postsrsd.secret")
	testenv.WriteFile(t, secretFile, strings.Join(secrets, "\n")+"\n", 0o600)
	p := &Postsrsd{Forward: testenv.FreePort(t), Reverse: testenv.FreePort(t)}
	_, fport, _ := net.SplitHostPort(p.Forward)
	_, rport, _ := net.SplitHostPort(p.Reverse)
	args := []string{"-s", secretFile, "-d", domain, "-l", "127.0.0.1", "-f", fport, "-r", rport}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody")
	}
	StartProgram(t, "postsrsd", exec.Command(bin, args...), syscall.SIGTERM, p.Forward, p.Reverse)
	return p
}

// Lookup asks one table (p.Forward or p.Reverse) for key. ok is false
// for postsrsd's "500" answers (not rewritten), with its reason as the
// value.
func (p *Postsrsd) Lookup(t testing.TB, table, key string) (value string, ok bool) {
	t.Helper()
	c, err := net.DialTimeout("tcp", table, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "get %s\n", url.PathEscape(key))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("postsrsd lookup %q: %v", key, err)
	}
	code, rest, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
	if v, err := url.PathUnescape(rest); err == nil {
		rest = v
	}
	switch code {
	case "200":
		return rest, true
	case "500":
		return rest, false
	}
	t.Fatalf("postsrsd lookup %q: answer %q", key, line)
	return "", false
}
