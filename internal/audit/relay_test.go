package audit_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"postern/internal/audit"
	"postern/internal/audit/audittest"
)

func TestPostfixOpenRelayIsReported(t *testing.T) {
	addr := startPostfix(t, postfixOptions{mynetworks: "0.0.0.0/0"})
	rep, err := audit.Run(withTimeout(t, 2*time.Minute), nil, audit.Options{
		Target: addr, Domain: "", Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Find("relay.open")
	if c == nil {
		t.Fatal("no relay.open check in the report")
	}
	if c.Status != audit.Fail {
		t.Fatalf("open relay reported as %s: %s", c.Status, c.Detail)
	}
	if !strings.Contains(c.Detail, "OPEN RELAY") || !strings.Contains(c.Detail, "foreign-sender") || !strings.Contains(c.Detail, "null-sender") {
		t.Errorf("detail does not name the accepted probes: %s", c.Detail)
	}
	accepted := 0
	for _, p := range c.Probes {
		if p.Result == "accepted" {
			accepted++
		}
	}
	if accepted < 5 {
		t.Errorf("only %d probes accepted by an open relay: %+v", accepted, c.Probes)
	}
	assertProtocolHygiene(t, c.Evidence)
	if rep.ExitStatus() != 2 {
		t.Errorf("exit status %d, want 2", rep.ExitStatus())
	}
}

func TestPostfixSafeRelayPasses(t *testing.T) {
	// mynetworks trusts 127.0.0.1 only; the audit comes from 127.0.0.2,
	// as a stranger would.
	addr := startPostfix(t, postfixOptions{mynetworks: "127.0.0.1/32",
		extra: "allow_percent_hack = no\nswap_bangpath = no\n"})
	rep, err := audit.Run(withTimeout(t, 2*time.Minute), nil, audit.Options{
		Target: addr, From: net.ParseIP("127.0.0.2"), Domain: "", Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Find("relay.open")
	if c == nil {
		t.Fatal("no relay.open check")
	}
	for _, p := range c.Probes {
		if p.Result == "accepted" && p.Verdict == audit.Fail {
			t.Errorf("probe %s accepted by a safe Postfix: %s", p.Name, p.Reply)
		}
	}
	t.Logf("safe Postfix: %s %s", c.Status, c.Detail)
	if c.Status == audit.Fail {
		t.Fatalf("safe Postfix reported as %s: %s", c.Status, c.Detail)
	}
	if len(c.Probes) < 20 {
		t.Errorf("only %d probes ran", len(c.Probes))
	}
	assertProtocolHygiene(t, c.Evidence)
	if b := rep.Find("smtp.banner"); b == nil || b.Status != audit.Pass {
		t.Errorf("banner check: %+v", b)
	}
	// With no local_recipient_maps Postfix answers 252 to every VRFY,
	// which reveals nothing.
	if v := rep.Find("smtp.vrfy"); v == nil || v.Status != audit.Pass {
		t.Errorf("vrfy check: %+v", v)
	}
}

// assertProtocolHygiene checks the rules the probes promise: no DATA ever,
// RSET between probes, QUIT at the end.
func assertProtocolHygiene(t *testing.T, ev []string) {
	t.Helper()
	rcpts, rsets, quits := 0, 0, 0
	for _, l := range ev {
		switch {
		case strings.HasPrefix(l, "C: DATA"), strings.HasPrefix(l, "C: BDAT"):
			t.Errorf("relay probe sent %q", l)
		case strings.HasPrefix(l, "C: RCPT"):
			rcpts++
		case l == "C: RSET":
			rsets++
		case l == "C: QUIT":
			quits++
		}
	}
	if rcpts == 0 || rsets < rcpts {
		t.Errorf("%d RCPT but %d RSET", rcpts, rsets)
	}
	if quits == 0 {
		t.Error("no QUIT")
	}
}

func TestRefusesNonLoopbackTarget(t *testing.T) {
	for _, target := range []string{"192.0.2.1:25", "[2001:db8::1]:25", "198.51.100.7"} {
		_, err := audit.Run(withTimeout(t, 5*time.Second), nil, audit.Options{Target: target})
		if err == nil || !errors.Is(err, audit.ErrNotLoopback) {
			t.Errorf("%s: err = %v, want a refusal", target, err)
		}
	}
	// A loopback target from a non-loopback source is refused too.
	_, err := audit.Run(withTimeout(t, 5*time.Second), nil, audit.Options{Target: "127.0.0.1:1", From: net.ParseIP("192.0.2.9")})
	if err == nil || !errors.Is(err, audit.ErrNotLoopback) {
		t.Errorf("non-loopback source: err = %v", err)
	}
}

// TestPostfixTLSAndSmuggling checks the TLS checks against Postfix with a
// CA-signed certificate, and the smuggling probe against Postfix with and
// without smtpd_forbid_bare_newline.
func TestPostfixTLSAndSmuggling(t *testing.T) {
	dir := t.TempDir()
	audittest.OpenTraversal(t, dir)
	ca := audittest.NewCA(t)
	cert, key := ca.Issue(t, dir, time.Now().Add(10*24*time.Hour), "mx.example.test")
	for _, c := range []struct {
		name      string
		extra     string
		smuggling audit.Status
	}{
		{"bare newline accepted", "smtpd_forbid_bare_newline = no\n", audit.Fail},
		{"bare newline refused", "smtpd_forbid_bare_newline = yes\n", audit.Pass},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := startPostfix(t, postfixOptions{mynetworks: "127.0.0.1/32", cert: cert, key: key,
				extra: c.extra + "smtpd_tls_protocols = >=TLSv1.2\n"})
			rep, err := audit.Run(withTimeout(t, 3*time.Minute), nil, audit.Options{
				Target: addr, From: net.ParseIP("127.0.0.2"), RootCAs: ca.Pool, Timeout: 10 * time.Second,
				Smuggling: true, SmugglingRcpt: "postmaster@mx.example.test",
			})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			rep.WriteText(&b, audit.TextOptions{})
			t.Log(b.String())
			expect := map[string]audit.Status{
				"tls.starttls.mta":   audit.Pass,
				"auth.plaintext.mta": audit.Pass,
				"tls.versions.mta":   audit.Pass,
				// It expires in 10 days: valid, but a warning.
				"tls.certificate.mta": audit.Warn,
				"smtp.smuggling":      c.smuggling,
			}
			for id, st := range expect {
				chk := rep.Find(id)
				if chk == nil || chk.Status != st {
					t.Errorf("%s: %+v, want %s", id, chk, st)
				}
			}
			if chk := rep.Find("tls.certificate.mta"); chk != nil && !strings.Contains(chk.Detail, "expires on") {
				t.Errorf("certificate detail: %s", chk.Detail)
			}
			if chk := rep.Find("smtp.smuggling"); chk != nil && c.smuggling == audit.Fail && !strings.Contains(chk.Detail, "LF.LF") {
				t.Errorf("smuggling detail does not name LF.LF: %s", chk.Detail)
			}
		})
	}
}
