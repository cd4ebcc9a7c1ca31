package test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/testenv"
	"postern/internal/testpeer"
	"postern/internal/tlsutil"
)

// sink is Postfix's smtp-sink on a loopback port, each message dumped to
// a file under dir.
type sink struct {
	dir  string
	Port int
	Addr string
}

func startSink(t *testing.T, args ...string) *sink {
	t.Helper()
	bin := testenv.LookPath(t, "smtp-sink")
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o777)
	s := &sink{dir: dir, Addr: freePort(t)}
	s.Port, _ = strconv.Atoi(portOf(s.Addr))
	all := append([]string{"-d", filepath.Join(dir, "%M.")}, args...)
	if os.Geteuid() == 0 {
		all = append(all, "-u", "nobody")
	}
	testpeer.StartProgram(t, "smtp-sink", exec.Command(bin, append(all, s.Addr, "64")...), nil, s.Addr)
	return s
}

// wait returns the dumped messages once there are at least n.
func (s *sink) wait(t *testing.T, n int, within time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(within)
	read := func() []string {
		var msgs []string
		ents, _ := os.ReadDir(s.dir)
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(s.dir, e.Name()))
			if err == nil {
				msgs = append(msgs, string(b))
			}
		}
		return msgs
	}
	for {
		if msgs := read(); len(msgs) >= n || time.Now().After(deadline) {
			// smtp-sink writes a dump as the message arrives: give the
			// last one time to be complete.
			time.Sleep(300 * time.Millisecond)
			return read()
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wireMX is a minimal SMTP server that keeps the DATA content exactly as
// it came over the wire. With breakTLS it offers STARTTLS and answers the
// handshake with garbage.
type wireMX struct {
	*testpeer.TCPPeer
	breakTLS bool
	// rcpt, when set, answers RCPT TO (for refusals); "" means 250.
	rcpt func(cmd string) string
	mu   sync.Mutex
	data []string
}

func startWireMX(t *testing.T, breakTLS bool) *wireMX {
	t.Helper()
	m := &wireMX{breakTLS: breakTLS}
	m.TCPPeer = testpeer.ServeTCP(t, m.session)
	return m
}

func (m *wireMX) session(c net.Conn) {
	br := bufio.NewReader(c)
	w := func(s string) { c.Write([]byte(s + "\r\n")) }
	w("220 wire.example ESMTP")
	rcpts := 0 // recipients accepted in this transaction
	for {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimRight(line, "\r\n"))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			if m.breakTLS {
				w("250-wire.example\r\n250-STARTTLS\r\n250 PIPELINING")
			} else {
				w("250-wire.example\r\n250 PIPELINING")
			}
		case cmd == "STARTTLS":
			w("220 go ahead")
			w("garbage instead of a TLS server hello")
			return
		case cmd == "DATA" && rcpts == 0:
			// As a real MTA does (RFC 2920 3.1): no DATA without a
			// recipient, whatever a pipelining client sent before.
			w("554 5.5.1 no valid recipients")
		case cmd == "DATA":
			rcpts = 0
			w("354 go")
			raw, err := testpeer.ReadData(br)
			if err != nil {
				return
			}
			m.mu.Lock()
			m.data = append(m.data, raw)
			m.mu.Unlock()
			w("250 2.0.0 queued")
		case cmd == "QUIT":
			w("221 bye")
			return
		case strings.HasPrefix(cmd, "MAIL"), cmd == "RSET":
			rcpts = 0
			w("250 ok")
		case strings.HasPrefix(cmd, "RCPT") && m.rcpt != nil:
			if r := m.rcpt(cmd); r != "" {
				w(r)
			} else {
				rcpts++
				w("250 ok")
			}
		case strings.HasPrefix(cmd, "RCPT"):
			rcpts++
			w("250 ok")
		default:
			w("250 ok")
		}
	}
}

// deferOnce answers a wireMX's RCPT TO: it defers (451) the first that
// names marker, and accepts the rest.
type deferOnce struct {
	marker string
	mu     sync.Mutex
	n      int // RCPT TO naming marker so far
}

func (d *deferOnce) rcpt(cmd string) string {
	if !strings.Contains(cmd, d.marker) {
		return ""
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n++
	if d.n == 1 {
		return "451 4.7.1 greylisted, try again"
	}
	return ""
}

// tries is how many times the recipient was tried.
func (d *deferOnce) tries() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

func (m *wireMX) wait(n int, within time.Duration) []string {
	deadline := time.Now().Add(within)
	for {
		m.mu.Lock()
		d := append([]string(nil), m.data...)
		m.mu.Unlock()
		if len(d) >= n || time.Now().After(deadline) {
			return d
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// relayConfig is the [delivery] and [dns] text for a test server.
func relayConfig(dnsAddr string, port int, more string) string {
	return fmt.Sprintf("remote_port = %d\nconnection_idle = \"1s\"\n%s\n[dns]\nservers = [%q]\ntimeout = \"2s\"\n", port, more, dnsAddr)
}

// relayOne sends one message from a trusted client through postern.
func relayOne(t *testing.T, s *server, from, to, content string) {
	t.Helper()
	c := dialFrom(t, "127.0.0.1", s.MTA)
	c.must("EHLO client.test", 250)
	c.must("MAIL FROM:<"+from+">", 250)
	for _, r := range strings.Split(to, ",") {
		c.must("RCPT TO:<"+r+">", 250)
	}
	c.must("DATA", 354)
	c.send(content + ".\r\n")
	if code, text := c.reply(); code != 250 {
		t.Fatalf("DATA: %s", text)
	}
	c.must("QUIT", 221)
}

func TestRelayThroughMXToSmtpSink(t *testing.T) {
	sk := startSink(t)
	dns := dnstest.Start(t, dnstest.Zone{
		"remote.example. MX":    {"10 mx1.remote.example.", "20 mx2.remote.example."},
		"mx1.remote.example. A": {"127.0.0.3"}, // nothing listens: the next MX
		"mx2.remote.example. A": {"127.0.0.1"},
		"nullmx.example. MX":    {"0 ."},
	})
	s := newServer(t, serverConfig{Extra: relayConfig(dns.Addr, sk.Port, "")})
	s.start()
	for i := 0; i < 3; i++ {
		relayOne(t, s, "alice@example.test", "bob@remote.example,carol@remote.example",
			fmt.Sprintf("From: alice@example.test\r\nSubject: relay %d\r\n\r\nhello\r\n", i))
	}
	msgs := sk.wait(t, 3, 20*time.Second)
	if len(msgs) != 3 {
		t.Fatalf("smtp-sink got %d messages, want 3\n%s", len(msgs), s.logs())
	}
	for _, m := range msgs {
		if !strings.Contains(m, "bob@remote.example") || !strings.Contains(m, "carol@remote.example") {
			t.Errorf("dump lacks a recipient:\n%s", m)
		}
	}
	if !strings.Contains(s.logs(), "relay=mx2.remote.example") {
		t.Errorf("no delivery line naming the relay in the log:\n%s", s.logs())
	}
}

// The outbound side of smuggling: whatever the stored message holds,
// lines go out with CR LF only and leading dots doubled.
func TestRelayOutboundDotStuffing(t *testing.T) {
	mx := startWireMX(t, false)
	dns := dnstest.Start(t, dnstest.Zone{"remote.example. A": {"127.0.0.1"}})
	s := newServer(t, serverConfig{Extra: relayConfig(dns.Addr, mx.Port, "")})
	s.start()
	// The client dot-stuffs: the stored lines are ".", ".hidden", "..".
	relayOne(t, s, "alice@example.test", "bob@remote.example",
		"Subject: dots\r\n\r\n..\r\n..hidden\r\n...\r\nMAIL FROM:<x@y>\r\n")
	got := mx.wait(1, 20*time.Second)
	if len(got) != 1 {
		t.Fatalf("wire MX got %d messages\n%s", len(got), s.logs())
	}
	w := got[0]
	if !strings.HasSuffix(w, "\r\n..\r\n..hidden\r\n...\r\nMAIL FROM:<x@y>\r\n") {
		t.Errorf("content on the wire not dot-stuffed as expected:\n%q", w)
	}
	bare := strings.ReplaceAll(w, "\r\n", "")
	if strings.ContainsAny(bare, "\r\n") {
		t.Errorf("bare CR or LF on the wire: %q", w)
	}
}

func TestRelayTLSFallbackToPlaintext(t *testing.T) {
	mx := startWireMX(t, true)
	dns := dnstest.Start(t, dnstest.Zone{"remote.example. A": {"127.0.0.1"}, "strict.example. A": {"127.0.0.1"}})
	s := newServer(t, serverConfig{Extra: relayConfig(dns.Addr, mx.Port,
		"[[delivery.tls_destination]]\ndestination = \"strict.example\"\npolicy = \"required\"\n")})
	s.start()
	relayOne(t, s, "alice@example.test", "bob@remote.example", "Subject: tls\r\n\r\nhi\r\n")
	if got := mx.wait(1, 20*time.Second); len(got) != 1 {
		t.Fatalf("not delivered in plaintext after the TLS failure\n%s", s.logs())
	}
	if !strings.Contains(s.logs(), "retrying without TLS") {
		t.Errorf("fallback not logged:\n%s", s.logs())
	}
	// required: deferred, never sent in plaintext.
	relayOne(t, s, "alice@example.test", "bob@strict.example", "Subject: strict\r\n\r\nhi\r\n")
	time.Sleep(2 * time.Second)
	if got := mx.wait(2, time.Second); len(got) != 1 {
		t.Errorf("policy required: message sent in plaintext")
	}
	if !strings.Contains(s.logs(), "4.7.5") {
		t.Errorf("no TLS-required deferral in the log:\n%s", s.logs())
	}
}

func TestRelaySmarthostAndMailertable(t *testing.T) {
	smart := startSink(t)
	routed := startSink(t)
	lmtp := startSink(t, "-L")
	dir := mapsDir(t, map[string]string{
		"mailertable": fmt.Sprintf("routed.example smtp:[127.0.0.1]:%d\nlmtp.example lmtp:[127.0.0.1]:%d\n", routed.Port, lmtp.Port),
	})
	dns := dnstest.Start(t, dnstest.Zone{})
	s := newServer(t, serverConfig{MapsDir: dir, Extra: fmt.Sprintf("smarthost = \"[127.0.0.1]:%d\"\n", smart.Port) + relayConfig(dns.Addr, 25, "")})
	s.start()
	relayOne(t, s, "alice@example.test", "a@anywhere.example", "Subject: smart\r\n\r\nhi\r\n")
	relayOne(t, s, "alice@example.test", "b@routed.example", "Subject: routed\r\n\r\nhi\r\n")
	relayOne(t, s, "alice@example.test", "c@lmtp.example", "Subject: lmtp\r\n\r\nhi\r\n")
	for name, sk := range map[string]*sink{"smarthost": smart, "mailertable smtp": routed, "mailertable lmtp": lmtp} {
		if got := sk.wait(t, 1, 20*time.Second); len(got) != 1 {
			t.Errorf("%s: %d messages\n%s", name, len(got), s.logs())
		}
	}
	if got := lmtp.wait(t, 1, time.Second); len(got) == 1 && !strings.Contains(got[0], "c@lmtp.example") {
		t.Errorf("lmtp dump: %s", got[0])
	}
}

// Postfix as the remote MX, with STARTTLS: postern delivers to it over
// TLS and logs the certificate; Postfix passes the message on to a sink.
func TestRelayToPostfixMX(t *testing.T) {
	sk := startSink(t)
	tlsDir := t.TempDir()
	os.Chmod(tlsDir, 0o755)
	if _, err := tlsutil.Load("", "", tlsDir, "mx.partner.example"); err != nil {
		t.Fatal(err)
	}
	cert, key := tlsutil.SelfSignedPaths(tlsDir)
	os.Chmod(key, 0o644)
	pf := testpeer.StartPostfix(t, map[string]string{
		"myhostname":                   "mx.partner.example",
		"relay_domains":                "partner.example",
		"transport_maps":               fmt.Sprintf("inline:{partner.example=smtp:[127.0.0.1]:%d}", sk.Port),
		"smtpd_tls_security_level":     "may",
		"smtpd_tls_cert_file":          cert,
		"smtpd_tls_key_file":           key,
		"smtpd_recipient_restrictions": "permit_mynetworks, reject",
	})
	pfPort, _ := strconv.Atoi(portOf(pf.SMTP))
	dns := dnstest.Start(t, dnstest.Zone{
		"partner.example. MX":   {"10 mx.partner.example."},
		"mx.partner.example. A": {"127.0.0.1"},
	})
	s := newServer(t, serverConfig{Extra: relayConfig(dns.Addr, pfPort, "")})
	s.start()
	relayOne(t, s, "alice@example.test", "bob@partner.example", "Subject: to postfix\r\n\r\n.dotted\r\nhi\r\n")
	got := sk.wait(t, 1, 30*time.Second)
	if len(got) != 1 {
		t.Fatalf("sink behind Postfix got %d messages\npostern:\n%s\npostfix:\n%s", len(got), s.logs(), pf.Log())
	}
	logs := s.logs()
	if !strings.Contains(logs, "tls to next hop") || !strings.Contains(logs, "mx.partner.example") {
		t.Errorf("no TLS details for the Postfix hop in the log:\n%s", logs)
	}
	// The session ends when the cached connection idles out.
	for i := 0; i < 100 && !strings.Contains(pf.Log(), "starttls=1"); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(pf.Log(), "starttls=1") {
		t.Errorf("Postfix did not see TLS:\n%s", pf.Log())
	}
}

// A next hop's refusals reach the queue per recipient: 5xx fails the
// recipient for good, 4xx defers it, the others are delivered.
func TestRelayPerRecipientReplies(t *testing.T) {
	mx := startWireMX(t, false)
	mx.rcpt = func(cmd string) string {
		switch {
		case strings.Contains(cmd, "<PERM@"):
			return "550 5.1.1 no such user here"
		case strings.Contains(cmd, "<TEMP@"):
			return "452 4.2.2 mailbox full"
		}
		return ""
	}
	dns := dnstest.Start(t, dnstest.Zone{"remote.example. MX": {"10 mx.remote.example."}, "mx.remote.example. A": {"127.0.0.1"}})
	s := newServer(t, serverConfig{Extra: relayConfig(dns.Addr, mx.Port, "")})
	s.start()
	relayOne(t, s, "alice@example.test", "ok@remote.example,perm@remote.example,temp@remote.example", "Subject: mixed\r\n\r\nhi\r\n")
	if got := mx.wait(1, 20*time.Second); len(got) != 1 {
		t.Fatalf("accepted recipient not delivered\n%s", s.logs())
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !(strings.Contains(s.logs(), "delivery deferred") && strings.Contains(s.logs(), "delivery failed")) {
		time.Sleep(50 * time.Millisecond)
	}
	logs := s.logs()
	for _, want := range []string{"delivered id=", "rcpt=ok@remote.example",
		"delivery failed", "rcpt=perm@remote.example", "550 5.1.1 no such user here",
		"delivery deferred", "rcpt=temp@remote.example", "452 4.2.2 mailbox full"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}
