package dkim

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/testenv"
	"postern/internal/testpeer"
)

// signedByPostern makes RSA and Ed25519 keys for football.example.com,
// signs testMessage with both, and serves the key records.
func signedByPostern(t *testing.T) (msg string, srv *dnstest.Server) {
	t.Helper()
	dir := t.TempDir()
	past := time.Now().Add(-100 * time.Hour)
	rsaRec := newKey(t, dir, "football.example.com", "r2048", AlgoRSA, past)
	edRec := newKey(t, dir, "football.example.com", "ed", AlgoEd25519, past)
	srv = dnstest.Start(t, dnstest.Zone{
		"r2048._domainkey.football.example.com TXT": {rsaRec},
		"ed._domainkey.football.example.com TXT":    {edRec},
	})
	s := NewSigner(discard(), SignOptions{Dir: dir})
	// A body with long lines, trailing white space and a header that
	// relaxed canonicalization folds, to exercise both canonicalizers.
	body := testMessage + "Trailing space here   \r\n\tand a tab line\r\n" + strings.Repeat("x", 300) + "\r\n\r\n\r\n"
	hdr, err := s.Sign(context.Background(), "football.example.com", strings.NewReader(body))
	if err != nil || strings.Count(hdr, "DKIM-Signature:") != 2 {
		t.Fatalf("sign: %v\n%s", err, hdr)
	}
	return hdr + body, srv
}

// TestOpenDKIMVerifies runs the opendkim filter in its test mode (-t) on
// a message postern signed, with its resolver (libunbound) pointed at
// the loopback DNS server through the Nameservers option (unbound's
// "address@port" form).
func TestOpenDKIMVerifies(t *testing.T) {
	testenv.LookPath(t, "opendkim")
	msg, srv := signedByPostern(t)
	before := srv.Queries()
	out := testpeer.OpenDKIMVerify(t, srv.Addr, msg)
	for _, want := range []string{
		"dkim=pass (2048-bit key; unprotected) header.d=football.example.com header.i=@football.example.com header.a=rsa-sha256 header.s=r2048",
		"dkim=pass header.d=football.example.com header.i=@football.example.com header.a=ed25519-sha256 header.s=ed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("opendkim did not report %q:\n%s", want, out)
		}
	}
	if srv.Queries() <= before {
		t.Error("opendkim did not query the loopback DNS server")
	}
	// Control: a changed Subject fails both signatures.
	out = testpeer.OpenDKIMVerify(t, srv.Addr, strings.Replace(msg, "Is dinner ready?", "Is lunch ready?", 1))
	if strings.Count(out, "dkim=fail") != 2 || strings.Contains(out, "dkim=pass") {
		t.Errorf("tampered message not failed:\n%s", out)
	}
}

// TestOpenDKIMSignsPosternVerifies has opendkim-testmsg sign with a key
// postern made, and postern check the result. opendkim-testmsg signs
// rsa-sha1 (it has no option for another hash), which RFC 8301 3.1 says
// verifiers must not accept: postern reads the signature and answers
// "policy"; the same message signed by postern passes.
func TestOpenDKIMSignsPosternVerifies(t *testing.T) {
	testmsg := testenv.LookPath(t, "opendkim-testmsg")
	dir := t.TempDir()
	rec := newKey(t, dir, "football.example.com", "r2048", AlgoRSA, time.Now())
	srv := dnstest.Start(t, dnstest.Zone{"r2048._domainkey.football.example.com TXT": {rec}})
	cmd := exec.Command(testmsg, "-C", "-d", "football.example.com", "-s", "r2048",
		"-k", KeyPath(dir, "football.example.com", "r2048"), "-t", t.TempDir())
	cmd.Stdin = strings.NewReader(testMessage)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("opendkim-testmsg: %v", err)
	}
	rs := verifyBytes(t, srv.Resolver(), crlf(out))
	if len(rs) != 1 || rs[0].Algorithm != "rsa-sha1" || rs[0].Result != Policy ||
		rs[0].Selector != "r2048" || rs[0].Domain != "football.example.com" {
		t.Fatalf("postern on opendkim's signature: %+v\n%s", rs, out)
	}
}

// TestDkimpyVerifies checks both of postern's signatures with dkimpy's
// dkimverify (python3-dkim), which reads keys through dnspython.
func TestDkimpyVerifies(t *testing.T) {
	testenv.LookPath(t, "dkimverify")
	msg, srv := signedByPostern(t)
	verify := func(msg string) string {
		out, err := testpeer.DkimpyVerify(t, srv.Addr, msg, 0, 1)
		if err != nil {
			t.Fatalf("dkimverify: %v\n%s", err, out)
		}
		return out
	}
	before := srv.Queries()
	if out := verify(msg); out != "signature ok\nsignature ok\n" {
		t.Errorf("dkimpy on postern's two signatures:\n%s", out)
	}
	if srv.Queries() <= before {
		t.Error("dkimpy did not query the loopback DNS server")
	}
	tampered := strings.Replace(msg, "Is dinner ready?", "Is lunch ready?", 1)
	if out := verify(tampered); out != "signature verification failed\nsignature verification failed\n" {
		t.Errorf("dkimpy on a tampered message:\n%s", out)
	}
}
