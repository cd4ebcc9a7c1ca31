package test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/testenv"
)

// server is a running `postern serve`.
type server struct {
	t       *testing.T
	dir     string // data_dir and config live here
	cfgPath string
	MTA     string // host:port of the mta listener
	Sub     string // submission
	SMTPS   string // implicit TLS
	cmd     *exec.Cmd
	logMu   sync.Mutex
	log     bytes.Buffer
	done    chan struct{}
}

// serverConfig is what a test may change in the generated config.
type serverConfig struct {
	Hostname string
	Local    []string
	Relay    []string
	Trusted  []string
	Extra    string // more TOML, appended at the end
	MapsDir  string // maps_dir (a top-level key); "" leaves the default, the config file's directory
	// Zone is served by a DNS server on loopback that postern is pointed
	// at, unless Extra has its own [dns] table: no test ever asks the
	// system's resolver.
	Zone dnstest.Zone
}

// freePort returns a loopback port that was free a moment ago and was not
// handed out before in this run.
func freePort(t testing.TB) string {
	t.Helper()
	return testenv.FreePort(t)
}

func tomlList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// newServer writes a config into a fresh directory; start runs it.
func newServer(t *testing.T, sc serverConfig) *server {
	t.Helper()
	dir := t.TempDir()
	runAs := ""
	if os.Geteuid() == 0 {
		// postern refuses to run as root: it drops to nobody, who must be
		// able to reach the data dir.
		runAs = "nobody"
		os.Chmod(filepath.Dir(dir), 0o755)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if sc.Hostname == "" {
		sc.Hostname = "mx.example.test"
	}
	if sc.Local == nil {
		sc.Local = []string{"example.test"}
	}
	if sc.Trusted == nil {
		sc.Trusted = []string{"127.0.0.1/32", "::1/128"}
	}
	s := &server{t: t, dir: dir, MTA: freePort(t), Sub: freePort(t), SMTPS: freePort(t)}
	if !strings.Contains(sc.Extra, "[dns]") {
		ns := dnstest.Start(t, sc.Zone)
		sc.Extra += fmt.Sprintf("\n[dns]\nservers = [%q]\n", ns.Addr)
	}
	if !strings.Contains(sc.Extra, "[local]") {
		// The local submission socket stays in the test's directory,
		// never under /run (off when the path is too long for a socket).
		sock := filepath.Join(dir, "run", "submit.sock")
		if len(sock) > 100 {
			sock = ""
		}
		sc.Extra += fmt.Sprintf("\n[local]\nsocket = %q\n", sock)
	}
	top := ""
	if sc.MapsDir != "" {
		top = fmt.Sprintf("maps_dir = %q\n", sc.MapsDir)
	}
	cfg := top + fmt.Sprintf(`hostname = %q
data_dir = %q
local_domains = %s
relay_domains = %s
trusted_networks = %s
postmaster = "postmaster@%s"
user = %q

[[listener]]
address = %q
mode = "mta"

[[listener]]
address = %q
mode = "submission"

[[listener]]
address = %q
mode = "smtps"

[delivery]
mailbox = %q
%s
`, sc.Hostname, filepath.Join(dir, "data"), tomlList(sc.Local), tomlList(sc.Relay), tomlList(sc.Trusted),
		sc.Local[0], runAs, s.MTA, s.Sub, s.SMTPS, filepath.Join(dir, "data", "mail", "{domain}", "{user}")+"/", sc.Extra)
	s.cfgPath = filepath.Join(dir, "postern.toml")
	if err := os.WriteFile(s.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// postern runs a postern subcommand against this server's config.
func (s *server) postern(stdin string, args ...string) (string, error) {
	s.t.Helper()
	args = append(args, "-config", s.cfgPath)
	cmd := exec.Command(binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// addUser creates a mailbox owner with a password.
func (s *server) addUser(addr, password string) {
	s.t.Helper()
	if out, err := s.postern(password+"\n", "user", "add", "--password-stdin", addr); err != nil {
		s.t.Fatalf("user add %s: %v\n%s", addr, err, out)
	}
}

// start runs the server and waits until every listener answers.
func (s *server) start() {
	s.t.Helper()
	s.cmd = exec.Command(binary, "serve", "-config", s.cfgPath)
	s.cmd.Stdout = &lockedWriter{mu: &s.logMu, w: &s.log}
	s.cmd.Stderr = s.cmd.Stdout
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.done = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.done) }()
	s.t.Cleanup(s.stop)
	deadline := time.Now().Add(15 * time.Second)
	for _, addr := range []string{s.MTA, s.Sub, s.SMTPS} {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-s.done:
				s.t.Fatalf("postern serve exited early:\n%s", s.logs())
			default:
			}
			if time.Now().After(deadline) {
				s.t.Fatalf("postern did not listen on %s:\n%s", addr, s.logs())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// stop ends the server gracefully.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	if s.t.Failed() {
		s.t.Logf("postern log:\n%s", s.logs())
	}
}

// kill ends the server with SIGKILL, as a crash.
func (s *server) kill() {
	s.cmd.Process.Kill()
	<-s.done
}

func (s *server) logs() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// maildir returns the messages delivered to addr's Maildir (new and cur).
func (s *server) maildir(addr string) []string {
	s.t.Helper()
	local, domain, _ := strings.Cut(addr, "@")
	dir := filepath.Join(s.dir, "data", "mail", domain, local)
	var msgs []string
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			continue
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, sub, e.Name()))
			if err != nil {
				s.t.Fatal(err)
			}
			msgs = append(msgs, string(b))
		}
	}
	return msgs
}

// waitMaildir waits until addr's Maildir holds at least n messages.
func (s *server) waitMaildir(addr string, n int, within time.Duration) []string {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		m := s.maildir(addr)
		if len(m) >= n || time.Now().After(deadline) {
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// smtpConn is a raw SMTP client that sends exact bytes, from a chosen
// loopback source address.
type smtpConn struct {
	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
}

func dialFrom(t testing.TB, src, addr string) *smtpConn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	nc, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &smtpConn{t: t, nc: nc, r: bufio.NewReader(nc)}
	t.Cleanup(func() { nc.Close() })
	if code, text := c.reply(); code != 220 {
		t.Fatalf("greeting %d %s", code, text)
	}
	return c
}

func (c *smtpConn) send(s string) {
	c.t.Helper()
	if _, err := c.nc.Write([]byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *smtpConn) reply() (int, string) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var lines []string
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("reading reply: %v (so far %q)", err, lines)
		}
		var code int
		fmt.Sscanf(line, "%3d", &code)
		lines = append(lines, strings.TrimRight(line, "\r\n"))
		if len(line) > 3 && line[3] == ' ' {
			return code, strings.Join(lines, "\n")
		}
	}
}

// cmd sends one command and returns the reply code and text.
func (c *smtpConn) cmd(line string) (int, string) {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.reply()
}

func (c *smtpConn) must(line string, code int) string {
	c.t.Helper()
	got, text := c.cmd(line)
	if got != code {
		c.t.Fatalf("%q: got %s, want %d", line, text, code)
	}
	return text
}
