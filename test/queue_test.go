package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/dnstest"
)

// dsnReport is a delivery status notification read back with the
// standard library, its RFC 3464 structure checked on the way.
type dsnReport struct {
	header  mail.Header
	perMsg  textproto.MIMEHeader
	rcpts   []textproto.MIMEHeader
	retType string
	ret     string
}

func parseDSNMessage(t *testing.T, raw string) dsnReport {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("notice is not a message: %v\n%s", err, raw)
	}
	r := dsnReport{header: m.Header}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("notice Content-Type %q\n%s", m.Header.Get("Content-Type"), raw)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var types []string
	for i := 0; ; i++ {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("notice part %d: %v", i, err)
		}
		body, _ := io.ReadAll(p)
		types = append(types, p.Header.Get("Content-Type"))
		switch i {
		case 1:
			tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(body, '\r', '\n'))))
			r.perMsg, _ = tr.ReadMIMEHeader()
			for {
				h, err := tr.ReadMIMEHeader()
				if len(h) > 0 {
					r.rcpts = append(r.rcpts, h)
				}
				if err != nil {
					break
				}
			}
		case 2:
			r.retType, r.ret = p.Header.Get("Content-Type"), string(body)
		}
	}
	if len(types) != 3 || !strings.HasPrefix(types[0], "text/plain") || types[1] != "message/delivery-status" {
		t.Fatalf("notice parts %v", types)
	}
	// RFC 3464 2.2.2 and 2.3: required fields.
	if !strings.HasPrefix(r.perMsg.Get("Reporting-MTA"), "dns; ") || r.perMsg.Get("Arrival-Date") == "" {
		t.Errorf("per-message fields %v", r.perMsg)
	}
	for _, b := range r.rcpts {
		if b.Get("Final-Recipient") == "" || b.Get("Action") == "" || b.Get("Status") == "" {
			t.Errorf("recipient block lacks a required field: %v", b)
		}
	}
	return r
}

// A next hop that answers 451 then 250 for one recipient and 550 for
// another: the first is retried and delivered, the second bounces to the
// local sender's Maildir as an RFC 3464 report with the DSN parameters
// the client gave.
func TestQueueRetryAndBounce(t *testing.T) {
	mx := startWireMX(t, false)
	later := &deferOnce{marker: "<LATER@"}
	mx.rcpt = func(cmd string) string {
		if strings.Contains(cmd, "<NOBODY@") {
			return "550 5.1.1 no such user here"
		}
		return later.rcpt(cmd)
	}
	dns := dnstest.Start(t, dnstest.Zone{"remote.example. MX": {"10 mx.remote.example."}, "mx.remote.example. A": {"127.0.0.1"}})
	s := newServer(t, serverConfig{Extra: relayConfig(dns.Addr, mx.Port, "") + "[queue]\nretry_initial = \"1s\"\nretry_max = \"2s\"\n"})
	s.addUser("alice@example.test", "pw-pw-pw-pw")
	s.start()

	c := dialFrom(t, "127.0.0.1", s.MTA)
	ehlo := c.must("EHLO client.test", 250)
	if !strings.Contains(ehlo, "DSN") {
		t.Fatalf("DSN not offered:\n%s", ehlo)
	}
	c.must("MAIL FROM:<alice@example.test> RET=HDRS ENVID=QQ314159", 250)
	c.must("RCPT TO:<later@remote.example>", 250)
	c.must("RCPT TO:<nobody@remote.example> NOTIFY=FAILURE ORCPT=rfc822;Nobody@remote.example", 250)
	c.must("DATA", 354)
	c.send("From: alice@example.test\r\nSubject: retry and bounce\r\n\r\nhello\r\n.\r\n")
	if code, text := c.reply(); code != 250 {
		t.Fatalf("DATA: %s", text)
	}
	c.must("QUIT", 221)

	got := mx.wait(1, 30*time.Second)
	if len(got) != 1 || !strings.Contains(got[0], "Subject: retry and bounce") {
		t.Fatalf("next hop got %d messages after the retry\n%s", len(got), s.logs())
	}
	if n := later.tries(); n != 2 {
		t.Errorf("deferred recipient tried %d times, want 2", n)
	}

	msgs := s.waitMaildir("alice@example.test", 1, 20*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("sender's Maildir holds %d messages, want the bounce\n%s", len(msgs), s.logs())
	}
	r := parseDSNMessage(t, msgs[0])
	if from := r.header.Get("From"); !strings.Contains(from, "MAILER-DAEMON@mx.example.test") {
		t.Errorf("bounce From %q", from)
	}
	if rp := r.header.Get("Return-Path"); rp != "" && rp != "<>" {
		t.Errorf("bounce Return-Path %q, want the null sender", rp)
	}
	if r.perMsg.Get("Reporting-MTA") != "dns; mx.example.test" || r.perMsg.Get("Original-Envelope-Id") != "QQ314159" {
		t.Errorf("per-message fields %v", r.perMsg)
	}
	if len(r.rcpts) != 1 {
		t.Fatalf("recipient blocks %v", r.rcpts)
	}
	b := r.rcpts[0]
	want := map[string]string{
		"Final-Recipient":    "rfc822; nobody@remote.example",
		"Original-Recipient": "rfc822; Nobody@remote.example",
		"Action":             "failed",
		"Status":             "5.1.1",
		"Diagnostic-Code":    "smtp; 550 5.1.1 no such user here",
	}
	for k, v := range want {
		if b.Get(k) != v {
			t.Errorf("%s: %q, want %q", k, b.Get(k), v)
		}
	}
	if r.retType != "text/rfc822-headers" || !strings.Contains(r.ret, "Subject: retry and bounce") || strings.Contains(r.ret, "hello") {
		t.Errorf("RET=HDRS returned %q: %q", r.retType, r.ret)
	}
}

// queueJSON runs postern queue list -json.
func queueJSON(t *testing.T, s *server) []map[string]any {
	t.Helper()
	out, err := s.postern("", "queue", "list", "-json")
	if err != nil {
		t.Fatalf("queue list: %v\n%s", err, out)
	}
	var items []map[string]any
	if err := json.Unmarshal([]byte(out), &items); err != nil {
		t.Fatalf("queue list -json: %v\n%s", err, out)
	}
	return items
}

// submitLocal sends one message through the MTA listener.
func submitLocal(t *testing.T, s *server, from, to, subject string) string {
	t.Helper()
	before := map[string]bool{}
	for _, it := range queueJSON(t, s) {
		before[it["id"].(string)] = true
	}
	relayOne(t, s, from, to, "From: "+from+"\r\nSubject: "+subject+"\r\n\r\nhello\r\n")
	for _, it := range queueJSON(t, s) {
		if id := it["id"].(string); !before[id] {
			return id
		}
	}
	t.Fatalf("message %q not in the queue", subject)
	return ""
}

// Deferred mode: mail waits for a queue run; the queue tools act on the
// running server through its control socket, and on the queue directly
// when no server runs.
func TestQueueToolsDeferred(t *testing.T) {
	s := newServer(t, serverConfig{Extra: "mode = \"deferred\"\n[queue]\nqueue_interval = \"1h\"\n"})
	s.addUser("alice@example.test", "pw-pw-pw-pw")
	s.addUser("bob@example.test", "pw-pw-pw-pw")
	s.start()
	// The listeners are bound before the rest starts: wait for the socket.
	sock := filepath.Join(s.dir, "data", "control.sock")
	for i := 0; ; i++ {
		fi, err := os.Stat(sock)
		if err == nil {
			if fi.Mode().Perm() != 0o600 {
				t.Fatalf("control socket mode %v", fi.Mode())
			}
			break
		}
		if i > 200 {
			t.Fatalf("no control socket: %v\n%s", err, s.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	one := submitLocal(t, s, "alice@example.test", "bob@example.test", "one")
	two := submitLocal(t, s, "alice@example.test", "bob@example.test", "two")
	three := submitLocal(t, s, "alice@example.test", "carol@remote.example", "three")
	four := submitLocal(t, s, "alice@example.test", "bob@example.test", "four")
	if n := len(queueJSON(t, s)); n != 4 {
		t.Fatalf("%d messages queued in deferred mode, want 4", n)
	}

	run := func(wantOK bool, args ...string) string {
		t.Helper()
		out, err := s.postern("", append([]string{"queue"}, args...)...)
		if (err == nil) != wantOK {
			t.Fatalf("queue %v: %v\n%s", args, err, out)
		}
		return out
	}
	run(true, "hold", one)
	if out := run(false, "flush", one); !strings.Contains(out, "held") {
		t.Errorf("flush of a held message: %s", out)
	}
	run(true, "remove", two)
	if out := run(false, "remove", two); !strings.Contains(out, "no such message") {
		t.Errorf("second remove: %s", out)
	}
	// Flush one message: it alone is delivered.
	run(true, "flush", four)
	if msgs := s.waitMaildir("bob@example.test", 1, 20*time.Second); len(msgs) != 1 || !strings.Contains(msgs[0], "Subject: four") {
		t.Fatalf("bob after flushing four: %d messages\n%s", len(msgs), s.logs())
	}
	// Bounce three: the notice waits for a queue run too, like all mail.
	run(true, "bounce", three)
	items := queueJSON(t, s)
	if len(items) != 2 {
		t.Fatalf("queue after remove, flush and bounce: %v", items)
	}
	// A queue run delivers everything not held: the bounce.
	if out := run(true, "flush"); !strings.Contains(out, "flushed 1 message(s)") {
		t.Errorf("flush: %s", out)
	}
	msgs := s.waitMaildir("alice@example.test", 1, 20*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("alice has %d messages, want the bounce of three\n%s", len(msgs), s.logs())
	}
	r := parseDSNMessage(t, msgs[0])
	if len(r.rcpts) != 1 || r.rcpts[0].Get("Final-Recipient") != "rfc822; carol@remote.example" || r.rcpts[0].Get("Status") != "5.0.0" ||
		r.retType != "message/rfc822" || !strings.Contains(r.ret, "Subject: three") {
		t.Errorf("bounce of three: %v %q", r.rcpts, r.retType)
	}

	// Without the server: release and flush work on the queue directly,
	// and the next server delivers the flushed message at once.
	s.stop()
	if _, err := os.Stat(filepath.Join(s.dir, "data", "control.sock")); !os.IsNotExist(err) {
		t.Errorf("control socket left behind: %v", err)
	}
	if out := run(true, "release", one); !strings.Contains(out, "no server") {
		t.Errorf("offline release: %s", out)
	}
	if out := run(true, "flush", one); !strings.Contains(out, "when postern serve starts") {
		t.Errorf("offline flush: %s", out)
	}
	s.start()
	if msgs := s.waitMaildir("bob@example.test", 2, 20*time.Second); len(msgs) != 2 {
		t.Fatalf("bob has %d messages after the restart, want one and four\n%s", len(msgs), s.logs())
	}
	if items := queueJSON(t, s); len(items) != 0 {
		t.Errorf("queue not empty: %v", items)
	}
}
