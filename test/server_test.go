package test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/testenv"
	"postern/internal/testpeer"
)

// server is a `postern serve` of a test, started (and restarted) by
// start.
type server struct {
	t       *testing.T
	dir     string // data_dir and config live here
	cfgPath string
	MTA     string              // host:port of the mta listener
	Sub     string              // submission
	SMTPS   string              // implicit TLS
	Admin   string              // the admin listener's host:port; "" when off
	runs    []*testpeer.Program // each start, the running one last
}

// serverConfig is what a test may change in the generated config.
type serverConfig struct {
	Hostname string
	Local    []string
	Relay    []string
	Trusted  []string
	TLS      string // the keys of [tls] (which comes before [delivery])
	Extra    string // more TOML, appended at the end
	MapsDir  string // maps_dir (a top-level key); "" leaves the default, the config file's directory
	// Zone is served by a DNS server on loopback that postern is pointed
	// at, unless Extra has its own [dns] table: no test ever asks the
	// system's resolver.
	Zone dnstest.Zone
	// Admin is [admin] address: "" for a free loopback port of this
	// server's own (server.Admin), testpeer.AdminOff for none.
	Admin string
}

// freePort returns a loopback port that was free a moment ago and was not
// handed out before in this run.
func freePort(t testing.TB) string {
	t.Helper()
	return testenv.FreePort(t)
}

// newServer writes a config into a fresh directory, for postern started
// as root to drop to nobody (who must be able to reach the data dir), as
// in production; start runs it.
func newServer(t *testing.T, sc serverConfig) *server {
	t.Helper()
	dir := testenv.OpenTempDir(t)
	if sc.Local == nil {
		sc.Local = []string{"example.test"}
	}
	if sc.Relay == nil {
		sc.Relay = []string{}
	}
	s := &server{t: t, dir: dir, cfgPath: filepath.Join(dir, "postern.toml"), MTA: freePort(t), Sub: freePort(t), SMTPS: freePort(t)}
	pc := testpeer.PosternConfig{
		MapsDir: sc.MapsDir, Hostname: sc.Hostname, DataDir: filepath.Join(dir, "data"),
		Local: sc.Local, Relay: sc.Relay, Trusted: sc.Trusted, Postmaster: "postmaster@" + sc.Local[0],
		User: testenv.ServiceUser(), MTA: s.MTA, Submission: s.Sub, SMTPS: s.SMTPS, TLS: sc.TLS, Extra: sc.Extra,
		// The local submission socket stays in the test's directory,
		// never under /run (off when the path is too long for a socket).
		LocalSocket: filepath.Join(dir, "run", "submit.sock"),
		Admin:       sc.Admin,
	}
	if len(pc.LocalSocket) > 100 {
		pc.LocalSocket = ""
	}
	if !strings.Contains(sc.Extra, "[dns]") {
		pc.DNS = dnstest.Start(t, sc.Zone).Addr
	}
	pc.Write(t, s.cfgPath)
	if pc.Admin != testpeer.AdminOff {
		s.Admin = pc.Admin
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

// start runs the server and waits until every listener, the admin
// listener too, answers from this server's own process.
func (s *server) start() {
	s.t.Helper()
	listen := []string{s.MTA, s.Sub, s.SMTPS}
	if s.Admin != "" {
		listen = append(listen, s.Admin)
	}
	s.runs = append(s.runs, testpeer.StartPostern(s.t, binary, s.cfgPath, listen...))
}

// stop ends the server gracefully (SIGTERM).
func (s *server) stop() { s.running().Stop() }

// kill ends the server with SIGKILL, as a crash.
func (s *server) kill() { s.running().Kill() }

// process is the running server's process.
func (s *server) process() *os.Process { return s.running().Cmd.Process }

func (s *server) running() *testpeer.Program {
	s.t.Helper()
	if len(s.runs) == 0 {
		s.t.Fatal("the server was never started")
	}
	return s.runs[len(s.runs)-1]
}

// logs is what the server printed, in all its runs.
func (s *server) logs() string {
	var b strings.Builder
	for _, p := range s.runs {
		b.WriteString(p.Output())
	}
	return b.String()
}

// maildir returns the messages delivered to addr's Maildir (new and cur).
func (s *server) maildir(addr string) []string {
	s.t.Helper()
	return readMaildir(s.t, s.maildirPath(addr))
}

func (s *server) maildirPath(addr string) string {
	local, domain, _ := strings.Cut(addr, "@")
	return filepath.Join(s.dir, "data", "mail", domain, local)
}

// waitMaildir waits until addr's Maildir holds at least n messages.
func (s *server) waitMaildir(addr string, n int, within time.Duration) []string {
	s.t.Helper()
	return waitMaildirAt(s.t, s.maildirPath(addr), n, within)
}

// readMaildir returns the messages in the Maildir dir (new and cur).
func readMaildir(t testing.TB, dir string) []string {
	t.Helper()
	var msgs []string
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			continue
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, sub, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, string(b))
		}
	}
	return msgs
}

// waitMaildirAt waits until the Maildir dir holds at least n messages.
func waitMaildirAt(t testing.TB, dir string, n int, within time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		m := readMaildir(t, dir)
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
