package dkim

import (
	"bytes"
	"context"
	"crypto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	"postern/internal/dnstest"
)

// signWith signs msg with any key through the library, for vectors whose
// keys postern itself would not sign with.
func signWith(t *testing.T, key crypto.Signer, domain, selector string, msg []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	err := msgdkim.Sign(&out, bytes.NewReader(msg), &msgdkim.SignOptions{
		Domain: domain, Selector: selector, Signer: key,
		HeaderCanonicalization: msgdkim.CanonicalizationRelaxed,
		BodyCanonicalization:   msgdkim.CanonicalizationRelaxed,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

const testMessage = "From: Joe SixPack <joe@football.example.com>\r\n" +
	"To: Suzie Q <suzie@shopping.example.net>\r\n" +
	"Subject: Is dinner ready?\r\n" +
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n" +
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n" +
	"\r\n" +
	"Hi.\r\n" +
	"\r\n" +
	"We lost the game.  Are you hungry yet?\r\n" +
	"\r\n" +
	"Joe.\r\n"

// newKey makes a key for domain/selector in dir, as keygen does, created
// at the given time, and returns its TXT record.
func newKey(t testing.TB, dir, domain, selector, algo string, created time.Time) string {
	t.Helper()
	k, pemBytes, err := GenerateKey(algo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteKey(dir, domain, selector, pemBytes); err != nil {
		t.Fatal(err)
	}
	if err := AddSelector(dir, domain, Selector{Name: selector, Algo: algo, Created: created}); err != nil {
		t.Fatal(err)
	}
	rec, err := PublicRecord(k)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestSignBothAlgorithms(t *testing.T) {
	dir := t.TempDir()
	past := time.Now().Add(-100 * time.Hour)
	rsaRec := newKey(t, dir, "football.example.com", "r1", AlgoRSA, past)
	edRec := newKey(t, dir, "football.example.com", "e1", AlgoEd25519, past)
	srv := dnstest.Start(t, dnstest.Zone{
		"r1._domainkey.football.example.com TXT": {rsaRec},
		"e1._domainkey.football.example.com TXT": {edRec},
	})
	s := NewSigner(discard(), SignOptions{Dir: dir})
	hdr, err := s.Sign(context.Background(), "Football.Example.com", strings.NewReader(testMessage))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(hdr, "DKIM-Signature:"); n != 2 {
		t.Fatalf("want 2 signatures, got %d:\n%s", n, hdr)
	}
	if !strings.HasSuffix(hdr, "\r\n") || strings.Contains(hdr, "\r\n\r\n") {
		t.Fatalf("bad header block %q", hdr)
	}
	for _, line := range strings.Split(hdr, "\r\n") {
		if len(line) > 998 {
			t.Fatalf("line over 998 bytes")
		}
	}
	if !strings.Contains(hdr, "c=relaxed/relaxed") || !strings.Contains(hdr, "a=ed25519-sha256") || !strings.Contains(hdr, "a=rsa-sha256") {
		t.Errorf("unexpected tags:\n%s", hdr)
	}
	// From is present once, so it is named twice (oversigned).
	if !strings.Contains(hdr, "From:From:") {
		t.Errorf("From not oversigned:\n%s", hdr)
	}
	signed := hdr + testMessage
	rs := verifyBytes(t, srv.Resolver(), []byte(signed))
	if resultList(rs) != "pass,pass" {
		t.Fatalf("verify: %+v", rs)
	}
	// An added From (or a changed Subject) breaks both signatures.
	tampered := hdr + "From: mallory@evil.example\r\n" + testMessage
	if got := resultList(verifyBytes(t, srv.Resolver(), []byte(tampered))); got != "fail,fail" {
		t.Errorf("added From: %s", got)
	}
	tampered = strings.Replace(signed, "Is dinner ready?", "Send money", 1)
	if got := resultList(verifyBytes(t, srv.Resolver(), []byte(tampered))); got != "fail,fail" {
		t.Errorf("changed Subject: %s", got)
	}
	// Other domains, and a domain without keys, are not signed.
	for _, d := range []string{"example.net", "", "../etc", "Football.example.com.."} {
		if h, err := s.Sign(context.Background(), d, strings.NewReader(testMessage)); err != nil || h != "" {
			t.Errorf("domain %q: %q %v", d, h, err)
		}
	}
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	newKey(t, dir, "example.org", "old", AlgoRSA, t0)
	newKey(t, dir, "example.org", "new", AlgoRSA, t0.Add(30*24*time.Hour))
	newKey(t, dir, "example.org", "ed", AlgoEd25519, t0.Add(30*24*time.Hour))
	sels, err := ReadSchedule(dir, "example.org")
	if err != nil {
		t.Fatal(err)
	}
	check := func(at time.Time, want map[string]string) {
		t.Helper()
		got := States(sels, at, DefaultActivateAfter)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("at %s: %s is %s, want %s", at.Format(time.RFC3339), k, got[k], v)
			}
		}
	}
	check(t0.Add(time.Hour), map[string]string{"old": StatePending, "new": StatePending, "ed": StatePending})
	check(t0.Add(73*time.Hour), map[string]string{"old": StateActive, "new": StatePending, "ed": StatePending})
	// The new selector is published but not used until 72 h have passed.
	check(t0.Add(31*24*time.Hour), map[string]string{"old": StateActive, "new": StatePending, "ed": StatePending})
	// Past its time, the new RSA selector still waits for its DNS record
	// (gate_test.go); the first Ed25519 one signs on its time alone.
	check(t0.Add(34*24*time.Hour), map[string]string{"old": StateActive, "new": StatePending, "ed": StateActive})

	// The Signer follows the same schedule.
	now := t0.Add(31 * 24 * time.Hour)
	s := NewSigner(discard(), SignOptions{Dir: dir, Now: func() time.Time { return now }})
	hdr, err := s.Sign(context.Background(), "example.org", strings.NewReader(testMessage))
	if err != nil || !strings.Contains(hdr, "s=old;") || strings.Count(hdr, "DKIM-Signature") != 1 {
		t.Fatalf("before activation: %v\n%s", err, hdr)
	}
	now = t0.Add(34 * 24 * time.Hour) // past the reload interval too
	hdr, err = s.Sign(context.Background(), "example.org", strings.NewReader(testMessage))
	if err != nil || !strings.Contains(hdr, "s=old;") || !strings.Contains(hdr, "s=ed;") || strings.Contains(hdr, "s=new;") {
		t.Fatalf("after activation: %v\n%s", err, hdr)
	}

	// A key file the schedule does not list is dated by its mtime.
	_, pemBytes, _ := GenerateKey(AlgoEd25519)
	if _, err := WriteKey(dir, "example.org", "copied", pemBytes); err != nil {
		t.Fatal(err)
	}
	sels, err = ReadSchedule(dir, "example.org")
	if err != nil || len(sels) != 4 || sels[3].Name != "copied" || sels[3].Algo != AlgoEd25519 {
		t.Fatalf("unlisted key: %+v %v", sels, err)
	}
}

func TestWriteKeyModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dkim")
	_, pemBytes, err := GenerateKey(AlgoEd25519)
	if err != nil {
		t.Fatal(err)
	}
	path, err := WriteKey(dir, "example.org", "s1", pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700 | os.ModeDir, filepath.Dir(path): 0o700 | os.ModeDir} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v (%v)", p, fi.Mode(), want, err)
		}
	}
	if _, err := WriteKey(dir, "example.org", "s1", pemBytes); err == nil {
		t.Error("overwrote an existing key")
	}
	for _, bad := range [][2]string{{"example.org", "../x"}, {"example.org", "a.b"}, {"../etc", "s"}, {"Example.org", "s"}, {"org", "s"}} {
		if _, err := WriteKey(dir, bad[0], bad[1], pemBytes); err == nil {
			t.Errorf("accepted domain %q selector %q", bad[0], bad[1])
		}
	}
}

func TestSplitTXT(t *testing.T) {
	k, _, err := GenerateKey(AlgoRSA)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := PublicRecord(k)
	parts := SplitTXT(rec)
	if len(parts) < 2 || strings.Join(parts, "") != rec {
		t.Fatalf("split %d parts", len(parts))
	}
	for _, p := range parts {
		if len(p) > 255 {
			t.Fatalf("part of %d bytes", len(p))
		}
	}
}

func TestRecordMatches(t *testing.T) {
	rk, _, _ := GenerateKey(AlgoRSA)
	ek, _, _ := GenerateKey(AlgoEd25519)
	other, _, _ := GenerateKey(AlgoEd25519)
	rrec, _ := PublicRecord(rk)
	erec, _ := PublicRecord(ek)
	orec, _ := PublicRecord(other)
	tests := []struct {
		txts []string
		key  crypto.Signer
		ok   bool
	}{
		{[]string{rrec}, rk, true},
		{[]string{strings.Replace(rrec, "v=DKIM1; k=rsa; ", "", 1)}, rk, true}, // k= defaults to rsa
		{[]string{erec}, ek, true},
		{[]string{orec}, ek, false},
		{[]string{erec}, rk, false},
		{[]string{erec, erec}, ek, false},
		{nil, ek, false},
		{[]string{"v=DKIM1; k=ed25519; p="}, ek, false},
		{[]string{"v=DKIM2; k=ed25519; p=" + strings.Split(erec, "p=")[1]}, ek, false},
		{[]string{"v=DKIM1; k=ed25519; p=!!"}, ek, false},
	}
	for i, tc := range tests {
		if err := RecordMatches(tc.txts, tc.key); (err == nil) != tc.ok {
			t.Errorf("case %d: %v, want ok=%v", i, err, tc.ok)
		}
	}
}
