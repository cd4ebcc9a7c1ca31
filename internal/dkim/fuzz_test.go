package dkim

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/dnstest"
)

// FuzzSchedule feeds rotation.toml contents to ReadSchedule and States.
func FuzzSchedule(f *testing.F) {
	f.Add([]byte("[[selector]]\nname = \"s1\"\nalgo = \"rsa\"\ncreated = 2026-01-01T00:00:00Z\n"))
	f.Add([]byte("[[selector]]\nname = \"s1\"\nalgo = \"ed25519\"\ncreated = 2026-01-01T00:00:00Z\nactivate = 2026-01-02T00:00:00Z\nretired = true\n"))
	f.Add([]byte("[[selector]]\nname = \"s1\"\nalgo = \"rsa\"\ncreated = 2026-01-01T00:00:00Z\nforce = true\n"))
	f.Add([]byte("[[selector]]\nname = \"../x\"\nalgo = \"dsa\"\n"))
	f.Add([]byte("selector = 3"))
	dir := f.TempDir()
	_, pemBytes, err := GenerateKey(AlgoEd25519)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := WriteKey(dir, "example.org", "s1", pemBytes); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, "example.org", ScheduleFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		sels, err := ReadSchedule(dir, "example.org")
		if err != nil {
			return
		}
		states := States(sels, time.Now(), DefaultActivateAfter)
		active := map[string]int{}
		for _, s := range sels {
			if !ValidSelector(s.Name) {
				t.Fatalf("invalid selector %q accepted", s.Name)
			}
			if states[s.Name] == StateActive {
				active[s.Algo]++
			}
		}
		for algo, n := range active {
			if n > 1 {
				t.Fatalf("%d active %s selectors", n, algo)
			}
		}
	})
}

// FuzzRecordMatches feeds TXT record values to RecordMatches.
func FuzzRecordMatches(f *testing.F) {
	k, _, err := GenerateKey(AlgoEd25519)
	if err != nil {
		f.Fatal(err)
	}
	rec, _ := PublicRecord(k)
	f.Add(rec)
	f.Add("v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ")
	f.Add("p=;;;=;k")
	f.Fuzz(func(t *testing.T, s string) {
		if RecordMatches([]string{s}, k) == nil && !strings.Contains(s, "p=") {
			t.Fatalf("record without p= matched: %q", s)
		}
	})
}

// FuzzVerify runs whole messages through Verify, keys served by the
// loopback DNS server.
func FuzzVerify(f *testing.F) {
	dir := f.TempDir()
	rec := newKey(f, dir, "football.example.com", "e1", AlgoEd25519, time.Now().Add(-100*time.Hour))
	srv := dnstest.Start(f, dnstest.Zone{"e1._domainkey.football.example.com TXT": {rec}})
	s := NewSigner(discard(), SignOptions{Dir: dir})
	hdr, err := s.Sign(context.Background(), "football.example.com", strings.NewReader(testMessage))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(hdr + testMessage))
	f.Add([]byte("DKIM-Signature: v=1; a=rsa-sha1; d=x; s=y; h=from; bh=; b=\r\nFrom: a\r\n\r\n"))
	f.Add([]byte("DKIM-Signature: v=1; l=5; d=football.example.com; s=e1\r\n"))
	res := srv.Resolver()
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := Verify(context.Background(), res, discard(), bytes.NewReader(b), VerifyOptions{MaxSignatures: 3})
		if err == nil && len(rs) > 3 {
			t.Fatalf("%d results over the cap", len(rs))
		}
		for _, r := range rs {
			if r.Result == "" {
				t.Fatal("empty result")
			}
		}
	})
}
