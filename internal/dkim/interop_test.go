package dkim

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/testenv"
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
	opendkim := testenv.LookPath(t, "opendkim")
	msg, srv := signedByPostern(t)
	dir := t.TempDir()
	host, port, _ := strings.Cut(srv.Addr, ":")
	conf := filepath.Join(dir, "opendkim.conf")
	confText := fmt.Sprintf("Mode v\nNameservers %s@%s\nAlwaysAddARHeader yes\nSyslog no\n", host, port)
	if err := os.WriteFile(conf, []byte(confText), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(name, msg string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(msg), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(opendkim, "-x", conf, "-vv", "-t", path).CombinedOutput()
		if err != nil {
			t.Fatalf("opendkim: %v\n%s", err, out)
		}
		return string(out)
	}
	before := srv.Queries()
	out := run("signed.eml", msg)
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
	out = run("tampered.eml", strings.Replace(msg, "Is dinner ready?", "Is lunch ready?", 1))
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

// dkimpyWrapper runs dkimpy's own dkimverify entry point, once per
// signature index given, with dnspython's default resolver pointed at the
// loopback DNS server; it prints one line per index.
const dkimpyWrapper = `import io, sys
import dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = [sys.argv[1]]
r.port = int(sys.argv[2])
dns.resolver.default_resolver = r
from dkim.dkimverify import main
msg = sys.stdin.buffer.read()
for index in sys.argv[3:]:
    sys.argv = ["dkimverify", "--index", index]
    sys.stdin = io.TextIOWrapper(io.BytesIO(msg))
    try:
        main()
    except SystemExit:
        pass
    sys.stdout.flush()
`

// TestDkimpyVerifies checks both of postern's signatures with dkimpy's
// dkimverify (python3-dkim), which reads keys through dnspython.
func TestDkimpyVerifies(t *testing.T) {
	dkimverify := testenv.LookPath(t, "dkimverify")
	python := interpreter(t, dkimverify)
	msg, srv := signedByPostern(t)
	script := filepath.Join(t.TempDir(), "verify.py")
	if err := os.WriteFile(script, []byte(dkimpyWrapper), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(srv.Addr, ":")
	verify := func(msg string) string {
		cmd := exec.Command(python, script, host, port, "0", "1")
		cmd.Stdin = strings.NewReader(msg)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("dkimverify: %v\n%s", err, out)
		}
		return string(out)
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

// interpreter returns the program named on a script's #! line.
func interpreter(t *testing.T, script string) string {
	t.Helper()
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(strings.TrimPrefix(line, "#!"))
	if !strings.HasPrefix(line, "#!") || len(f) == 0 {
		t.Fatalf("%s has no #! line", script)
	}
	if strings.HasSuffix(f[0], "/env") && len(f) > 1 {
		return testenv.LookPath(t, f[1])
	}
	return f[0]
}
