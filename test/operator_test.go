package test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/maillog"
	"postern/internal/testenv"
)

// opConfig is the [dns] part of an operator test's config (the admin
// listener is the server's own, on a free port: server.Admin): DNS from
// a loopback server that knows nothing (remote mail stays queued or
// bounces, never leaves).
func opConfig(t *testing.T, extra string) string {
	dns := dnstest.Start(t, dnstest.Zone{})
	return fmt.Sprintf("[dns]\nservers = [%q]\ntimeout = \"2s\"\n\n%s", dns.Addr, extra)
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(b)
}

// metricValue finds one sample line ("name{labels} value") in a scrape.
func metricValue(scrape, series string) (float64, bool) {
	for _, line := range strings.Split(scrape, "\n") {
		if strings.HasPrefix(line, series+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(line[len(series):]), 64)
			return v, err == nil
		}
	}
	return 0, false
}

var syslogLine = regexp.MustCompile(`^[A-Z][a-z]{2} [ 1-3][0-9] \d\d:\d\d:\d\d \S+ postern\[\d+\]: `)

// A scripted session, then the counters over HTTP; the mail log is
// syslog-style and holds no secret.
func TestMetricsAfterScriptedSession(t *testing.T) {
	swaks := testenv.LookPath(t, "swaks")
	s := newServer(t, serverConfig{Trusted: []string{"127.0.0.9/32"}, Extra: opConfig(t, "")})
	admin := s.Admin
	s.addUser("bob@example.test", "pw-bob")
	s.addUser("alice@example.test", "Secr3t-Passw0rd")
	s.start()

	c := dialFrom(t, "127.0.0.2", s.MTA)
	c.must("EHLO client.test", 250)
	c.must("MAIL FROM:<sender@remote.test>", 250)
	if code, _ := c.cmd("RCPT TO:<victim@elsewhere.test>"); code/100 != 5 {
		t.Fatalf("relay accepted: %d", code)
	}
	c.must("RCPT TO:<bob@example.test>", 250)
	c.must("DATA", 354)
	c.must("From: <sender@remote.test>\r\nSubject: metrics\r\n\r\nhello\r\n.", 250)
	c.must("QUIT", 221)
	if got := s.waitMaildir("bob@example.test", 1, 10*time.Second); len(got) != 1 {
		t.Fatalf("not delivered: %d messages", len(got))
	}
	// AUTH over TLS with a password that must never reach the log.
	out, err := exec.Command(swaks, "--server", s.Sub, "--tls", "--auth", "PLAIN", "--auth-user", "alice@example.test",
		"--auth-password", "Secr3t-Passw0rd", "--from", "alice@example.test", "--to", "bob@example.test", "--body", "x").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	s.waitMaildir("bob@example.test", 2, 10*time.Second)

	var scrape string
	want := map[string]float64{
		// start() probes each listener once: one more connection each.
		`postern_connections_total{listener="mta"}`:                                   2,
		`postern_connections_total{listener="submission"}`:                            2,
		`postern_messages_accepted_total{auth="no",listener="mta",tls="no"}`:          1,
		`postern_messages_accepted_total{auth="yes",listener="submission",tls="yes"}`: 1,
		`postern_deliveries_total{result="delivered"}`:                                2,
		`postern_delivery_latency_seconds_count`:                                      2,
		`postern_sessions_total{listener="submission",tls="yes"}`:                     1,
		`postern_queue_messages`:                                                      0,
	}
	// Deliveries are counted as they finish: poll a little.
	deadline := time.Now().Add(10 * time.Second)
	for {
		scrape = httpGet(t, "http://"+admin+"/metrics")
		ok := true
		for series, v := range want {
			if got, found := metricValue(scrape, series); !found || got != v {
				ok = false
			}
		}
		if ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for series, v := range want {
		if got, found := metricValue(scrape, series); !found || got != v {
			t.Errorf("%s = %v (found %v), want %v", series, got, found, v)
		}
	}
	// The relay refusal: its reason label comes from the relay policy's rule.
	if !regexp.MustCompile(`(?m)^postern_rejects_total\{code="550",reason="[a-z_]+",stage="rcpt"\} 1$`).MatchString(scrape) {
		t.Errorf("no rcpt reject counted")
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", grepLines(scrape, "postern_"))
	}
	if got := httpGet(t, "http://"+admin+"/healthz"); got != "ok\n" {
		t.Errorf("/healthz: %q", got)
	}

	// The mail log: syslog lines, the events of the session, no secret.
	logs := s.logs()
	events := map[string]bool{}
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, "postern[") {
			continue // the start-up banner on standard output
		}
		if !syslogLine.MatchString(line) {
			t.Errorf("not a syslog line: %q", line)
			continue
		}
		l, err := maillog.ParseLine(line)
		if err != nil {
			t.Errorf("%q: %v", line, err)
			continue
		}
		events[l.Event] = true
	}
	for _, e := range []string{"connect", "reject", "accepted", "auth", "delivered"} {
		if !events[e] {
			t.Errorf("no %q line in the log:\n%s", e, logs)
		}
	}
	for _, secret := range []string{"Secr3t-Passw0rd", "U2VjcjN0LVBhc3N3MHJk", "AGFsaWNlQGV4YW1wbGUudGVzdABTZWNyM3QtUGFzc3cwcmQ="} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a secret (%s)", secret)
		}
	}

	// postern status reads the running server.
	st, err := s.postern("", "status")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, st)
	}
	for _, w := range []string{"running since", "Listeners:", s.MTA, "Queue: 0 messages", "limits.max_message_bytes", "127.0.0.2", "Recent refusals"} {
		if !strings.Contains(st, w) {
			t.Errorf("status lacks %q:\n%s", w, st)
		}
	}
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestJSONLog(t *testing.T) {
	extra := opConfig(t, "[log]\nformat = \"json\"\n")
	s := newServer(t, serverConfig{Extra: extra})
	s.start()
	c := dialFrom(t, "127.0.0.2", s.MTA)
	c.must("QUIT", 221)
	time.Sleep(200 * time.Millisecond)
	n := 0
	for _, line := range strings.Split(s.logs(), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("%q: %v", line, err)
			continue
		}
		if m["event"] == "connect" && m["client"] == "127.0.0.2" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d JSON connect lines for the client:\n%s", n, s.logs())
	}
}

// spikeServer runs a server whose alert trips above 2 x 2 = 4 outbound
// messages of a user in the (hour-long) window, with a webhook.
func spikeServer(t *testing.T, action string) (*server, *webhook) {
	hook := &webhook{}
	hs := httptest.NewServer(hook)
	t.Cleanup(hs.Close)
	extra := opConfig(t, fmt.Sprintf(`[alert]
window = "1h"
baseline_windows = 1
factor = 2
user_floor = 2
host_floor = 1000
action = %q
webhook = %q
mail_postmaster = true
`, action, hs.URL+"/hook"))
	s := newServer(t, serverConfig{Trusted: []string{"127.0.0.9/32"}, Extra: extra})
	s.addUser("alice@example.test", "pw-alice")
	s.addUser("postmaster@example.test", "pw-pm")
	s.start()
	return s, hook
}

type webhook struct {
	mu   sync.Mutex
	evs  []map[string]any
	errs []string
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m map[string]any
	err := json.NewDecoder(r.Body).Decode(&m)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil || r.Method != http.MethodPost {
		h.errs = append(h.errs, fmt.Sprintf("%s: %v", r.Method, err))
	}
	h.evs = append(h.evs, m)
}

func (h *webhook) events() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.evs...)
}

// submit sends n messages as alice to a remote address over submission.
func submit(t *testing.T, s *server, n int) []string {
	swaks := testenv.LookPath(t, "swaks")
	var outs []string
	for i := 0; i < n; i++ {
		out, err := exec.Command(swaks, "--server", s.Sub, "--tls", "--auth", "PLAIN", "--auth-user", "alice@example.test",
			"--auth-password", "pw-alice", "--from", "alice@example.test", "--to", "friend@elsewhere.test",
			"--body", fmt.Sprintf("message %d", i)).CombinedOutput()
		if err != nil {
			t.Fatalf("message %d: %v\n%s", i, err, out)
		}
		outs = append(outs, string(out))
	}
	return outs
}

func TestSpikeAlertFiresOnBurst(t *testing.T) {
	s, hook := spikeServer(t, "hold")
	submit(t, s, 6) // the 5th passes 2 x 2 and trips; the 6th is held
	deadline := time.Now().Add(10 * time.Second)
	for len(hook.events()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	evs := hook.events()
	if len(evs) != 1 || evs[0]["user"] != "alice@example.test" || evs[0]["scope"] != "user" || evs[0]["action"] != "hold" || evs[0]["count"] != float64(5) {
		t.Fatalf("webhook calls: %v (errors %v)\n%s", evs, hook.errs, s.logs())
	}
	if !strings.Contains(s.logs(), "outbound spike") {
		t.Errorf("no alert in the log")
	}
	pm := s.waitMaildir("postmaster@example.test", 1, 10*time.Second)
	if len(pm) == 0 || !strings.Contains(pm[0], "outbound mail spike: user alice@example.test") {
		t.Errorf("postmaster mail: %q", pm)
	}
	if !strings.Contains(s.logs(), "action=hold") {
		t.Errorf("the 6th message was not held:\n%s", s.logs())
	}
	st, _ := s.postern("", "status")
	if !strings.Contains(st, "user alice@example.test") {
		t.Errorf("status does not show the alert:\n%s", st)
	}
}

func TestSpikeAlertRefuses(t *testing.T) {
	s, hook := spikeServer(t, "refuse")
	submit(t, s, 5)
	swaks := testenv.LookPath(t, "swaks")
	out, err := exec.Command(swaks, "--server", s.Sub, "--tls", "--auth", "PLAIN", "--auth-user", "alice@example.test",
		"--auth-password", "pw-alice", "--from", "alice@example.test", "--to", "friend@elsewhere.test").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "451 4.7.1") {
		t.Errorf("6th message not refused with 451:\n%s", out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(hook.events()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if len(hook.events()) != 1 {
		t.Errorf("webhook calls: %v", hook.events())
	}
}

func TestSpikeAlertQuietForSteadyTraffic(t *testing.T) {
	s, hook := spikeServer(t, "hold")
	submit(t, s, 4) // at, not over, 2 x 2
	time.Sleep(300 * time.Millisecond)
	if evs := hook.events(); len(evs) != 0 {
		t.Errorf("alert for steady traffic: %v", evs)
	}
	if strings.Contains(s.logs(), "outbound spike") || strings.Contains(s.logs(), "action=hold") {
		t.Errorf("alert in the log:\n%s", s.logs())
	}
}

func TestUserSuspendRevoke(t *testing.T) {
	extra := opConfig(t, "")
	s := newServer(t, serverConfig{Trusted: []string{"127.0.0.9/32"}, Extra: extra})
	s.addUser("alice@example.test", "pw-alice")
	s.start()
	swaks := testenv.LookPath(t, "swaks")
	send := func() (string, error) {
		out, err := exec.Command(swaks, "--server", s.Sub, "--tls", "--auth", "PLAIN", "--auth-user", "alice@example.test",
			"--auth-password", "pw-alice", "--from", "alice@example.test", "--to", "friend@elsewhere.test").CombinedOutput()
		return string(out), err
	}
	if out, err := send(); err != nil {
		t.Fatalf("before suspension: %v\n%s", err, out)
	}
	if out, err := s.postern("", "user", "suspend", "alice@example.test"); err != nil {
		t.Fatalf("suspend: %v\n%s", err, out)
	}
	list, _ := s.postern("", "user", "list")
	if !strings.Contains(list, "alice@example.test (suspended)") {
		t.Errorf("list: %s", list)
	}
	time.Sleep(1100 * time.Millisecond) // the users file is looked at once a second
	if out, err := send(); err == nil || !strings.Contains(out, "535") {
		t.Errorf("suspended user logged in:\n%s", out)
	}
	if out, err := s.postern("", "user", "resume", "alice@example.test"); err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	time.Sleep(1100 * time.Millisecond)
	if out, err := send(); err != nil {
		t.Errorf("resumed user: %v\n%s", err, out)
	}
	// A session that logged in before the revocation.
	sc, err := smtp.Dial(s.Sub)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sc.StartTLS(&tls.Config{InsecureSkipVerify: true}); err != nil {
		t.Fatal(err)
	}
	if err := sc.Auth(smtp.PlainAuth("", "alice@example.test", "pw-alice", "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if out, err := s.postern("", "user", "revoke", "alice@example.test"); err != nil {
		t.Fatalf("revoke: %v\n%s", err, out)
	}
	time.Sleep(1100 * time.Millisecond)
	if err := sc.Mail("alice@example.test"); err == nil || !strings.Contains(err.Error(), "530") {
		t.Errorf("MAIL after the revocation: %v", err)
	}
	if out, err := send(); err == nil || !strings.Contains(out, "535") {
		t.Errorf("revoked password works:\n%s", out)
	}
	if out, err := s.postern("new-password\n", "user", "passwd", "--password-stdin", "alice@example.test"); err != nil {
		t.Fatalf("passwd: %v\n%s", err, out)
	}
}

// dialGreeting connects from src and returns the greeting's code.
func dialGreeting(t *testing.T, src, addr string) int {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	nc, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(15 * time.Second))
	line, err := bufio.NewReader(nc).ReadString('\n')
	if err != nil {
		t.Fatalf("greeting: %v", err)
	}
	code, _ := strconv.Atoi(line[:3])
	return code
}

func TestBlockAtOnce(t *testing.T) {
	extra := opConfig(t, "")
	s := newServer(t, serverConfig{Extra: extra})
	s.start()
	if code := dialGreeting(t, "127.0.0.3", s.MTA); code != 220 {
		t.Fatalf("greeting before the block: %d", code)
	}
	out, err := s.postern("", "block", "127.0.0.3", "127.0.1.0/24", "-reason", "dictionary attack")
	if err != nil {
		t.Fatalf("block: %v\n%s", err, out)
	}
	if !strings.Contains(out, "reloaded its maps") {
		t.Errorf("the server was not asked to reload:\n%s", out)
	}
	for _, src := range []string{"127.0.0.3", "127.0.1.77"} {
		if code := dialGreeting(t, src, s.MTA); code != 554 {
			t.Errorf("%s after the block: greeting %d", src, code)
		}
	}
	if code := dialGreeting(t, "127.0.0.4", s.MTA); code != 220 {
		t.Errorf("an address not blocked: greeting %d", code)
	}
	access, _ := os.ReadFile(filepath.Join(s.dir, "access"))
	if !strings.Contains(string(access), "dictionary attack\nConnect:127.0.0.3 REJECT\n") {
		t.Errorf("access map:\n%s", access)
	}
	out, _ = s.postern("", "block", "127.0.0.3")
	if !strings.Contains(out, "already blocked") {
		t.Errorf("second block: %s", out)
	}
	if out, err := s.postern("", "block", "127.0.0.3/8"); err == nil {
		t.Errorf("a network with host bits was accepted:\n%s", out)
	}
}

func TestBackupRestore(t *testing.T) {
	s := newServer(t, serverConfig{})
	s.addUser("alice@example.test", "pw-alice")
	data := filepath.Join(s.dir, "data")
	os.MkdirAll(filepath.Join(data, "dkim"), 0o700)
	os.WriteFile(filepath.Join(data, "dkim", "sel1.key"), []byte("-----BEGIN PRIVATE KEY-----\n"), 0o600)
	os.WriteFile(filepath.Join(s.dir, "access"), []byte("Connect:192.0.2.1 REJECT\n"), 0o644)
	os.MkdirAll(filepath.Join(data, "spool"), 0o700)
	os.WriteFile(filepath.Join(data, "spool", "not-backed-up"), []byte("x"), 0o600)
	archive := filepath.Join(t.TempDir(), "postern-backup.tar.gz")
	out, err := s.postern("", "backup", archive)
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	if fi, err := os.Stat(archive); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("archive: %v %v", fi, err)
	}
	list, err := exec.Command("tar", "tzvf", archive).CombinedOutput()
	if err != nil {
		t.Fatalf("tar: %v\n%s", err, list)
	}
	for _, w := range []string{"MANIFEST", "config/postern.toml", "maps/access", "data/users", "data/dkim/sel1.key"} {
		if !strings.Contains(string(list), w) {
			t.Errorf("archive lacks %s:\n%s", w, list)
		}
	}
	if strings.Contains(string(list), "spool") {
		t.Errorf("the queue was backed up:\n%s", list)
	}
	// Everything is still there: restore refuses.
	if out, err := s.postern("", "restore", archive); err == nil || !strings.Contains(out, "-force") {
		t.Fatalf("restore over existing files: %v\n%s", err, out)
	}
	// Lose the users and the keys; restore brings them back, modes kept.
	os.Remove(filepath.Join(data, "users"))
	os.RemoveAll(filepath.Join(data, "dkim"))
	if out, err := s.postern("", "restore", "-force", archive); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	fi, err := os.Stat(filepath.Join(data, "dkim", "sel1.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key after restore: %v %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(data, "dkim")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("dkim dir after restore: %v %v", fi, err)
	}
	if out, _ := s.postern("", "user", "list"); !strings.Contains(out, "alice@example.test") {
		t.Errorf("users after restore: %s", out)
	}
	// A damaged archive is refused and changes nothing.
	b, _ := os.ReadFile(archive)
	bad := filepath.Join(t.TempDir(), "bad.tar.gz")
	os.WriteFile(bad, b[:len(b)-20], 0o600)
	if out, err := s.postern("", "restore", "-force", bad); err == nil {
		t.Errorf("damaged archive restored:\n%s", out)
	}
}
