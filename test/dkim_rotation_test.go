package test

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"postern/internal/dkim"
	"postern/internal/dnstest"
)

// A new DKIM selector past its time gate signs only once its record is
// in DNS: until then the old one signs and `postern dkim status` says it
// waits for DNS; once the record is published the server finds it within
// dns_check_interval and mail is signed with the new one. `postern dkim
// activate -force` lets another domain's new selector sign without it.
func TestDKIMRotationDNSGate(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{})
	s := newServer(t, serverConfig{Local: []string{"example.org", "example.net"},
		Extra: dnsExtra(srv) + "[dkim]\ndns_check_interval = \"1s\"\n"})
	s.addUser("alice@example.org", "pw")
	s.addUser("bob@example.org", "pw")
	s.addUser("carol@example.net", "pw")
	recs := map[string]string{}
	for _, k := range []struct{ domain, sel string }{{"example.org", "old"}, {"example.org", "new"}, {"example.net", "old2"}, {"example.net", "new2"}} {
		if out, err := s.postern("", "dkim", "keygen", "-domain", k.domain, "-selector", k.sel, "-algo", "ed25519"); err != nil {
			t.Fatalf("keygen: %v\n%s", err, out)
		}
		key, err := dkim.LoadKey(filepath.Join(s.dir, "data", "dkim", k.domain, k.sel+".key"))
		if err != nil {
			t.Fatal(err)
		}
		if recs[k.sel], err = dkim.PublicRecord(key); err != nil {
			t.Fatal(err)
		}
	}
	// Both selectors of each domain past their time gate: the old ones
	// since yesterday, the new ones since an hour.
	now := time.Now().UTC().Truncate(time.Second)
	for domain, sels := range map[string][2]string{"example.org": {"old", "new"}, "example.net": {"old2", "new2"}} {
		var b strings.Builder
		for i, sel := range sels {
			fmt.Fprintf(&b, "[[selector]]\nname = %q\nalgo = \"ed25519\"\ncreated = %s\nactivate = %s\n\n", sel,
				now.Add(-48*time.Hour).Format(time.RFC3339), now.Add(time.Duration(i-1)*24*time.Hour-time.Hour).Format(time.RFC3339))
		}
		if err := os.WriteFile(filepath.Join(s.dir, "data", "dkim", domain, dkim.ScheduleFile), []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	zone := dnstest.Zone{"old._domainkey.example.org. TXT": {recs["old"]}, "old2._domainkey.example.net. TXT": {recs["old2"]},
		// "Not found" is kept for the SOA's negative TTL (RFC 2308), here
		// a second, so that the server sees the new record soon.
		"example.org. SOA": {"ns.example.org. hostmaster.example.org. 1 60 60 60 1"}, "example.org. TTL": {"1"}}
	if err := srv.Set(zone); err != nil {
		t.Fatal(err)
	}
	out, err := s.postern("", "dkim", "activate", "-force", "-domain", "example.net", "-selector", "new2")
	if err != nil || !strings.Contains(out, "selector new2: forced, signing since") {
		t.Fatalf("activate -force: %v\n%s", err, out)
	}
	s.start()
	// Mail waits (451) until the server has looked up the new selector.
	waitLog(t, s, "dkim selector waits for its DNS record")

	status := func(want ...string) {
		t.Helper()
		out, _ := s.postern("", "dkim", "status") // exits 1: new2 signs without its record
		for _, w := range want {
			if !regexp.MustCompile(w).MatchString(out) {
				t.Errorf("dkim status lacks %q:\n%s", w, out)
			}
		}
	}
	status(`new +ed25519 +pending +waiting for its DNS record \(not published: new._domainkey.example.org\)`,
		`old +ed25519 +active +signing since`, `new2 +ed25519 +active +forced, signing since`, `old2 +ed25519 +retired`)
	signedWith(t, s, "alice@example.org", "old", 1)
	signedWith(t, s, "carol@example.net", "new2", 2)
	time.Sleep(2500 * time.Millisecond) // two checks of the missing record
	signedWith(t, s, "alice@example.org", "old", 3)

	zone["new._domainkey.example.org. TXT"] = []string{recs["new"]}
	if err := srv.Set(zone); err != nil {
		t.Fatal(err)
	}
	waitLog(t, s, "dkim record published")
	signedWith(t, s, "alice@example.org", "new", 4)
	status(`new +ed25519 +active +signing since`, `old +ed25519 +retired`)
	logs := s.logs()
	if !regexp.MustCompile(`dkim selector signs.*selector=new .*why=published.*replaces=old`).MatchString(logs) {
		t.Errorf("the takeover is not logged:\n%s", logs)
	}
}

// signedWith submits a message from the logged-in user from to
// bob@example.org and checks that the n-th message delivered carries
// one DKIM signature, made with selector.
func signedWith(t *testing.T, s *server, from, selector string, n int) {
	t.Helper()
	c := dialFrom(t, "127.0.0.2", s.Sub)
	c.must("EHLO client.test", 250)
	c.must("STARTTLS", 220)
	tc := tls.Client(c.nc, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.nc, c.r = tc, bufio.NewReader(tc)
	c.must("EHLO client.test", 250)
	c.must("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00"+from+"\x00pw")), 235)
	subject := fmt.Sprintf("rotation-%d", n)
	msg := strings.Replace(testMessage(from, subject), "To: alice@example.test", "To: bob@example.org", 1)
	if code, text := c.sendMail(from, "bob@example.org", msg); code != 250 {
		t.Fatalf("submission: %s", text)
	}
	c.must("QUIT", 221)
	got := s.waitMaildir("bob@example.org", n, 10*time.Second)
	for _, m := range got {
		if !strings.Contains(m, "Subject: "+subject) {
			continue
		}
		h := headerOf(m)
		if strings.Count(h, "DKIM-Signature:") != 1 || !strings.Contains(h, " s="+selector+";") {
			t.Fatalf("message %d: want one signature with s=%s:\n%s", n, selector, h)
		}
		return
	}
	t.Fatalf("message %d not delivered: %d messages", n, len(got))
}

// waitLog waits up to 10 seconds for text in the server's log.
func waitLog(t *testing.T, s *server, text string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(s.logs(), text); {
		if time.Now().After(deadline) {
			t.Fatalf("the log lacks %q:\n%s", text, s.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
