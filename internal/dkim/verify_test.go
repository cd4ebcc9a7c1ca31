package dkim

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/authres"

	"postern/internal/dnstest"
)

func TestVerifyCapAndHeaders(t *testing.T) {
	dir := t.TempDir()
	rec := newKey(t, dir, "football.example.com", "e1", AlgoEd25519, time.Now().Add(-100*time.Hour))
	srv := dnstest.Start(t, dnstest.Zone{"e1._domainkey.football.example.com TXT": {rec}})
	s := NewSigner(discard(), SignOptions{Dir: dir})
	one, err := s.Sign(context.Background(), "football.example.com", strings.NewReader(testMessage))
	if err != nil || one == "" {
		t.Fatal(err)
	}
	msg := strings.Repeat(one, 7) + testMessage
	rs, err := Verify(context.Background(), srv.Resolver(), discard(), strings.NewReader(msg), VerifyOptions{})
	if err != nil || len(rs) != DefaultMaxSignatures {
		t.Fatalf("default cap: %d results, %v", len(rs), err)
	}
	rs, err = Verify(context.Background(), srv.Resolver(), discard(), strings.NewReader(msg), VerifyOptions{MaxSignatures: 2})
	if err != nil || len(rs) != 2 || rs[0].Result != Pass {
		t.Fatalf("cap 2: %+v, %v", rs, err)
	}
	r := rs[0]
	if r.Domain != "football.example.com" || r.Selector != "e1" || r.Algorithm != "ed25519-sha256" || r.AUID != "@football.example.com" {
		t.Errorf("result fields: %+v", r)
	}
	got := authres.Format("mx.example.org", []authres.Result{r.AuthResult()})
	want := "mx.example.org; dkim=pass header.a=ed25519-sha256 header.b=" + r.B[:8] +
		" header.d=football.example.com header.i=@football.example.com header.s=e1"
	if got != want {
		t.Errorf("Authentication-Results:\n got %s\nwant %s", got, want)
	}
	if none := authres.Format("mx", AuthResults(nil)); none != "mx; dkim=none " && none != "mx; dkim=none" {
		t.Errorf("no signatures: %q", none)
	}

	// No signatures: no results and no error; not a message: no panic.
	rs, err = Verify(context.Background(), srv.Resolver(), discard(), strings.NewReader(testMessage), VerifyOptions{})
	if err != nil || len(rs) != 0 {
		t.Errorf("unsigned: %v %v", rs, err)
	}
	for _, junk := range []string{"", "\r\n", "DKIM-Signature: v=1; a=\r\n", "DKIM-Signature:\r\n\r\nbody", "x"} {
		if _, err := Verify(context.Background(), srv.Resolver(), discard(), strings.NewReader(junk), VerifyOptions{}); err != nil {
			t.Logf("junk %q: %v", junk, err)
		}
	}
}

func TestReadHeader(t *testing.T) {
	head := "Received: x\r\nDKIM-Signature: v=1; a=rsa-sha256; d=Example.org;\r\n\ts=sel ; b=abc\r\n def ==;\r\n" +
		"dkim-signature:d=b.example;s=x;b=zz\r\nFrom: a@b\r\n\r\n"
	h, err := readHeader(bufio.NewReader(strings.NewReader(head + "body\r\n")))
	if err != nil || string(h) != head {
		t.Fatalf("readHeader: %q %v", h, err)
	}
	keys := strings.Join(oversign(h), ":")
	if !strings.HasPrefix(keys, "From:From:Sender:Reply-To:To:Cc:") {
		t.Errorf("oversign: %s", keys)
	}
	if got := terminateHeader([]byte("A: b\r\n")); !bytes.Equal(got, []byte("A: b\r\n\r\n")) {
		t.Errorf("terminateHeader: %q", got)
	}
}

func TestPeekHeader(t *testing.T) {
	for _, c := range []struct {
		in, head string
		ok       bool
	}{
		{"A: b\r\n\r\nbody\r\n", "A: b\r\n\r\n", true},
		{"A: b\n\nbody\n", "A: b\n\n", true},
		{"A: b\r\n c\r\n\r\n", "A: b\r\n c\r\n\r\n", true},
		{"\r\nbody", "\r\n", true},
		{"A: b\r\n", "", false},                                     // no end of header: read the slow way
		{"A: b\r\nB: c", "", false},                                 // idem
		{"A: " + strings.Repeat("x", 5000) + "\r\n\r\n", "", false}, // over the buffer
	} {
		br := bufio.NewReaderSize(strings.NewReader(c.in), 4096)
		head, ok := peekHeader(br)
		if ok != c.ok || string(head) != c.head {
			t.Errorf("%.20q: %q %v, want %q %v", c.in, head, ok, c.head, c.ok)
		}
		if all, _ := io.ReadAll(br); string(all) != c.in {
			t.Errorf("%.20q: peeking consumed input", c.in)
		}
	}
}

// TestVerifyHeaderPaths checks that a message verifies alike whether
// its header is read in place (it fits in the reader's buffer) or the
// slow way (a header larger than the buffer).
func TestVerifyHeaderPaths(t *testing.T) {
	dir := t.TempDir()
	rec := newKey(t, dir, "football.example.com", "paths", AlgoEd25519, time.Now().Add(-100*time.Hour))
	srv := dnstest.Start(t, dnstest.Zone{"paths._domainkey.football.example.com TXT": {rec}})
	s := NewSigner(discard(), SignOptions{Dir: dir})
	for _, extra := range []string{"", "X-Big: " + strings.Repeat("y", 70<<10) + "\r\n"} {
		msg := extra + testMessage
		h, err := s.Sign(context.Background(), "football.example.com", strings.NewReader(msg))
		if err != nil || h == "" {
			t.Fatalf("sign: %v", err)
		}
		res, err := Verify(context.Background(), srv.Resolver(), discard(), strings.NewReader(h+msg), VerifyOptions{})
		if err != nil || len(res) != 1 || res[0].Result != Pass || res[0].Selector != "paths" {
			t.Errorf("header of %d bytes: %+v %v", len(extra), res, err)
		}
		// A caller's small reader is taken as it is.
		res, err = Verify(context.Background(), srv.Resolver(), discard(), bufio.NewReaderSize(strings.NewReader(h+msg), minReaderSize), VerifyOptions{})
		if err != nil || len(res) != 1 || res[0].Result != Pass {
			t.Errorf("header of %d bytes, small reader: %+v %v", len(extra), res, err)
		}
		res, err = Verify(context.Background(), srv.Resolver(), discard(), strings.NewReader(h+msg+"tampered\r\n"), VerifyOptions{})
		if err != nil || len(res) != 1 || res[0].Result != Fail {
			t.Errorf("tampered, header of %d bytes: %+v %v", len(extra), res, err)
		}
	}
}

func FuzzHeader(f *testing.F) {
	f.Add([]byte("DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s; b=abc\r\nFrom: a@b\r\n\r\nbody"))
	f.Add([]byte("From: x\r\n continued\r\nDKIM-Signature:;;;=;d\r\n"))
	f.Add([]byte("\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if ph, ok := peekHeader(bufio.NewReaderSize(bytes.NewReader(b), 4096)); ok {
			if !bytes.HasPrefix(b, ph) {
				t.Fatal("peeked header is not a prefix of the input")
			}
		}
		h, err := readHeader(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		if !bytes.HasPrefix(b, h) {
			t.Fatal("header is not a prefix of the input")
		}
		h = terminateHeader(h)
		keys := oversign(h)
		if len(keys) < len(signedHeaders) || keys[0] != "From" {
			t.Fatalf("oversign lost fields: %v", keys)
		}
	})
}

func FuzzParseKey(f *testing.F) {
	_, ed, _ := GenerateKey(AlgoEd25519)
	f.Add(ed)
	f.Add([]byte("nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKey(b)
		if err == nil && KeyAlgo(k) == "" {
			t.Fatalf("key of unknown algorithm %T", k)
		}
	})
}
