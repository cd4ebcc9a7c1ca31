package test

import (
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/testenv"
)

// consoleClient talks to the web console as a browser does, keeping the
// session cookie itself (Go's cookie jar sends no Secure cookie over
// http, which browsers do for loopback).
type consoleClient struct {
	t      *testing.T
	base   string
	cookie *http.Cookie
	csrf   string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *consoleClient) do(method, path string, form url.Values) (int, string, *http.Response) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindStringSubmatch(string(b)); m != nil {
		c.csrf = m[1]
	}
	return resp.StatusCode, string(b), resp
}

func (c *consoleClient) login(user, pw string) int {
	c.t.Helper()
	code, _, resp := c.do("POST", "/console/login", url.Values{"user": {user}, "password": {pw}})
	for _, ck := range resp.Cookies() {
		if ck.Name == "postern_console" {
			c.cookie = ck
		}
	}
	return code
}

// An admin made by the CLI as root logs in to the console of a server
// that runs as nobody, sees every page, and holds and releases a message
// sent with swaks; the mail log names the admin. A user without the
// admin role cannot log in.
func TestConsole(t *testing.T) {
	swaks := testenv.LookPath(t, "swaks")
	dns := dnstest.Start(t, dnstest.Zone{"remote.example. MX": {"10 mx.remote.example."}, "mx.remote.example. A": {"127.0.0.1"}})
	closed := 1 // nothing listens: the message stays queued
	s := newServer(t, serverConfig{Extra: relayConfig(dns.Addr, closed, "")})
	admin := s.Admin
	s.addUser("boss@example.test", "boss-pass-1")
	s.addUser("alice@example.test", "alice-pass-1")
	if out, err := s.postern("", "user", "grant-admin", "boss@example.test"); err != nil {
		t.Fatalf("grant-admin: %v\n%s", err, out)
	}
	if out, _ := s.postern("", "user", "list"); !strings.Contains(out, "boss@example.test (admin)") {
		t.Fatalf("user list: %s", out)
	}
	s.start()

	out, err := exec.Command(swaks, "--server", s.MTA, "--ehlo", "client.test", "--from", "alice@example.test",
		"--to", "someone@remote.example", "--header", "Subject: for the console", "--body", "hello").CombinedOutput()
	m := regexp.MustCompile(`queued as (\S+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	id := string(m[1])

	c := &consoleClient{t: t, base: "http://" + admin}
	if code := c.login("alice@example.test", "alice-pass-1"); code != http.StatusUnauthorized || c.cookie != nil {
		t.Fatalf("a user without the admin role: %d", code)
	}
	if code, _, resp := c.do("GET", "/", nil); code != http.StatusSeeOther || resp.Header.Get("Location") != "/console/" {
		t.Errorf("/: %d", code)
	}
	if code := c.login("boss@example.test", "boss-pass-1"); code != http.StatusSeeOther || c.cookie == nil {
		t.Fatalf("admin login: %d\n%s", code, s.logs())
	}
	for path, want := range map[string]string{
		"/console/": "Rejected by reason", "/console/queue": id, "/console/queue/" + id: "for the console",
		"/console/changes": "Changes", "/console/dmarc": "Sources that fail", "/console/keys": "TLS certificates", "/console/queue/" + id + "?do=hold": "Hold " + id,
	} {
		code, body, resp := c.do("GET", path, nil)
		if code != 200 || !strings.Contains(body, want) || resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: %d, want %q\n%s", path, code, want, body)
		}
	}
	for _, action := range []string{"hold", "release"} {
		code, body, _ := c.do("POST", "/console/queue/"+id, url.Values{"action": {action}, "csrf": {c.csrf}})
		if code != 200 {
			t.Fatalf("%s: %d\n%s", action, code, body)
		}
		list, _ := s.postern("", "queue", "list")
		if held := strings.Contains(list, "held"); held != (action == "hold") {
			t.Errorf("after %s: %s", action, list)
		}
	}
	waitLogLine(t, s, regexp.MustCompile(`console .*user=boss@example.test.*request="hold `+id+`"`))
	waitLogLine(t, s, regexp.MustCompile(`console .*user=boss@example.test.*request="release `+id+`"`))
	if code, _, _ := c.do("POST", "/console/queue/"+id, url.Values{"action": {"hold"}}); code != http.StatusForbidden {
		t.Errorf("without the CSRF token: %d", code)
	}
}

// waitLogLine waits for a line of the mail log that matches re.
func waitLogLine(t *testing.T, s *server, re *regexp.Regexp) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, line := range strings.Split(s.logs(), "\n") {
			if re.MatchString(line) {
				return
			}
		}
	}
	t.Errorf("no log line matches %s:\n%s", re, s.logs())
}
