package arc

import (
	"context"
	"strings"
	"testing"

	"postern/internal/dkim"
	"postern/internal/dnstest"
)

func FuzzParseAS(f *testing.F) {
	f.Add([]byte(sealV))
	f.Add([]byte("i=51; a=rsa-sha256; cv=pass; d=a.b; s=s; b=AA==; h=x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseAS(b)
		if err != nil {
			return
		}
		if s.Instance < 1 || s.Instance > MaxInstance || s.BStart > s.BEnd || s.BEnd > len(b) {
			t.Fatalf("accepted %q as %+v", b, s)
		}
	})
}

func FuzzParseAMS(f *testing.F) {
	f.Add([]byte(amsV))
	f.Add([]byte("i=1; a=ed25519-sha256; d=a.b; s=s; h=; bh=AA==; b=AA==; c=simple"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseAMS(b)
		if err != nil {
			return
		}
		if s.Instance < 1 || s.Instance > MaxInstance || s.BStart > s.BEnd || s.BEnd > len(b) {
			t.Fatalf("accepted %q as %+v", b, s)
		}
	})
}

func FuzzParseAAR(f *testing.F) {
	f.Add([]byte("i=1; lists.example.org; arc=none;\r\n spf=pass smtp.mfrom=jqd@d1.example"))
	f.Add([]byte(`i=2; mx (c;) 1; dkim=fail reason="x;y" (z\)); none`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAAR(b)
		if err != nil {
			return
		}
		if a.Instance < 1 || a.Instance > MaxInstance || a.AuthServID == "" {
			t.Fatalf("accepted %q as %+v", b, a)
		}
		for _, r := range a.Results {
			parseResult(r)
		}
	})
}

// FuzzVerify validates arbitrary messages: it must not panic, and a
// message without ARC fields has cv=none.
func FuzzVerify(f *testing.F) {
	f.Add([]byte("ARC-Seal: " + sealV + "\r\nARC-Message-Signature: " + strings.Replace(amsV, "i=2", "i=1", 1) +
		"\r\nARC-Authentication-Results: i=1; x.example; none\r\nFrom: a@b.example\r\n\r\nbody\r\n"))
	f.Add([]byte("From: a@b.example\r\n\r\n"))
	srv := dnstest.Start(f, dnstest.Zone{})
	v := &Verifier{DKIM: dkim.NewVerifier(dkim.VerifyOptions{}), Resolver: srv.Resolver()}
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := v.Verify(context.Background(), strings.NewReader(string(b)))
		if err != nil {
			return
		}
		if res.CV != None && res.CV != Pass && res.CV != Fail {
			t.Fatalf("cv %q", res.CV)
		}
	})
}
