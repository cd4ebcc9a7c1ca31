package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/srs"
	"postern/internal/testenv"
	"postern/internal/testpeer"
)

// srsZone: origin.test (p=reject) and plain.test send only from
// 127.0.0.2, the test client; postern's SRS domain mx.forwarder.test
// sends from 127.0.0.1, where postern connects to the next hop from.
func srsZone() dnstest.Zone {
	return dnstest.Zone{
		"origin.test. TXT":        {"v=spf1 ip4:127.0.0.2 -all"},
		"_dmarc.origin.test. TXT": {"v=DMARC1; p=reject"},
		"plain.test. TXT":         {"v=spf1 ip4:127.0.0.2 -all"},
		"mx.forwarder.test. TXT":  {"v=spf1 ip4:127.0.0.1 -all"},
		"mx.forwarder.test. A":    {"127.0.0.1"},
	}
}

// srsSetup is postern forwarding for forwarder.test to a Postfix next
// hop (remote.test) that checks SPF with policyd-spf, the original
// senders' domains on a sink of their own.
type srsSetup struct {
	s              *server
	pf             *testpeer.Postfix
	origin, remote *sink
}

func startSRS(t *testing.T) *srsSetup {
	t.Helper()
	origin, remote := startSink(t), startSink(t)
	refusing := startSink(t, "-f", "rcpt") // 5xx to every RCPT
	dns := dnstest.Start(t, srsZone())
	pol := testpeer.StartPolicydSPF(t, dns.Addr)
	dir := mapsDir(t, map[string]string{
		"aliases":       "fwd: dave@remote.test\ngone: gone@remote.test\n",
		"virtusertable": "info@forwarder.test erin@remote.test\n",
	})
	s := newServer(t, serverConfig{Hostname: "mx.forwarder.test", Local: []string{"forwarder.test"}, MapsDir: dir,
		Extra: "connection_idle = \"1s\"\n[srs]\nexclude_domains = [\"plain.test\"]\n" + dnsExtra(dns)})
	// The next hop: mail for remote.test to its sink, except gone@,
	// which it takes and then bounces (the server after it refuses the
	// recipient); bounces to the SRS domain go to postern.
	tdir := testenv.OpenTempDir(t)
	transport := filepath.Join(tdir, "transport")
	testenv.WriteFile(t, transport, fmt.Sprintf("gone@remote.test smtp:[127.0.0.1]:%d\nremote.test smtp:[127.0.0.1]:%d\nmx.forwarder.test smtp:[127.0.0.1]:%s\n",
		refusing.Port, remote.Port, portOf(s.MTA)), 0o644)
	pf := testpeer.StartPostfix(t, map[string]string{
		"myhostname":                   "mx.remote.test",
		"transport_maps":               "texthash:" + transport,
		"smtpd_recipient_restrictions": "check_policy_service inet:" + pol.Addr + ", permit_mynetworks, reject",
	})
	writeMap(t, dir, "mailertable", fmt.Sprintf("remote.test smtp:[127.0.0.1]:%s\norigin.test smtp:[127.0.0.1]:%d\nplain.test smtp:[127.0.0.1]:%d\n",
		portOf(pf.SMTP), origin.Port, origin.Port))
	s.start()
	return &srsSetup{s: s, pf: pf, origin: origin, remote: remote}
}

// send is one message from the test client, 127.0.0.2: the only
// address origin.test's SPF allows.
func (x *srsSetup) send(t *testing.T, from, to, subject string) {
	t.Helper()
	c := dialFrom(t, "127.0.0.2", x.s.MTA)
	c.must("EHLO client.origin.test", 250)
	if code, text := c.sendMail(from, to, "From: "+from+"\nTo: "+to+"\nSubject: "+subject+"\nMessage-ID: <"+subject+"@origin.test>\n\nHello.\n"); code != 250 {
		t.Fatalf("%s: DATA: %s", subject, text)
	}
	c.must("QUIT", 221)
}

// dumpWith waits for the sink's message that contains want.
func dumpWith(t *testing.T, sk *sink, n int, want string) string {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range sk.wait(t, n, 2*time.Second) {
			if strings.Contains(m, want) {
				return m
			}
		}
	}
	return ""
}

// mailArgs is the MAIL FROM a sink dump records.
func mailArgs(dump string) string {
	for _, l := range strings.Split(dump, "\n") {
		if strings.HasPrefix(l, "X-Mail-Args:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "X-Mail-Args:"))
		}
	}
	return ""
}

// A message from a p=reject domain whose SPF allows only its own host,
// forwarded by an alias and by the virtusertable to a Postfix next hop
// that checks SPF, passes there because its envelope sender is postern's
// SRS address; a bounce from the next hop to that address comes back to
// the original sender. The same message from a sender SRS leaves alone
// (exclude_domains) fails SPF at the next hop and is refused.
func TestSRSForwardPassesSPFAndBounceComesBack(t *testing.T) {
	x := startSRS(t)
	x.send(t, "alice@origin.test", "fwd@forwarder.test", "via-alias")
	x.send(t, "carol@origin.test", "info@forwarder.test", "via-virtusertable")
	for _, tt := range []struct{ subject, sender string }{{"via-alias", "alice"}, {"via-virtusertable", "carol"}} {
		m := dumpWith(t, x.remote, 1, "Subject: "+tt.subject)
		if m == "" {
			t.Fatalf("%s: the next hop delivered nothing\npostern:\n%s\npostfix:\n%s", tt.subject, x.s.logs(), x.pf.Log())
		}
		from := mailArgs(m)
		if !strings.HasPrefix(from, "<SRS0=") || !strings.HasSuffix(from, "=origin.test="+tt.sender+"@mx.forwarder.test>") {
			t.Errorf("%s: envelope sender at the next hop %q", tt.subject, from)
		}
		if !strings.Contains(m, "Received-SPF: Pass (mailfrom) identity=mailfrom") {
			t.Errorf("%s: no SPF pass from policyd-spf:\n%s", tt.subject, m)
		}
	}
	// The bounce path: the next hop takes gone@ and bounces to the SRS
	// address; postern checks it and sends the bounce on to alice.
	x.send(t, "alice@origin.test", "gone@forwarder.test", "to-gone")
	b := dumpWith(t, x.origin, 1, "to-gone")
	if b == "" {
		t.Fatalf("no bounce reached alice\npostern:\n%s\npostfix:\n%s", x.s.logs(), x.pf.Log())
	}
	// Postfix's own bounce (not one postern made), sent to the SRS address.
	if mailArgs(b) != "<>" || !strings.Contains(b, "X-Rcpt-Args: <alice@origin.test>") || !strings.Contains(b, "gone@remote.test") ||
		!strings.Contains(b, "<MAILER-DAEMON@mx.remote.test>") || !strings.Contains(b, "To: SRS0=") {
		t.Errorf("bounce at the original sender's MX:\n%s", b)
	}
	// Control: without SRS the next hop's SPF check refuses the copy.
	x.send(t, "pat@plain.test", "fwd@forwarder.test", "no-srs")
	d := dumpWith(t, x.origin, 2, "pat@plain.test")
	if d == "" || !strings.Contains(d, "5.7.23") {
		t.Errorf("the unrewritten copy was not refused for SPF (postern's bounce to pat):\n%s\npostern:\n%s", d, x.s.logs())
	}
	if n := len(x.remote.wait(t, 3, 2*time.Second)); n != 2 {
		t.Errorf("the next hop delivered %d messages, want 2", n)
	}
}

// SRS addresses at RCPT: a valid one is taken (from any client), a
// forged or expired one is refused with 550 5.1.1 and never relays, even
// for a client that may relay. The key was made at the first start,
// 0600 and the service user's.
func TestSRSBounceAddressesAtRcpt(t *testing.T) {
	s := newServer(t, serverConfig{Hostname: "mx.forwarder.test", Local: []string{"forwarder.test"}, Zone: srsZone()})
	s.start()
	// The listeners are bound before the server builds its pieces.
	waitFor(t, func() bool { return strings.Contains(s.logs(), "postern started") })
	keys := filepath.Join(s.dir, "data", "srs", "secrets")
	fi, err := os.Stat(keys)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keys file: %v %v\n%s", fi, err, s.logs())
	}
	if u := testenv.ServiceUser(); u != "" && fi.Sys().(*syscall.Stat_t).Uid == 0 {
		t.Errorf("keys file belongs to root, not %s", u)
	}
	secrets, err := srs.ReadKeys(keys)
	if err != nil {
		t.Fatal(err)
	}
	at := func(days int) *srs.Rewriter {
		return &srs.Rewriter{Domain: "mx.forwarder.test", Keys: srs.Keys(secrets),
			Now: func() time.Time { return time.Now().Add(-time.Duration(days) * 24 * time.Hour) }}
	}
	good, _ := at(0).Forward("alice@origin.test")
	expired, _ := at(22).Forward("alice@origin.test")
	other := &srs.Rewriter{Domain: "mx.forwarder.test", Keys: srs.Keys{[]byte("not our key")}}
	forged, _ := other.Forward("victim@elsewhere.test")
	for _, src := range []string{"127.0.0.2", "127.0.0.1"} { // a stranger, a client that may relay
		c := dialFrom(t, src, s.MTA)
		c.must("EHLO client.test", 250)
		c.must("MAIL FROM:<>", 250)
		c.must("RCPT TO:<"+good+">", 250)
		for _, bad := range []string{forged, expired, "SRS0=AAAA=AA=elsewhere.test=victim@mx.forwarder.test", "SRS1=xx@mx.forwarder.test"} {
			if code, text := c.cmd("RCPT TO:<" + bad + ">"); code != 550 || !strings.Contains(text, "5.1.1") {
				t.Errorf("from %s: RCPT TO:<%s>: %s", src, bad, text)
			}
		}
		c.must("QUIT", 221)
	}
	out, _ := s.postern("", "explain", "-client", "203.0.113.9", "-from", "", "-rcpt", forged, "-rcpt", good)
	for _, want := range []string{"550 5.1.1", "SRS hash does not match", "stands for alice@origin.test"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q:\n%s", want, out)
		}
	}
}
