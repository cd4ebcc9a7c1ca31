package test

import (
	"bufio"
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/arc"
	"postern/internal/dkim"
	"postern/internal/dmarcreport"
	"postern/internal/dnstest"
	"postern/internal/testenv"
	"postern/internal/testpeer"
)

// arcSealedMessage is a message from reject.example (p=reject; its SPF
// does not allow the test client and it has no DKIM signature, so DMARC
// fails here) as a mailing list at sealer would pass it on: sealed, its
// AAR saying DMARC passed when the list received it.
func arcSealedMessage(t *testing.T, sealer string, key crypto.Signer, subject string) string {
	t.Helper()
	msg := "Authentication-Results: " + sealer + "; spf=pass smtp.mailfrom=a@reject.example;\r\n\tdmarc=pass header.from=reject.example\r\n" +
		"From: a@reject.example\r\nTo: list@" + sealer + "\r\nSubject: " + subject + "\r\nMessage-ID: <" + subject + "@reject.example>\r\n\r\nHello.\r\n"
	set, err := arc.Seal(strings.NewReader(msg), arc.SealOptions{Domain: sealer, Selector: "arc", Key: key, AuthServID: sealer, CV: arc.None})
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(set+msg, "\r\n", "\n")
}

// arcKey makes a sealer's key and publishes it in zone.
func arcKey(t *testing.T, zone dnstest.Zone, domain string) crypto.Signer {
	t.Helper()
	k, _, err := dkim.GenerateKey(dkim.AlgoRSA)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := dkim.PublicRecord(k)
	zone["arc._domainkey."+domain+". TXT"] = []string{rec}
	return k
}

// A message that fails DMARC p=reject is taken when its newest ARC seal
// is a trusted sealer's (recorded in Authentication-Results, the log and
// the DMARC evaluation as local_policy), refused when the sealer is not
// trusted; forwarded by an alias through a Postfix next hop it leaves
// with our ARC set, which our verifier and dkimpy's both validate.
func TestARCTrustedSealerAndForwardSealed(t *testing.T) {
	zone := mailAuthZone()
	trustedKey := arcKey(t, zone, "lists.example.net")
	untrustedKey := arcKey(t, zone, "other.example")
	srv := dnstest.Start(t, zone)
	remote := startSink(t)
	dir := mapsDir(t, map[string]string{"aliases": "fwd: dave@remote.test\n"})
	s := newServer(t, serverConfig{MapsDir: dir, Extra: "[arc]\ntrusted_sealers = [\"lists.example.net\"]\nseal = true\n" +
		"[dkim]\nactivate_after = \"1s\"\n" + dnsExtra(srv)})
	s.addUser("alice@example.test", "pw")
	if out, err := s.postern("", "dkim", "keygen", "-domain", "example.test", "-selector", "r1", "-algo", "rsa"); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	ours, err := dkim.LoadKey(filepath.Join(s.dir, "data", "dkim", "example.test", "r1.key"))
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := dkim.PublicRecord(ours)
	zone["r1._domainkey.example.test. TXT"] = []string{rec}
	if err := srv.Set(zone); err != nil {
		t.Fatal(err)
	}
	transport := filepath.Join(testenv.OpenTempDir(t), "transport")
	testenv.WriteFile(t, transport, fmt.Sprintf("remote.test smtp:[127.0.0.1]:%d\n", remote.Port), 0o644)
	pf := testpeer.StartPostfix(t, map[string]string{"myhostname": "mx.remote.test", "transport_maps": "texthash:" + transport})
	writeMap(t, dir, "mailertable", fmt.Sprintf("remote.test smtp:[127.0.0.1]:%s\n", portOf(pf.SMTP)))
	time.Sleep(1100 * time.Millisecond) // activate_after
	s.start()

	c := dialFrom(t, "127.0.0.2", s.MTA)
	c.must("EHLO client.test", 250)
	if code, text := c.sendMail("a@reject.example", "alice@example.test", arcSealedMessage(t, "lists.example.net", trustedKey, "trusted")); code != 250 {
		t.Fatalf("trusted sealer: %s\n%s", text, s.logs())
	}
	code, text := c.sendMail("a@reject.example", "alice@example.test", arcSealedMessage(t, "other.example", untrustedKey, "untrusted"))
	if code != 550 || !strings.Contains(text, "5.7.1") {
		t.Errorf("untrusted sealer: %s", text)
	}
	if code, text := c.sendMail("a@reject.example", "fwd@example.test", arcSealedMessage(t, "lists.example.net", trustedKey, "forwarded")); code != 250 {
		t.Fatalf("forwarded: %s", text)
	}
	c.must("QUIT", 221)

	got := waitFolder(s, "alice@example.test", "", 1)
	if len(got) != 1 {
		t.Fatalf("alice has %d messages\n%s", len(got), s.logs())
	}
	h := headerOf(got[0])
	if !strings.Contains(h, "arc=pass") || !strings.Contains(h, "local_policy") || !strings.Contains(h, "trusted sealer lists.example.net") {
		t.Errorf("Authentication-Results of the overridden message:\n%s", h)
	}
	if !strings.Contains(s.logs(), "dmarc failure overridden by a trusted ARC sealer") {
		t.Errorf("no override in the log:\n%s", s.logs())
	}
	checkLocalPolicy(t, filepath.Join(s.dir, "data", "dmarc"))

	m := dumpWith(t, remote, 1, "Subject: forwarded")
	if m == "" {
		t.Fatalf("the forwarded copy did not arrive\npostern:\n%s\npostfix:\n%s", s.logs(), pf.Log())
	}
	if !strings.Contains(m, "i=2") || !strings.Contains(m, "d=example.test") || !strings.Contains(headerOf(m), "ARC-Seal: a=rsa-sha256; b=") {
		t.Errorf("forwarded copy not sealed by us:\n%s", m)
	}
	v := &arc.Verifier{DKIM: dkim.NewVerifier(dkim.VerifyOptions{}), Resolver: srv.Resolver()}
	res, err := v.Verify(context.Background(), strings.NewReader(m))
	if err != nil || res.CV != arc.Pass || res.Instance != 2 || res.Hops[1].Sealer != "example.test" {
		t.Errorf("our verifier on the forwarded copy: %+v %v\n%s", res, err, m)
	}
	dkimpyARC(t, m, zone)
}

// checkLocalPolicy finds the overridden evaluation: disposition none,
// reason local_policy naming the sealer.
func checkLocalPolicy(t *testing.T, dir string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			var e dmarcreport.Evaluation
			if json.Unmarshal(sc.Bytes(), &e) != nil {
				continue
			}
			for _, r := range e.Reasons {
				if r.Type == "local_policy" && strings.Contains(r.Comment, "lists.example.net") && e.Disposition == "none" {
					return
				}
			}
		}
	}
	t.Errorf("no evaluation with reason local_policy in %s", dir)
}

// dkimpyARC validates msg's chain with dkimpy (Debian's python3-dkim),
// the keys taken from zone.
func dkimpyARC(t *testing.T, msg string, zone dnstest.Zone) {
	t.Helper()
	testenv.LookPath(t, "arcverify") // python3-dkim
	dir := t.TempDir()
	var keys strings.Builder
	for k, v := range zone {
		if name, ok := strings.CutSuffix(k, ". TXT"); ok && strings.Contains(name, "._domainkey.") {
			keys.WriteString(name + "\t" + v[0] + "\n")
		}
	}
	testenv.WriteFile(t, filepath.Join(dir, "keys"), keys.String(), 0o600)
	testenv.WriteFile(t, filepath.Join(dir, "msg"), strings.ReplaceAll(strings.ReplaceAll(msg, "\r\n", "\n"), "\n", "\r\n"), 0o600)
	script := `import sys, dkim
keys = dict(l.rstrip("\n").split("\t", 1) for l in open(sys.argv[2]))
def dns(name, timeout=5):
    return keys.get(name.decode().rstrip("."), "").encode()
cv, res, why = dkim.arc_verify(open(sys.argv[1], "rb").read(), dnsfunc=dns)
print(cv.decode(), why)
sys.exit(0 if cv == b"pass" else 1)
`
	out, err := exec.Command("/usr/bin/python3", "-c", script, filepath.Join(dir, "msg"), filepath.Join(dir, "keys")).CombinedOutput()
	if err != nil {
		t.Errorf("dkimpy's ARC verifier on the forwarded copy: %v: %s", err, out)
	}
}
