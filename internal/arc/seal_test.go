package arc

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"postern/internal/dkim"
	"postern/internal/dnstest"
	"postern/internal/testenv"
)

const testMsg = "Authentication-Results: mx.example.net;\r\n\tspf=pass smtp.mailfrom=a@sender.example;\r\n\tarc=none\r\n" +
	"Authentication-Results: other.example; dkim=fail\r\n" +
	"From: A <a@sender.example>\r\nTo: b@example.net\r\nSubject: hello\r\nDate: Mon, 7 Dec 2026 09:00:00 +0000\r\n\r\nHi  there.\r\n\r\n"

// sealer is a key published in a test zone.
type sealer struct {
	key    crypto.Signer
	record string
}

func newSealer(t *testing.T) sealer {
	t.Helper()
	k, _, err := dkim.GenerateKey(dkim.AlgoRSA)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := dkim.PublicRecord(k)
	if err != nil {
		t.Fatal(err)
	}
	return sealer{k, rec}
}

// TestSealChain seals a message three times, as three forwarders would,
// and validates the chain after each hop.
func TestSealChain(t *testing.T) {
	s1, s2 := newSealer(t), newSealer(t)
	srv := dnstest.Start(t, dnstest.Zone{
		"arc._domainkey.hop1.example TXT": {s1.record},
		"arc._domainkey.hop2.example TXT": {s2.record},
	})
	v := &Verifier{DKIM: dkim.NewVerifier(dkim.VerifyOptions{}), Resolver: srv.Resolver()}
	msg := testMsg
	cv := None
	hops := []struct {
		domain string
		s      sealer
	}{{"hop1.example", s1}, {"hop2.example", s2}, {"hop1.example", s1}}
	for i, h := range hops {
		set, err := Seal(strings.NewReader(msg), SealOptions{Domain: h.domain, Selector: "arc", Key: h.s.key,
			AuthServID: "mx.example.net", CV: cv})
		if err != nil {
			t.Fatalf("hop %d: %v", i+1, err)
		}
		if i == 0 && !strings.Contains(set, "spf=pass smtp.mailfrom=a@sender.example;\r\n\tarc=none\r\n") ||
			strings.Contains(set, "dkim=fail") {
			t.Errorf("hop %d: AAR not from our Authentication-Results:\n%s", i+1, set)
		}
		msg = set + "Received: by hop\r\n" + msg
		res, err := v.Verify(context.Background(), strings.NewReader(msg))
		if err != nil || res.CV != Pass || res.Instance != i+1 || len(res.Hops) != i+1 || res.Hops[i].Sealer != h.domain {
			t.Fatalf("hop %d: %+v, %v\n%s", i+1, res, err, msg)
		}
		cv = res.CV
		dkimpyVerify(t, msg, map[string]string{
			"arc._domainkey.hop1.example": s1.record, "arc._domainkey.hop2.example": s2.record})
	}
	// The body changed after the last seal: the newest AMS fails.
	res, _ := v.Verify(context.Background(), strings.NewReader(msg+"more\r\n"))
	if res.CV != Fail || !strings.Contains(res.Reason, "body hash") {
		t.Errorf("changed body: %+v", res)
	}
	// A hop that found the chain failed seals with cv=fail, over its own set only.
	set, err := Seal(strings.NewReader(msg+"more\r\n"), SealOptions{Domain: "hop2.example", Selector: "arc", Key: s2.key, AuthServID: "x", CV: Fail})
	if err != nil || !strings.Contains(set, "cv=fail") || !strings.Contains(set, "i=4") {
		t.Fatalf("cv=fail seal: %v\n%s", err, set)
	}
	failed := set + msg + "more\r\n"
	if res, _ := v.Verify(context.Background(), strings.NewReader(failed)); res.CV != Fail || res.NewestCV != Fail {
		t.Errorf("after cv=fail: %+v", res)
	}
	// And after it nobody seals (RFC 8617 5.1 step 2).
	if _, err := Seal(strings.NewReader(failed), SealOptions{Domain: "hop1.example", Selector: "arc", Key: s1.key, CV: Fail}); !errors.Is(err, ErrNotSealed) {
		t.Errorf("sealed after cv=fail: %v", err)
	}
}

// dkimpyVerify checks msg with dkimpy's ARC verifier (Debian's
// python3-dkim), an implementation independent of ours, when present.
func dkimpyVerify(t *testing.T, msg string, keys map[string]string) {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil || exec.Command(py, "-c", "import dkim").Run() != nil {
		testenv.Missing(t, "Debian's python3-dkim (for an independent ARC check)")
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "msg")
	if err := os.WriteFile(path, []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	var zone strings.Builder
	for n, v := range keys {
		zone.WriteString(n + "\t" + v + "\n")
	}
	script := `import sys, dkim
keys = dict(l.rstrip("\n").split("\t", 1) for l in open(sys.argv[2]))
def dns(name, timeout=5):
    return keys.get(name.decode().rstrip("."), "").encode()
cv, res, why = dkim.arc_verify(open(sys.argv[1], "rb").read(), dnsfunc=dns)
print(cv.decode(), why)
sys.exit(0 if cv == b"pass" else 1)
`
	zf := filepath.Join(dir, "keys")
	if err := os.WriteFile(zf, []byte(zone.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", script, path, zf).CombinedOutput()
	if err != nil {
		t.Errorf("dkimpy: %v: %s", err, out)
	}
}

// TestSealStatusFromOurResults: without CV, the seal takes the chain
// status from our own Authentication-Results.
func TestSealStatusFromOurResults(t *testing.T) {
	s := newSealer(t)
	set, err := Seal(strings.NewReader(testMsg), SealOptions{Domain: "hop1.example", Selector: "arc", Key: s.key, AuthServID: "list.example", CV: None})
	if err != nil {
		t.Fatal(err)
	}
	for ar, want := range map[string]string{
		"Authentication-Results: mx.example.net; arc=pass header.oldest-pass=0\r\n": "cv=pass",
		"Authentication-Results: mx.example.net; arc=fail\r\n":                      "cv=fail",
		"Authentication-Results: other.example; arc=pass\r\n":                       "cv=fail",
		"Authentication-Results: mx.example.net; arc=temperror\r\n":                 "cv=fail",
	} {
		got, err := Seal(strings.NewReader(ar+set+testMsg), SealOptions{Domain: "hop2.example", Selector: "arc", Key: s.key, AuthServID: "mx.example.net"})
		if err != nil || !strings.Contains(got, want+";") || !strings.Contains(got, "i=2;") {
			t.Errorf("%q: %v\n%s", ar, err, got)
		}
	}
}

// TestSealInstanceLimit: RFC 8617 4.2.1, instances go up to 50; a
// chain of 50 sets gets no 51st.
func TestSealInstanceLimit(t *testing.T) {
	s := newSealer(t)
	var b strings.Builder
	for i := 50; i >= 1; i-- {
		fmt.Fprintf(&b, "ARC-Seal: i=%d; a=rsa-sha256; cv=pass; d=x.example; s=s; b=AAAA\r\n", i)
		fmt.Fprintf(&b, "ARC-Message-Signature: i=%d; a=rsa-sha256; d=x.example; s=s; h=from; bh=AAAA; b=AAAA\r\n", i)
		fmt.Fprintf(&b, "ARC-Authentication-Results: i=%d; x.example; none\r\n", i)
	}
	_, err := Seal(strings.NewReader(b.String()+testMsg), SealOptions{Domain: "hop1.example", Selector: "arc", Key: s.key, AuthServID: "mx.example.net", CV: Pass})
	if !errors.Is(err, ErrNotSealed) {
		t.Errorf("a 51st set: %v", err)
	}
}
