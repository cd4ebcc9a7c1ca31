package test

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"postern/internal/ratelimit/redistest"
)

// Rate limits: every limit is driven past its value on the real server;
// the 4xx reply must say which limit, and the limit must reset. Windows
// are 6 seconds long here (window = "6s"): an hourly limit of 600*n
// allows n per window. Limits a test does not set are off, so that the
// defaults (scaled down to such short windows) do not get in the way.

const rlWindow = 6 * time.Second

// perWindow is the hourly limit that allows n per window.
func perWindow(n int) int { return n * int(time.Hour/rlWindow) }

var rlKeys = []string{"connections_per_ip_per_hour", "max_connections", "max_connections_per_ip",
	"messages_per_user_per_hour", "recipients_per_user_per_hour", "auth_failures_per_ip_per_hour",
	"outbound_per_user_per_hour", "outbound_per_host_per_hour"}

// rlConfig is a [ratelimit] table with short windows and the given keys
// (key = value lines); overrides may follow in more.
func rlConfig(keys string, more ...string) string {
	cfg := "\n[ratelimit]\nwindow = \"6s\"\nauth_lockout = \"3s\"\n" + keys + "\n"
	for _, k := range rlKeys {
		if !strings.Contains(keys, k+" =") {
			cfg += k + " = -1\n"
		}
	}
	return cfg + strings.Join(more, "\n")
}

// rlGreet connects from src and returns the first reply (the greeting,
// or the refusal in its place).
func rlGreet(t *testing.T, src, addr string) (*smtpConn, int, string) {
	t.Helper()
	c := dialNoGreeting(t, src, addr)
	code, text := c.reply()
	return c, code, text
}

// rlGreetTLS is rlGreet on an implicit-TLS (smtps) listener.
func rlGreetTLS(t *testing.T, src, addr string) (*smtpConn, int, string) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	nc, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &smtpConn{t: t, nc: nc, r: bufio.NewReader(nc)}
	code, text := c.reply()
	return c, code, text
}

// wantRefusal checks a reply's code, enhanced code and words.
func wantRefusal(t *testing.T, what string, code int, text string, wantCode int, words ...string) {
	t.Helper()
	if code != wantCode {
		t.Fatalf("%s: got %d %q, want %d", what, code, text, wantCode)
	}
	for _, w := range words {
		if !strings.Contains(text, w) {
			t.Fatalf("%s: reply %q lacks %q", what, text, w)
		}
	}
}

// eventually retries f (which reports success) for up to d.
func eventually(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		// Slowly: each refusal counts as a client error (max_errors).
		time.Sleep(700 * time.Millisecond)
	}
}

func auth(user, pass string) string {
	return "AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass))
}

func TestRateLimitConnectionsPerIP(t *testing.T) {
	s := newServer(t, serverConfig{Extra: rlConfig(fmt.Sprintf("connections_per_ip_per_hour = %d", perWindow(2)))})
	s.start()
	for i := 0; i < 2; i++ {
		c, code, text := rlGreet(t, "127.0.0.2", s.MTA)
		if code != 220 {
			t.Fatalf("connection %d: %d %s", i+1, code, text)
		}
		c.must("QUIT", 221)
	}
	_, code, text := rlGreet(t, "127.0.0.2", s.MTA)
	wantRefusal(t, "third connection", code, text, 421, "4.7.0", "too many connections from 127.0.0.2", "per hour", "try again in")
	// Another client is not affected; nor is a trusted one.
	if _, code, text := rlGreet(t, "127.0.0.3", s.MTA); code != 220 {
		t.Fatalf("other client: %d %s", code, text)
	}
	for i := 0; i < 5; i++ {
		if _, code, text := rlGreet(t, "127.0.0.1", s.MTA); code != 220 {
			t.Fatalf("trusted client, connection %d: %d %s", i+1, code, text)
		}
	}
	if !strings.Contains(s.logs(), "connections_per_ip_per_hour") {
		t.Fatalf("refusal not logged with its rule:\n%s", s.logs())
	}
	// The limit resets.
	time.Sleep(rlWindow + 500*time.Millisecond)
	eventually(t, 2*rlWindow, "connection after the window", func() bool {
		c, code, _ := rlGreet(t, "127.0.0.2", s.MTA)
		c.nc.Close()
		return code == 220
	})
}

func TestRateLimitConcurrentPerIP(t *testing.T) {
	s := newServer(t, serverConfig{Extra: rlConfig("max_connections_per_ip = 2")})
	s.start()
	a, code, _ := rlGreet(t, "127.0.0.4", s.MTA)
	b, code2, _ := rlGreet(t, "127.0.0.4", s.MTA)
	if code != 220 || code2 != 220 {
		t.Fatalf("first two: %d %d", code, code2)
	}
	_, code, text := rlGreet(t, "127.0.0.4", s.MTA)
	wantRefusal(t, "third concurrent connection", code, text, 421, "4.7.0", "too many simultaneous connections from 127.0.0.4")
	if _, code, text := rlGreet(t, "127.0.0.5", s.MTA); code != 220 {
		t.Fatalf("other client: %d %s", code, text)
	}
	a.must("QUIT", 221)
	eventually(t, 5*time.Second, "connection after one closed", func() bool {
		c, code, _ := rlGreet(t, "127.0.0.4", s.MTA)
		c.nc.Close()
		return code == 220
	})
	b.must("NOOP", 250)
}

func TestRateLimitMaxConnections(t *testing.T) {
	s := newServer(t, serverConfig{Extra: rlConfig("max_connections = 3")})
	s.start()
	var open []*smtpConn
	for i, src := range []string{"127.0.0.6", "127.0.0.7", "127.0.0.1"} {
		c, code, text := rlGreet(t, src, s.MTA)
		if code != 220 {
			t.Fatalf("connection %d: %d %s", i+1, code, text)
		}
		open = append(open, c)
	}
	// The total counts trusted clients too.
	_, code, text := rlGreet(t, "127.0.0.1", s.Sub)
	wantRefusal(t, "fourth connection", code, text, 421, "4.7.0", "too many connections to this server")
	open[0].must("QUIT", 221)
	eventually(t, 5*time.Second, "connection after one closed", func() bool {
		c, code, _ := rlGreet(t, "127.0.0.8", s.MTA)
		c.nc.Close()
		return code == 220
	})
}

func TestRateLimitAuthFailures(t *testing.T) {
	s := newServer(t, serverConfig{Extra: rlConfig(fmt.Sprintf("auth_failures_per_ip_per_hour = %d", perWindow(2)))})
	s.addUser("alice@example.test", "right-password")
	s.start()
	c, code, text := rlGreetTLS(t, "127.0.0.9", s.SMTPS)
	if code != 220 {
		t.Fatalf("greeting %d %s", code, text)
	}
	c.must("EHLO client.test", 250)
	c.must(auth("alice@example.test", "wrong-1"), 535)
	code, text = c.cmd(auth("alice@example.test", "wrong-2"))
	wantRefusal(t, "second failure", code, text, 454, "4.7.0", "too many failed logins from 127.0.0.9")
	// Locked out: even the right password is refused, and new
	// connections are turned away at once.
	code, text = c.cmd(auth("alice@example.test", "right-password"))
	wantRefusal(t, "right password while locked out", code, text, 454, "too many failed logins")
	_, code, text = rlGreetTLS(t, "127.0.0.9", s.SMTPS)
	wantRefusal(t, "new connection while locked out", code, text, 421, "4.7.0", "too many failed logins from 127.0.0.9", "try again in")
	// Other clients may still log in.
	c2, _, _ := rlGreetTLS(t, "127.0.0.10", s.SMTPS)
	c2.must("EHLO client.test", 250)
	c2.must(auth("alice@example.test", "right-password"), 235)
	if !strings.Contains(s.logs(), "auth lockout") {
		t.Fatalf("lockout not logged:\n%s", s.logs())
	}
	// The lock-out ends (auth_lockout = 3s).
	time.Sleep(3 * time.Second)
	eventually(t, 3*time.Second, "login after the lock-out", func() bool {
		c, code, _ := rlGreetTLS(t, "127.0.0.9", s.SMTPS)
		if code != 220 {
			c.nc.Close()
			return false
		}
		c.must("EHLO client.test", 250)
		code, _ = c.cmd(auth("alice@example.test", "right-password"))
		c.nc.Close()
		return code == 235
	})
}

// loggedIn opens an authenticated smtps session.
func loggedIn(t *testing.T, s *server, src, user, pass string) *smtpConn {
	t.Helper()
	c, code, text := rlGreetTLS(t, src, s.SMTPS)
	if code != 220 {
		t.Fatalf("greeting %d %s", code, text)
	}
	c.must("EHLO client.test", 250)
	c.must(auth(user, pass), 235)
	return c
}

func TestRateLimitMessagesPerUser(t *testing.T) {
	s := newServer(t, serverConfig{Extra: rlConfig(fmt.Sprintf("messages_per_user_per_hour = %d", perWindow(2)))})
	s.addUser("alice@example.test", "pw")
	s.addUser("bob@example.test", "pw")
	s.start()
	c := loggedIn(t, s, "127.0.0.11", "alice@example.test", "pw")
	for i := 0; i < 2; i++ {
		c.must("MAIL FROM:<alice@example.test>", 250)
		c.must("RSET", 250)
	}
	code, text := c.cmd("MAIL FROM:<alice@example.test>")
	wantRefusal(t, "third message", code, text, 451, "4.7.1", "alice@example.test has sent too many messages", "try again in")
	// The limit is per user, not per connection or address.
	c2 := loggedIn(t, s, "127.0.0.12", "alice@example.test", "pw")
	code, text = c2.cmd("MAIL FROM:<alice@example.test>")
	wantRefusal(t, "third message on another connection", code, text, 451, "too many messages")
	c3 := loggedIn(t, s, "127.0.0.11", "bob@example.test", "pw")
	c3.must("MAIL FROM:<bob@example.test>", 250)
	time.Sleep(rlWindow * 3 / 2)
	eventually(t, rlWindow, "message after the window", func() bool {
		code, _ := c.cmd("MAIL FROM:<alice@example.test>")
		return code == 250
	})
}

func TestRateLimitRecipientsPerUser(t *testing.T) {
	s := newServer(t, serverConfig{Extra: rlConfig(fmt.Sprintf("recipients_per_user_per_hour = %d", perWindow(3)))})
	s.addUser("alice@example.test", "pw")
	s.start()
	c := loggedIn(t, s, "127.0.0.13", "alice@example.test", "pw")
	c.must("MAIL FROM:<alice@example.test>", 250)
	for i := 0; i < 3; i++ {
		c.must("RCPT TO:<alice@example.test>", 250)
	}
	code, text := c.cmd("RCPT TO:<alice@example.test>")
	wantRefusal(t, "fourth recipient", code, text, 451, "4.7.1", "alice@example.test has sent to too many recipients", "try again in")
	time.Sleep(rlWindow * 3 / 2)
	eventually(t, rlWindow, "recipient after the window", func() bool {
		code, _ := c.cmd("RCPT TO:<alice@example.test>")
		return code == 250
	})
}

func TestRateLimitOutbound(t *testing.T) {
	s := newServer(t, serverConfig{Extra: rlConfig(fmt.Sprintf("outbound_per_user_per_hour = %d\noutbound_per_host_per_hour = %d", perWindow(2), perWindow(4)))})
	s.addUser("alice@example.test", "pw")
	s.addUser("bob@example.test", "pw")
	s.addUser("carol@example.test", "pw")
	s.start()
	c := loggedIn(t, s, "127.0.0.14", "alice@example.test", "pw")
	c.must("MAIL FROM:<alice@example.test>", 250)
	// Local recipients do not count as outbound.
	for i := 0; i < 4; i++ {
		c.must("RCPT TO:<bob@example.test>", 250)
	}
	c.must("RCPT TO:<a@remote.example>", 250)
	c.must("RCPT TO:<b@remote.example>", 250)
	code, text := c.cmd("RCPT TO:<c@remote.example>")
	wantRefusal(t, "third outbound recipient", code, text, 451, "4.7.1", "outgoing mail limit reached for alice@example.test")
	// The host limit (4 per window) is shared by every user.
	b := loggedIn(t, s, "127.0.0.15", "bob@example.test", "pw")
	b.must("MAIL FROM:<bob@example.test>", 250)
	b.must("RCPT TO:<d@remote.example>", 250)
	b.must("RCPT TO:<e@remote.example>", 250)
	cc := loggedIn(t, s, "127.0.0.16", "carol@example.test", "pw")
	cc.must("MAIL FROM:<carol@example.test>", 250)
	code, text = cc.cmd("RCPT TO:<f@remote.example>")
	wantRefusal(t, "host limit", code, text, 451, "4.7.1", "this server's outgoing mail limit is reached")
	time.Sleep(rlWindow * 3 / 2)
	eventually(t, rlWindow, "outbound after the window", func() bool {
		code, _ := cc.cmd("RCPT TO:<g@remote.example>")
		return code == 250
	})
}

// sendmail access-map entries: ClientRate (per minute) and ClientConn.
func TestRateLimitAccessMap(t *testing.T) {
	// ClientRate 1 a minute = 60 an hour = 1 per 6 s window.
	dir := mapsDir(t, map[string]string{"access": "ClientRate:127.0.0.17\t1\nClientConn:127.0.0.18\t1\n"})
	s := newServer(t, serverConfig{MapsDir: dir, Extra: rlConfig("")})
	s.start()
	if _, code, text := rlGreet(t, "127.0.0.17", s.MTA); code != 220 {
		t.Fatalf("first: %d %s", code, text)
	}
	_, code, text := rlGreet(t, "127.0.0.17", s.MTA)
	wantRefusal(t, "ClientRate", code, text, 421, "too many connections from 127.0.0.17")
	if _, code, text := rlGreet(t, "127.0.0.18", s.MTA); code != 220 {
		t.Fatalf("first: %d %s", code, text)
	}
	_, code, text = rlGreet(t, "127.0.0.18", s.MTA)
	wantRefusal(t, "ClientConn", code, text, 421, "too many simultaneous connections from 127.0.0.18")
}

// Overrides per network and per listener.
func TestRateLimitOverrides(t *testing.T) {
	s := newServer(t, serverConfig{Extra: rlConfig(fmt.Sprintf("connections_per_ip_per_hour = %d", perWindow(1)), `
[[ratelimit.override]]
networks = ["127.0.0.20/32"]
connections_per_ip_per_hour = -1
[[ratelimit.override]]
listeners = ["submission"]
connections_per_ip_per_hour = `+fmt.Sprint(perWindow(2))+"\n")})
	s.start()
	for i := 0; i < 4; i++ {
		if _, code, text := rlGreet(t, "127.0.0.20", s.MTA); code != 220 {
			t.Fatalf("unlimited network, connection %d: %d %s", i+1, code, text)
		}
	}
	rlGreet(t, "127.0.0.21", s.MTA)
	if _, code, _ := rlGreet(t, "127.0.0.21", s.MTA); code != 421 {
		t.Fatalf("second MTA connection: %d, want 421", code)
	}
	for i := 0; i < 2; i++ {
		if _, code, text := rlGreet(t, "127.0.0.22", s.Sub); code != 220 {
			t.Fatalf("submission connection %d: %d %s", i+1, code, text)
		}
	}
	if _, code, _ := rlGreet(t, "127.0.0.22", s.Sub); code != 421 {
		t.Fatalf("third submission connection: %d, want 421", code)
	}
}

// Two postern processes sharing one Redis enforce one combined limit;
// with Redis gone, on_backend_error decides.
func TestRateLimitRedisFleet(t *testing.T) {
	rds := redistest.Start(t)
	rlFleet(t, fmt.Sprintf("backend = \"redis\"\nredis_url = %q\n", rds.URL()), rds.Stop)
}

// rlFleet runs two servers sharing the backend that keys configure, then
// stops the backend with stop: the fail_open node serves, the
// fail_closed one answers 4xx.
func rlFleet(t *testing.T, keys string, stop func()) {
	conf := func(failure string) string {
		return fmt.Sprintf("\n[ratelimit]\n%son_backend_error = %q\nconnections_per_ip_per_hour = 4\nmax_connections_per_ip = 2\nmessages_per_user_per_hour = 3\n",
			keys, failure)
	}
	a := newServer(t, serverConfig{Extra: conf("fail_open")})
	b := newServer(t, serverConfig{Extra: conf("fail_closed")})
	for _, s := range []*server{a, b} {
		s.addUser("alice@example.test", "pw")
		s.start()
	}
	// 4 connections an hour from one client, across both nodes.
	for i, s := range []*server{a, b, a, b} {
		c, code, text := rlGreet(t, "127.0.0.30", s.MTA)
		if code != 220 {
			t.Fatalf("connection %d: %d %s", i+1, code, text)
		}
		c.must("QUIT", 221)
	}
	for _, s := range []*server{a, b} {
		_, code, text := rlGreet(t, "127.0.0.30", s.MTA)
		wantRefusal(t, "fifth connection", code, text, 421, "too many connections from 127.0.0.30")
	}
	// Concurrent connections: one on each node fills the 2 allowed.
	if _, code, _ := rlGreet(t, "127.0.0.31", a.MTA); code != 220 {
		t.Fatal("first concurrent connection refused")
	}
	if _, code, _ := rlGreet(t, "127.0.0.31", b.MTA); code != 220 {
		t.Fatal("second concurrent connection refused")
	}
	_, code, text := rlGreet(t, "127.0.0.31", a.MTA)
	wantRefusal(t, "third concurrent connection across nodes", code, text, 421, "too many simultaneous connections")
	// Messages per user: 3 an hour across both nodes.
	for i, s := range []*server{a, b, a} {
		c := loggedIn(t, s, fmt.Sprintf("127.0.0.%d", 40+i), "alice@example.test", "pw")
		c.must("MAIL FROM:<alice@example.test>", 250)
	}
	c := loggedIn(t, b, "127.0.0.33", "alice@example.test", "pw")
	code, text = c.cmd("MAIL FROM:<alice@example.test>")
	wantRefusal(t, "fourth message across nodes", code, text, 451, "too many messages")

	// The backend goes away: a fails open (logs, serves), b fails closed.
	stop()
	if _, code, text := rlGreet(t, "127.0.0.34", a.MTA); code != 220 {
		t.Fatalf("fail_open with the backend down: %d %s", code, text)
	}
	_, code, text = rlGreet(t, "127.0.0.34", b.MTA)
	wantRefusal(t, "fail_closed with the backend down", code, text, 421, "4.3.0")
	eventually(t, 5*time.Second, "backend error logged", func() bool {
		return strings.Contains(a.logs(), "ratelimit backend error") && strings.Contains(b.logs(), "ratelimit backend error")
	})
}
