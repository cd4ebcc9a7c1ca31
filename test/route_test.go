package test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mapsDir makes a maps_dir that postern (perhaps running as nobody) can read.
func mapsDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	for name, body := range files {
		writeMap(t, dir, name, body)
	}
	return dir
}

// writeMap replaces a map file at once (a new file renamed over the old).
func writeMap(t *testing.T, dir, name, body string) {
	t.Helper()
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(tmp, 0o644)
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

var routeMaps = map[string]string{
	"access": `# client, sender and recipient rules
Connect:127.0.0.6        REJECT
Connect:127.0.0.5        RELAY
Connect:127.0.0.8        DISCARD
From:spam@bad.test       REJECT
From:friend.test         RELAY
To:old@example.test      ERROR:5.1.1:550 This person left
To:relayed.test          RELAY
To:sink@example.test     DISCARD
`,
	"aliases": `staff: alice, bob
sink:  alice
loop1: loop2
loop2: loop1
`,
	"virtusertable": `info@example.test   alice
@virt.test          %1@example.test
gone@example.test   error:nouser Gone away
`,
	"local-host-names": "virt.test\n",
}

func TestRouteMapsAtRcpt(t *testing.T) {
	dir := mapsDir(t, routeMaps)
	s := newServer(t, serverConfig{MapsDir: dir})
	s.addUser("alice@example.test", "pw")
	s.addUser("bob@example.test", "pw")
	s.start()

	// Connect: REJECT is answered at connect.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.6")}, Timeout: 5 * time.Second}
	nc, err := d.Dial("tcp", s.MTA)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, _ := bufio.NewReader(nc).ReadString('\n')
	nc.Close()
	if !strings.HasPrefix(line, "554 ") {
		t.Errorf("client refused by Connect: REJECT got %q", line)
	}

	c := dialFrom(t, "127.0.0.2", s.MTA)
	c.must("EHLO client.test", 250)
	c.must("MAIL FROM:<spam@bad.test>", 550)
	c.must("MAIL FROM:<a@friend.test>", 250)
	// From: RELAY is not honoured without allow_sender_relay.
	c.must("RCPT TO:<x@elsewhere.test>", 550)
	if text := c.must("RCPT TO:<old@example.test>", 550); !strings.Contains(text, "This person left") {
		t.Errorf("To: ERROR reply %q", text)
	}
	if text := c.must("RCPT TO:<gone@example.test>", 550); !strings.Contains(text, "5.1.1 Gone away") {
		t.Errorf("virtusertable error reply %q", text)
	}
	c.must("RCPT TO:<nobody@example.test>", 550)
	c.must("RCPT TO:<x@relayed.test>", 250)
	c.must("RCPT TO:<staff@example.test>", 250)
	c.must("RCPT TO:<info@example.test>", 250)
	c.must("RCPT TO:<Bob@virt.test>", 250)
	c.must("RCPT TO:<loop1@example.test>", 250)
	c.must("DATA", 354)
	c.must("From: a@friend.test\r\nSubject: maps\r\n\r\nhello\r\n.", 250)

	alice := s.waitMaildir("alice@example.test", 1, 10*time.Second)
	bob := s.waitMaildir("bob@example.test", 1, 10*time.Second)
	if len(alice) != 1 || len(bob) != 1 {
		t.Fatalf("alice has %d, bob %d messages; want 1 each (duplicates delivered once)", len(alice), len(bob))
	}
	// The virtusertable rewrote the recipient at RCPT; the alias was
	// expanded at delivery.
	if !strings.Contains(bob[0], "Delivered-To: bob@example.test") {
		t.Errorf("bob's copy:\n%s", bob[0])
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.logs(), "alias loop") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(s.logs(), "alias loop: loop1 -> loop2 -> loop1") {
		t.Errorf("alias loop not logged:\n%s", s.logs())
	}

	// Connect: RELAY lets a client relay; To:... DISCARD drops the message.
	c = dialFrom(t, "127.0.0.5", s.MTA)
	c.must("EHLO relay.test", 250)
	c.must("MAIL FROM:<a@somewhere.test>", 250)
	c.must("RCPT TO:<x@elsewhere.test>", 250)
	c.must("RCPT TO:<sink@example.test>", 250)
	c.must("DATA", 354)
	c.must("From: a@somewhere.test\r\nSubject: dropped\r\n\r\nx\r\n.", 250)
	time.Sleep(300 * time.Millisecond)
	if n := len(s.maildir("alice@example.test")); n != 1 {
		t.Errorf("a discarded message was delivered: alice has %d", n)
	}
	if !strings.Contains(s.logs(), "To:sink@example.test DISCARD") {
		t.Errorf("discard rule not logged")
	}

	// Connect:... DISCARD: everything the client sends is accepted and dropped.
	c = dialFrom(t, "127.0.0.8", s.MTA)
	c.must("EHLO dropped.test", 250)
	c.must("MAIL FROM:<a@somewhere.test>", 250)
	c.must("RCPT TO:<alice@example.test>", 250)
	c.must("DATA", 354)
	c.must("From: a@somewhere.test\r\nSubject: dropped too\r\n\r\nx\r\n.", 250)
	waitFor(t, func() bool { return strings.Contains(s.logs(), "Connect:127.0.0.8 DISCARD") })
	if n := len(s.maildir("alice@example.test")); n != 1 {
		t.Errorf("a discarded client's message was delivered: alice has %d", n)
	}

	out, err := s.postern("", "explain", "-client", "127.0.0.2", "-from", "a@friend.test", "-rcpt", "x@elsewhere.test", "-rcpt", "info@example.test", "-rcpt", "staff@example.test")
	for _, want := range []string{"access line 6: From:friend.test RELAY not honoured: allow_sender_relay is false",
		"virtusertable line 1: info@example.test alice", "alias staff (aliases line 1)", "local bob (aliases line 1)"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q:\n%s (%v)", want, out, err)
		}
	}
	out, _ = s.postern("", "explain", "-client", "127.0.0.6", "-rcpt", "alice@example.test")
	if !strings.Contains(out, "554 5.7.1") && !strings.Contains(out, "550 5.7.1") || !strings.Contains(out, "Connect:127.0.0.6 REJECT") {
		t.Errorf("explain for a rejected client:\n%s", out)
	}
}

func TestRouteLuserRelayAndMasquerade(t *testing.T) {
	dir := mapsDir(t, map[string]string{"genericstable": "root   admin\n"})
	s := newServer(t, serverConfig{MapsDir: dir, Extra: "luser_relay = \"alice\"\nmasquerade_as = \"example.test\"\n"})
	s.addUser("alice@example.test", "pw")
	s.start()
	c := dialFrom(t, "127.0.0.2", s.MTA)
	c.must("EHLO client.test", 250)
	c.must("MAIL FROM:<x@else.test>", 250)
	c.must("RCPT TO:<nobody@example.test>", 250)
	c.must("DATA", 354)
	c.must("From: x@else.test\r\nSubject: lost\r\n\r\nx\r\n.", 250)
	if m := s.waitMaildir("alice@example.test", 1, 10*time.Second); len(m) != 1 || !strings.Contains(m[0], "Subject: lost") {
		t.Fatalf("luser_relay: alice has %d messages", len(m))
	}
	// A trusted client's sender is masqueraded (envelope and header);
	// a genericstable entry wins.
	c = dialFrom(t, "127.0.0.1", s.MTA)
	c.must("EHLO localhost", 250)
	c.must("MAIL FROM:<carol@mx.example.test>", 250)
	c.must("RCPT TO:<alice@example.test>", 250)
	c.must("DATA", 354)
	c.must("From: Carol <carol@mx.example.test>\r\nSender: root@mx.example.test\r\nSubject: masq\r\n\r\nx\r\n.", 250)
	m := s.waitMaildir("alice@example.test", 2, 10*time.Second)
	var got string
	for _, msg := range m {
		if strings.Contains(msg, "Subject: masq") {
			got = msg
		}
	}
	for _, want := range []string{"Return-Path: <carol@example.test>", "From: Carol <carol@example.test>", "Sender: admin@example.test"} {
		if !strings.Contains(got, want) {
			t.Errorf("masqueraded message lacks %q:\n%s", want, got)
		}
	}
}

// A map changed while a client is connected takes effect on that very
// connection; a broken version keeps the previous one in force.
func TestRouteMapsReload(t *testing.T) {
	dir := mapsDir(t, map[string]string{"virtusertable": "info@example.test alice\n"})
	s := newServer(t, serverConfig{MapsDir: dir})
	s.addUser("alice@example.test", "pw")
	s.start()
	c := dialFrom(t, "127.0.0.2", s.MTA)
	c.must("EHLO client.test", 250)
	c.must("MAIL FROM:<x@else.test>", 250)
	c.must("RCPT TO:<sales@example.test>", 550)

	writeMap(t, dir, "virtusertable", "info@example.test alice\nsales@example.test alice\n")
	s.process().Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return probeRcpt(t, s, "sales@example.test") == 250 })
	c.must("RCPT TO:<sales@example.test>", 250)

	// By file change alone (no signal).
	writeMap(t, dir, "virtusertable", "info@example.test alice\nsales@example.test alice\nnews@example.test alice\n")
	waitFor(t, func() bool { return probeRcpt(t, s, "news@example.test") == 250 })
	c.must("RCPT TO:<news@example.test>", 250)

	// A broken version: logged, shown by check, the previous one stays.
	writeMap(t, dir, "virtusertable", "info@example.test alice\nthis line is broken\n")
	s.process().Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return strings.Contains(s.logs(), "previous version kept") })
	c.must("RCPT TO:<sales@example.test>", 250)
	c.must("RCPT TO:<news@example.test>", 250)
	out, err := s.postern("", "check")
	if err == nil || !strings.Contains(out, "virtusertable:2") {
		t.Errorf("check with a broken map: %v\n%s", err, out)
	}
	c.must("DATA", 354)
	c.must("From: x@else.test\r\nSubject: reload\r\n\r\nx\r\n.", 250)
	if m := s.waitMaildir("alice@example.test", 1, 10*time.Second); len(m) != 1 {
		t.Errorf("alice has %d messages, want 1 (three addresses, one mailbox)", len(m))
	}
}

// probeRcpt asks, on a connection of its own, what RCPT TO:<rcpt> gets.
func probeRcpt(t *testing.T, s *server, rcpt string) int {
	c := dialFrom(t, "127.0.0.3", s.MTA)
	defer c.nc.Close()
	c.must("EHLO probe.test", 250)
	c.must("MAIL FROM:<x@else.test>", 250)
	code, _ := c.cmd("RCPT TO:<" + rcpt + ">")
	c.cmd("QUIT")
	return code
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 15s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// An access-map OK entry (client or recipient) accepts even where a
// reputation check (here greylisting) would refuse.
func TestRouteAccessOKOverridesChecks(t *testing.T) {
	dir := mapsDir(t, map[string]string{
		"access":  "To:abuse@example.test OK\nConnect:127.0.0.7 OK\n",
		"aliases": "abuse: alice\n",
	})
	s := newServer(t, serverConfig{MapsDir: dir, Extra: "\n[checks.greylist]\nenabled = true\n"})
	s.addUser("alice@example.test", "pw")
	s.start()
	c := dialFrom(t, "127.0.0.2", s.MTA)
	c.must("EHLO client.test", 250)
	c.must("MAIL FROM:<x@else.test>", 250)
	c.must("RCPT TO:<alice@example.test>", 451)
	c.must("RCPT TO:<abuse@example.test>", 250)
	c = dialFrom(t, "127.0.0.7", s.MTA)
	c.must("EHLO friend.test", 250)
	c.must("MAIL FROM:<x@else.test>", 250)
	c.must("RCPT TO:<alice@example.test>", 250)
	if !strings.Contains(s.logs(), "refusal overridden") {
		t.Errorf("override not logged")
	}
}

// An alias naming a remote address forwards one new message through the
// queue, with the original sender and a Delivered-To field; a message
// that already went through the alias is not forwarded again.
func TestRouteAliasForward(t *testing.T) {
	sk := startSink(t)
	dir := mapsDir(t, map[string]string{
		"aliases":     "staff: alice, dave@remote.example\n",
		"mailertable": fmt.Sprintf("remote.example smtp:[127.0.0.1]:%d\n", sk.Port),
	})
	s := newServer(t, serverConfig{MapsDir: dir})
	s.addUser("alice@example.test", "pw")
	s.start()
	send := func(content string) {
		c := dialFrom(t, "127.0.0.2", s.MTA)
		c.must("EHLO client.test", 250)
		c.must("MAIL FROM:<sender@origin.test>", 250)
		c.must("RCPT TO:<staff@example.test>", 250)
		c.must("DATA", 354)
		c.must(content+".", 250)
	}
	send("From: sender@origin.test\r\nSubject: fwd\r\n\r\nhello\r\n")
	got := sk.wait(t, 1, 20*time.Second)
	if len(got) != 1 {
		t.Fatalf("sink got %d messages\n%s", len(got), s.logs())
	}
	for _, want := range []string{"sender@origin.test", "dave@remote.example", "Delivered-To: staff@example.test", "Subject: fwd"} {
		if !strings.Contains(got[0], want) {
			t.Errorf("forwarded copy lacks %q:\n%s", want, got[0])
		}
	}
	if m := s.waitMaildir("alice@example.test", 1, 10*time.Second); len(m) != 1 {
		t.Errorf("alice has %d messages", len(m))
	}
	// The copy came back: a loop, bounced rather than forwarded again.
	send("Delivered-To: staff@example.test\r\nFrom: sender@origin.test\r\nSubject: loop\r\n\r\nhello\r\n")
	waitFor(t, func() bool { return strings.Contains(s.logs(), "mail forwarding loop detected") })
	if got := sk.wait(t, 2, 2*time.Second); len(got) != 1 {
		t.Errorf("looping message forwarded: sink has %d", len(got))
	}
}

// From:... RELAY is honoured only with allow_sender_relay = true, and
// postern check warns about it either way.
func TestRouteSenderRelay(t *testing.T) {
	sk := startSink(t)
	dir := mapsDir(t, map[string]string{
		"access":      "From:friend.test RELAY\n",
		"mailertable": fmt.Sprintf("remote.example smtp:[127.0.0.1]:%d\n", sk.Port),
	})
	s := newServer(t, serverConfig{MapsDir: dir})
	out, err := s.postern("", "check")
	if err != nil || !strings.Contains(out, "access:1: warning: From:friend.test RELAY relays on a forgeable sender") {
		t.Errorf("check without allow_sender_relay: %v\n%s", err, out)
	}
	// allow_sender_relay is a top-level key: put it before the first table.
	cfg, _ := os.ReadFile(s.cfgPath)
	os.WriteFile(s.cfgPath, append([]byte("allow_sender_relay = true\n"), cfg...), 0o600)
	out, err = s.postern("", "check")
	if err != nil || !strings.Contains(out, "access:1: warning: From:friend.test RELAY") || !strings.Contains(out, "allow_sender_relay: access-map From:... RELAY entries let anyone") {
		t.Errorf("check with allow_sender_relay: %v\n%s", err, out)
	}
	s.start()
	c := dialFrom(t, "127.0.0.2", s.MTA)
	c.must("EHLO client.test", 250)
	c.must("MAIL FROM:<someone@other.test>", 250)
	c.must("RCPT TO:<x@remote.example>", 550)
	c.must("RSET", 250)
	c.must("MAIL FROM:<a@mail.friend.test>", 250)
	c.must("RCPT TO:<x@remote.example>", 250)
	c.must("DATA", 354)
	c.must("From: a@mail.friend.test\r\nSubject: sender relay\r\n\r\nx\r\n.", 250)
	if got := sk.wait(t, 1, 20*time.Second); len(got) != 1 {
		t.Errorf("relayed message not delivered: %d\n%s", len(got), s.logs())
	}
}
