package mailauth

import (
	"bytes"
	"strings"
	"testing"
)

func TestAuthservID(t *testing.T) {
	tests := map[string]string{
		"mx.example.test; spf=pass":              "mx.example.test",
		" MX.Example.Test 1; dkim=pass":          "mx.example.test",
		"(comment) mx.example.test; none":        "mx.example.test",
		"mx.example.test;":                       "mx.example.test",
		"mx.example.test":                        "mx.example.test",
		"other.example; spf=pass":                "other.example",
		"":                                       "",
		"(unclosed":                              "",
		"\"mx.example.test\"; dmarc=pass":        "mx.example.test",
		"mx.example.test.evil.example; spf=fail": "mx.example.test.evil.example",
	}
	for in, want := range tests {
		if got := authservID(in); got != want {
			t.Errorf("authservID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStripForged(t *testing.T) {
	msg := "Received: from a\r\n\tby b; now\r\n" +
		"Authentication-Results: mx.example.test;\r\n\tspf=pass smtp.mailfrom=a@b.example\r\n" +
		"Authentication-Results: other.example; dkim=pass\r\n" +
		"authentication-results: MX.EXAMPLE.TEST; dmarc=pass\r\n" +
		"From: a@b.example\r\n" +
		"\r\n" +
		"Authentication-Results: mx.example.test; body lines stay\r\n"
	want := "Received: from a\r\n\tby b; now\r\n" +
		"Authentication-Results: other.example; dkim=pass\r\n" +
		"From: a@b.example\r\n" +
		"\r\n" +
		"Authentication-Results: mx.example.test; body lines stay\r\n"
	var out bytes.Buffer
	n, err := stripForged(&out, strings.NewReader(msg), "mx.example.test")
	if err != nil || n != 2 || out.String() != want {
		t.Fatalf("stripForged = %d, %v\n%q\nwant\n%q", n, err, out.String(), want)
	}
	// Without a body, and without a final CRLF.
	out.Reset()
	n, err = stripForged(&out, strings.NewReader("Authentication-Results: mx.example.test; x\r\nSubject: s"), "mx.example.test")
	if err != nil || n != 1 || out.String() != "Subject: s" {
		t.Errorf("headers only: %d, %v, %q", n, err, out.String())
	}
	if !claimsOurs([]string{"a.example; x", "mx.example.test; spf=pass"}, "MX.example.test") || claimsOurs([]string{"a.example; x"}, "mx.example.test") {
		t.Error("claimsOurs")
	}
}

func FuzzStripForged(f *testing.F) {
	f.Add("Authentication-Results: mx.example.test; spf=pass\r\nFrom: a@b\r\n\r\nbody\r\n")
	f.Add("X: y\r\n\tz\r\n\r\n")
	f.Add("\r\n\r\n")
	f.Add(" leading continuation\r\n")
	f.Fuzz(func(t *testing.T, msg string) {
		var out bytes.Buffer
		n, err := stripForged(&out, strings.NewReader(msg), "mx.example.test")
		if err != nil {
			return
		}
		if n == 0 && out.String() != msg {
			t.Fatalf("nothing removed but output differs:\n%q\n%q", msg, out.String())
		}
		if out.Len() > len(msg) {
			t.Fatalf("output grew")
		}
	})
}

func TestSplitFields(t *testing.T) {
	got := splitFields("DKIM-Signature: a=1;\r\n b=2\r\nDKIM-Signature: c=3\r\n")
	if len(got) != 2 || got[0] != "DKIM-Signature: a=1;\r\n b=2" || got[1] != "DKIM-Signature: c=3" {
		t.Errorf("%q", got)
	}
}
