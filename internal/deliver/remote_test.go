package deliver

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/envelope"
	"postern/internal/smtp"
	"postern/internal/testenv"
	"postern/internal/tlsutil"
)

// newRemote returns a Remote resolving through a DNS server with zone
// and delivering to port.
func newRemote(t *testing.T, zone dnstest.Zone, port int) *Remote {
	t.Helper()
	srv := dnstest.Start(t, zone)
	r := &Remote{Hostname: "postern.example", Resolver: srv.Resolver(), Port: port,
		ConnectTimeout: 5 * time.Second, CommandTimeout: 20 * time.Second, DataTimeout: 20 * time.Second}
	t.Cleanup(r.Close)
	return r
}

func message(id, from string, body string, rcpts ...string) (*envelope.Envelope, []envelope.Recipient, *strings.Reader) {
	env := &envelope.Envelope{ID: id, From: from, Size: int64(len(body)), Received: time.Now()}
	var rs []envelope.Recipient
	for _, r := range rcpts {
		rs = append(rs, envelope.Recipient{Addr: r})
	}
	env.Rcpts = rs
	return env, rs, strings.NewReader(body)
}

func wantReply(t *testing.T, what string, err error, code int, enhanced string) {
	t.Helper()
	var rep *smtp.Reply
	if !errors.As(err, &rep) {
		t.Errorf("%s: %v (%T), want a %d reply", what, err, err, code)
		return
	}
	if rep.Code != code || enhanced != "" && rep.Enhanced != enhanced {
		t.Errorf("%s: %v, want %d %s", what, rep, code, enhanced)
	}
}

const body1 = "From: a@example.org\r\nSubject: test\r\n\r\nhello\r\n"

func TestRemoteMXLookup(t *testing.T) {
	rx := startReceiver(t, &receiver{})
	r := newRemote(t, dnstest.Zone{
		"example.net. MX":          {"10 mx1.example.net.", "20 mx2.example.net."},
		"mx1.example.net. A":       {"127.0.0.2"}, // nothing listens there: next MX
		"mx2.example.net. A":       {"127.0.0.1"},
		"aonly.example. A":         {"127.0.0.1"},
		"nullmx.example. MX":       {"0 ."},
		"broken.example. MX":       {"10 mx.broken.example."},
		"mx.broken.example. A":     {"127.0.0.1"},
		"broken.example. SERVFAIL": {"MX"},
		"noaddr.example. MX":       {"10 nowhere.noaddr.example."},
	}, rx.Port)
	ctx := context.Background()

	env, rcpts, body := message("M1", "a@example.org", body1, "b@example.net", "c@example.net", "d@aonly.example")
	errs := r.Deliver(ctx, env, rcpts, body)
	for i, err := range errs {
		if err != nil {
			t.Errorf("rcpt %d: %v", i, err)
		}
	}
	if n := len(rx.Data()); n != 2 {
		t.Errorf("%d transactions, want 2 (one per domain)", n)
	}

	for _, c := range []struct {
		rcpt, enhanced string
		code           int
	}{
		{"x@nullmx.example", "5.1.10", 556},
		{"x@broken.example", "4.4.3", 451},
		{"x@nxdomain.example", "5.1.2", 550},
		{"x@noaddr.example", "5.4.4", 550},
	} {
		env, rcpts, body := message("M2", "a@example.org", body1, c.rcpt)
		errs := r.Deliver(ctx, env, rcpts, body)
		wantReply(t, c.rcpt, errs[0], c.code, c.enhanced)
	}
}

func TestMXOrder(t *testing.T) {
	hosts := []mxHost{{name: "c", pref: 20}, {name: "a", pref: 10}, {name: "b", pref: 10}, {name: "d", pref: 30}, {name: "e", pref: 10}}
	seenFirst := map[string]bool{}
	for i := 0; i < 200; i++ {
		h := append([]mxHost(nil), hosts...)
		orderMX(h)
		for j := 1; j < len(h); j++ {
			if h[j].pref < h[j-1].pref {
				t.Fatalf("not sorted: %v", h)
			}
		}
		seenFirst[h[0].name] = true
	}
	// RFC 5321 5.1: equal preferences are randomised.
	if len(seenFirst) != 3 {
		t.Errorf("first host among equals: %v, want all of a, b, e", seenFirst)
	}
}

func TestRemoteSelfMX(t *testing.T) {
	rx := startReceiver(t, &receiver{})
	r := newRemote(t, dnstest.Zone{
		"backup.example. MX":        {"10 primary.backup.example.", "20 postern.example."},
		"primary.backup.example. A": {"127.0.0.1"},
		"postern.example. A":        {"127.0.0.1"},
		"loop.example. MX":          {"10 postern.example.", "20 other.loop.example."},
		"other.loop.example. A":     {"127.0.0.1"},
	}, rx.Port)
	ctx := context.Background()
	env, rcpts, body := message("S1", "a@example.org", body1, "x@backup.example")
	if errs := r.Deliver(ctx, env, rcpts, body); errs[0] != nil {
		t.Errorf("to the better MX: %v", errs[0])
	}
	// We are the best MX: only more preferred hosts may be tried, none.
	env, rcpts, body = message("S2", "a@example.org", body1, "x@loop.example")
	wantReply(t, "best MX is us", r.Deliver(ctx, env, rcpts, body)[0], 554, "5.4.6")

	// A next hop that greets with our name is us.
	self := startReceiver(t, &receiver{Name: "postern.example"})
	r2 := newRemote(t, dnstest.Zone{"x.example. A": {"127.0.0.1"}}, self.Port)
	env, rcpts, body = message("S3", "a@example.org", body1, "x@x.example")
	wantReply(t, "greets as us", r2.Deliver(ctx, env, rcpts, body)[0], 554, "5.4.6")

	// One of our own listeners.
	r3 := newRemote(t, dnstest.Zone{"x.example. A": {"127.0.0.1"}}, rx.Port)
	r3.IsSelf = func(ip netip.Addr, port int) bool { return port == rx.Port }
	env, rcpts, body = message("S4", "a@example.org", body1, "x@x.example")
	wantReply(t, "own listener", r3.Deliver(ctx, env, rcpts, body)[0], 554, "5.4.6")
}

func TestRemoteReplies(t *testing.T) {
	var mu sync.Mutex
	tries := map[string]int{}
	rx := startReceiver(t, &receiver{Reply: func(cmd string, n int) string {
		mu.Lock()
		tries[cmd]++
		n = tries[cmd]
		mu.Unlock()
		switch {
		case strings.Contains(cmd, "<temp@"):
			return "450 4.2.1 mailbox busy"
		case strings.Contains(cmd, "<perm@"):
			return "550 5.1.1 no such user"
		case strings.Contains(cmd, "<later@") && n == 1:
			return "451 4.7.1 greylisted"
		}
		return ""
	}})
	r := newRemote(t, dnstest.Zone{"example.net. A": {"127.0.0.1"}}, rx.Port)
	ctx := context.Background()
	env, rcpts, body := message("R1", "a@example.org", body1, "ok@example.net", "temp@example.net", "perm@example.net")
	errs := r.Deliver(ctx, env, rcpts, body)
	if errs[0] != nil {
		t.Errorf("ok: %v", errs[0])
	}
	wantReply(t, "temp", errs[1], 450, "4.2.1")
	wantReply(t, "perm", errs[2], 550, "5.1.1")

	// 4xx then 2xx: the retry (as the queue will make it) gets through.
	env, rcpts, body = message("R2", "a@example.org", body1, "later@example.net")
	wantReply(t, "first try", r.Deliver(ctx, env, rcpts, body)[0], 451, "4.7.1")
	if err := r.Deliver(ctx, env, rcpts, body)[0]; err != nil {
		t.Errorf("retry: %v", err)
	}
}

func TestRemoteMailRefusedTriesNextMX(t *testing.T) {
	bad := startReceiver(t, &receiver{Reply: func(cmd string, n int) string {
		if strings.HasPrefix(cmd, "MAIL") {
			return "421 4.3.2 shutting down"
		}
		return ""
	}})
	good := startReceiver(t, &receiver{})
	// Both MX hosts on loopback but different ports: route them as hops.
	r := newRemote(t, dnstest.Zone{}, 25)
	dest := Destination{Domain: "example.net", Hops: []Hop{
		{Host: "127.0.0.1", Port: bad.Port, NoMX: true}, {Host: "127.0.0.1", Port: good.Port, NoMX: true}}}
	env, rcpts, body := message("N1", "a@example.org", body1, "x@example.net")
	if err := r.DeliverTo(context.Background(), dest, env, rcpts, body)[0]; err != nil {
		t.Fatal(err)
	}
	if len(good.Data()) != 1 {
		t.Error("second hop did not get the message")
	}
}

func TestRemoteWireFormat(t *testing.T) {
	rx := startReceiver(t, &receiver{Ext: []string{"PIPELINING", "8BITMIME", "DSN", "SIZE 100000"}})
	r := newRemote(t, dnstest.Zone{"example.net. MX": {"5 mx.example.net."}, "mx.example.net. A": {"127.0.0.1"}}, rx.Port)
	// Lines starting with dots, a line of one dot, bare CR and LF from
	// local injection: on the wire, every line ends in CR LF and every
	// leading dot is doubled, so no line can end the DATA early.
	content := "Subject: dots\r\n\r\n.\r\n..\r\n.hidden\nbare LF\rbare CR\r\n\r\n.\r\nQUIT\r\nend"
	env, rcpts, body := message("W1", "a@example.org", content, "b@example.net")
	env.DSNRet, env.EnvID = "HDRS", "W1 env"
	r.RewriteSender = func(from string) string { return strings.Replace(from, "@example.org", "@out.example.org", 1) }
	rcpts[0].Notify, rcpts[0].ORCPT = "FAILURE,DELAY", "rfc822;B+x@example.net"
	if err := r.Deliver(context.Background(), env, rcpts, body)[0]; err != nil {
		t.Fatal(err)
	}
	got := rx.Data()[0]
	want := "Subject: dots\r\n\r\n..\r\n...\r\n..hidden\r\nbare LF\r\nbare CR\r\n\r\n..\r\nQUIT\r\nend\r\n"
	if got != want {
		t.Errorf("on the wire:\n got %q\nwant %q", got, want)
	}
	if strings.Contains(strings.ReplaceAll(got, "\r\n", ""), "\n") || strings.Contains(strings.ReplaceAll(got, "\r\n", ""), "\r") {
		t.Error("bare CR or LF on the wire")
	}
	cmds := strings.Join(rx.Commands(), "\n")
	for _, w := range []string{"EHLO postern.example", "MAIL FROM:<a@out.example.org> SIZE=", "RET=HDRS ENVID=W1+20env",
		"RCPT TO:<b@example.net> NOTIFY=FAILURE,DELAY ORCPT=rfc822;B+2Bx@example.net"} {
		if !strings.Contains(cmds, w) {
			t.Errorf("no %q in\n%s", w, cmds)
		}
	}
}

func TestRemoteSizeAndUTF8(t *testing.T) {
	rx := startReceiver(t, &receiver{Ext: []string{"SIZE 50", "8BITMIME"}})
	r := newRemote(t, dnstest.Zone{"example.net. A": {"127.0.0.1"}}, rx.Port)
	ctx := context.Background()
	env, rcpts, body := message("Z1", "a@example.org", body1+strings.Repeat("x", 100), "b@example.net")
	wantReply(t, "too big", r.Deliver(ctx, env, rcpts, body)[0], 552, "5.3.4")
	// A non-ASCII address needs SMTPUTF8, which the server lacks.
	env, rcpts, body = message("Z2", "a@example.org", body1, "b\u00e9@example.net")
	env.SMTPUTF8 = true
	wantReply(t, "SMTPUTF8", r.Deliver(ctx, env, rcpts, body)[0], 553, "5.6.7")
	if len(rx.Data()) != 0 {
		t.Error("content sent despite SIZE/SMTPUTF8")
	}
}

func TestRemoteConnectionReuse(t *testing.T) {
	rx := startReceiver(t, &receiver{})
	r := newRemote(t, dnstest.Zone{"example.net. A": {"127.0.0.1"}}, rx.Port)
	r.ConnectionIdle = 5 * time.Second
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		env, rcpts, body := message(fmt.Sprintf("C%d", i), "a@example.org", body1, "b@example.net", "c@example.net")
		for _, err := range r.Deliver(ctx, env, rcpts, body) {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := rx.conns.Load(); n != 1 {
		t.Errorf("%d connections for 5 messages, want 1", n)
	}
	if n := len(rx.Data()); n != 5 {
		t.Errorf("%d messages", n)
	}
	// Max reuse: a new connection after ConnectionReuse messages.
	rx2 := startReceiver(t, &receiver{})
	r2 := newRemote(t, dnstest.Zone{"example.net. A": {"127.0.0.1"}}, rx2.Port)
	r2.ConnectionReuse = 2
	for i := 0; i < 5; i++ {
		env, rcpts, body := message(fmt.Sprintf("D%d", i), "a@example.org", body1, "b@example.net")
		if err := r2.Deliver(ctx, env, rcpts, body)[0]; err != nil {
			t.Fatal(err)
		}
	}
	if n := rx2.conns.Load(); n != 3 {
		t.Errorf("%d connections for 5 messages at 2 per connection, want 3", n)
	}
	// A cached connection the server closed meanwhile: the message goes
	// on a fresh one.
	rx3 := startReceiver(t, &receiver{Reply: func(cmd string, n int) string {
		if strings.HasPrefix(cmd, "MAIL") && n == 2 {
			return "421 4.4.2 idle timeout"
		}
		return ""
	}})
	r3 := newRemote(t, dnstest.Zone{"example.net. A": {"127.0.0.1"}}, rx3.Port)
	for i := 0; i < 2; i++ {
		env, rcpts, body := message(fmt.Sprintf("E%d", i), "a@example.org", body1, "b@example.net")
		if err := r3.Deliver(ctx, env, rcpts, body)[0]; err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
}

func TestRemoteDestinationConcurrency(t *testing.T) {
	rx := startReceiver(t, &receiver{Delay: 100 * time.Millisecond})
	r := newRemote(t, dnstest.Zone{"example.net. A": {"127.0.0.1"}}, rx.Port)
	r.DestinationConcurrency = 2
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			env, rcpts, body := message(fmt.Sprintf("P%d", i), "a@example.org", body1, "b@example.net")
			// Beyond 2 under way and 2 waiting, the destination is busy:
			// the queue would try again at the turn it gives.
			for {
				err := r.Deliver(context.Background(), env, rcpts, body)[0]
				var busy *Busy
				if errors.As(err, &busy) {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				if err != nil {
					t.Error(err)
				}
				break
			}
		}()
	}
	wg.Wait()
	if m := rx.maxAct.Load(); m > 2 {
		t.Errorf("%d sessions at once, limit 2", m)
	}
	if n := len(rx.Data()); n != 8 {
		t.Errorf("%d messages", n)
	}
}

// serverTLS returns a server TLS config with a certificate for name and a
// pool that trusts it.
func serverTLS(t *testing.T, name string) (*receiver, *x509.CertPool) {
	dir := t.TempDir()
	cfg, err := tlsutil.Load("", "", dir, name)
	if err != nil {
		t.Fatal(err)
	}
	certFile, _ := tlsutil.SelfSignedPaths(dir)
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &receiver{TLS: cfg, Ext: []string{"PIPELINING", "STARTTLS", "8BITMIME", "AUTH PLAIN"}}, pool
}

func TestRemoteTLSPolicies(t *testing.T) {
	ctx := context.Background()
	zone := dnstest.Zone{"example.net. MX": {"10 mx.example.net."}, "mx.example.net. A": {"127.0.0.1"}}
	send := func(r *Remote, id string) error {
		env, rcpts, body := message(id, "a@example.org", body1, "b@example.net")
		return r.Deliver(ctx, env, rcpts, body)[0]
	}

	// Opportunistic TLS with an unverifiable certificate: delivered over TLS.
	base, pool := serverTLS(t, "mx.example.net")
	rx := startReceiver(t, base)
	r := newRemote(t, zone, rx.Port)
	if err := send(r, "T1"); err != nil {
		t.Fatal(err)
	}
	if rx.tlsConns.Load() != 1 {
		t.Error("STARTTLS not used")
	}
	// verify without the CA: deferred; with it: delivered.
	r = newRemote(t, zone, rx.Port)
	r.TLS = StaticTLS(PolicyVerify)
	wantReply(t, "verify, unknown CA", send(r, "T2"), 451, "4.7.5")
	r.RootCAs = pool
	if err := send(r, "T3"); err != nil {
		t.Errorf("verify with the CA: %v", err)
	}
	// never: no STARTTLS at all.
	before := rx.tlsConns.Load()
	r = newRemote(t, zone, rx.Port)
	r.TLS = StaticTLS(PolicyNever)
	if err := send(r, "T4"); err != nil {
		t.Fatal(err)
	}
	if rx.tlsConns.Load() != before {
		t.Error("STARTTLS used under policy never")
	}

	// A server whose TLS is broken: "may" falls back to plaintext on a
	// new connection, "required" defers.
	broken := startReceiver(t, &receiver{BreakTLS: true, Ext: []string{"PIPELINING", "STARTTLS"}})
	r = newRemote(t, zone, broken.Port)
	if err := send(r, "T5"); err != nil {
		t.Fatalf("may with broken TLS: %v", err)
	}
	if n := broken.conns.Load(); n != 2 || len(broken.Data()) != 1 {
		t.Errorf("fallback: %d connections, %d messages", n, len(broken.Data()))
	}
	r = newRemote(t, zone, broken.Port)
	r.TLS = StaticTLS(PolicyRequired)
	wantReply(t, "required with broken TLS", send(r, "T6"), 451, "4.7.5")
	// required with a server that offers no STARTTLS at all.
	plain := startReceiver(t, &receiver{})
	r = newRemote(t, zone, plain.Port)
	r.TLS = StaticTLS(PolicyRequired)
	wantReply(t, "required without STARTTLS", send(r, "T7"), 451, "4.7.5")
	if len(plain.Data()) != 0 {
		t.Error("sent in plaintext under policy required")
	}
}

func TestSmarthostAuth(t *testing.T) {
	base, _ := serverTLS(t, "smarthost.example")
	rx := startReceiver(t, base)
	r := newRemote(t, dnstest.Zone{}, 25)
	r.Smarthost = &Hop{Host: "127.0.0.1", Port: rx.Port, NoMX: true}
	r.SmarthostAuth = &Credentials{User: "relayuser", Password: "s3cret"}
	env, rcpts, body := message("A1", "a@example.org", body1, "b@anywhere.example", "c@elsewhere.example")
	for _, err := range r.Deliver(context.Background(), env, rcpts, body) {
		if err != nil {
			t.Fatal(err)
		}
	}
	cmds := rx.Commands()
	var sawAuth, authAfterTLS bool
	tlsSeen := false
	for _, c := range cmds {
		if c == "STARTTLS" {
			tlsSeen = true
		}
		if strings.HasPrefix(c, "AUTH PLAIN ") {
			sawAuth, authAfterTLS = true, tlsSeen
		}
	}
	if !sawAuth || !authAfterTLS {
		t.Errorf("AUTH sent=%v after TLS=%v: %q", sawAuth, authAfterTLS, cmds)
	}
	if len(rx.Data()) != 1 {
		t.Errorf("%d transactions through the smarthost, want 1", len(rx.Data()))
	}
	// Credentials never go to a server without TLS.
	plain := startReceiver(t, &receiver{Ext: []string{"AUTH PLAIN"}})
	r2 := newRemote(t, dnstest.Zone{}, 25)
	r2.Smarthost = &Hop{Host: "127.0.0.1", Port: plain.Port, NoMX: true}
	r2.SmarthostAuth = &Credentials{User: "relayuser", Password: "s3cret"}
	env, rcpts, body = message("A2", "a@example.org", body1, "b@anywhere.example")
	wantReply(t, "auth without TLS", r2.Deliver(context.Background(), env, rcpts, body)[0], 451, "4.7.5")
	for _, c := range plain.Commands() {
		if strings.HasPrefix(c, "AUTH") {
			t.Errorf("credentials sent in plaintext: %q", c)
		}
	}
}

func TestParseHop(t *testing.T) {
	good := map[string]Hop{
		"[127.0.0.1]:2526":      {Host: "127.0.0.1", Port: 2526, NoMX: true},
		"[mail.example.com]":    {Host: "mail.example.com", NoMX: true},
		"Mail.Example.COM:587":  {Host: "mail.example.com", Port: 587},
		"relay.example":         {Host: "relay.example"},
		"[IPv6:2001:db8::1]:25": {Host: "2001:db8::1", Port: 25, NoMX: true},
		"192.0.2.1":             {Host: "192.0.2.1", NoMX: true},
	}
	for in, want := range good {
		got, err := ParseHop(in)
		if err != nil || got != want {
			t.Errorf("ParseHop(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "[", "[x]y", "host:", "host:0", "host:65536", "host:abc", "[a]:", "bad host", "a..b"} {
		if h, err := ParseHop(in); err == nil {
			t.Errorf("ParseHop(%q) = %+v, want an error", in, h)
		}
	}
}

func FuzzParseHop(f *testing.F) {
	for _, s := range []string{"[127.0.0.1]:2526", "host", "host:25", "[IPv6:::1]", "[x]y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHop(s)
		if err != nil {
			return
		}
		if h.Port < 0 || h.Port > 65535 || h.Host == "" {
			t.Fatalf("%q: %+v", s, h)
		}
		if h2, err := ParseHop(h.String()); err != nil || h2 != h {
			t.Fatalf("%q: %+v does not survive String(): %+v %v", s, h, h2, err)
		}
	})
}

// smtpSink runs Postfix's smtp-sink on a loopback port, dumping each
// message into dir; it returns the port.
func smtpSink(t *testing.T, dir string, args ...string) int {
	t.Helper()
	bin := testenv.LookPath(t, "smtp-sink")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	all := append([]string{"-d", filepath.Join(dir, "%Y%m%d%H/%M.")}, args...)
	if os.Geteuid() == 0 {
		// smtp-sink drops to nobody, who must reach the dump directory.
		all = append(all, "-u", "nobody")
		os.Chmod(filepath.Dir(dir), 0o755)
		os.Chmod(dir, 0o777)
	}
	all = append(all, addr, "64")
	cmd := exec.Command(bin, all...)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return port
		}
		if i > 200 {
			t.Fatalf("smtp-sink did not start: %s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sinkFiles(t *testing.T, dir string) []string {
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(p)
			out = append(out, string(b))
		}
		return nil
	})
	return out
}

func TestRemoteToSmtpSink(t *testing.T) {
	dir := t.TempDir()
	port := smtpSink(t, dir)
	r := newRemote(t, dnstest.Zone{"sink.example. MX": {"10 mx.sink.example."}, "mx.sink.example. AAAA": {"::1"}, "mx.sink.example. A": {"127.0.0.1"}}, port)
	for i := 0; i < 3; i++ {
		env, rcpts, body := message(fmt.Sprintf("K%d", i), "a@example.org", "Subject: sink "+fmt.Sprint(i)+"\r\n\r\n.dot line\r\n", "x@sink.example", "y@sink.example")
		for _, err := range r.Deliver(context.Background(), env, rcpts, body) {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	var files []string
	for i := 0; i < 100; i++ {
		if files = sinkFiles(t, dir); len(files) >= 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(files) != 3 {
		t.Fatalf("smtp-sink holds %d messages, want 3", len(files))
	}
	for _, f := range files {
		if !strings.Contains(f, "x@sink.example") || !strings.Contains(f, "y@sink.example") || !strings.Contains(f, "\n.dot line") {
			t.Errorf("dump:\n%s", f)
		}
	}
}
