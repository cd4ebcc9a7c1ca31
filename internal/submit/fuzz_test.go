package submit

import (
	"bytes"
	"strings"
	"testing"
)

func FuzzPrepare(f *testing.F) {
	f.Add([]byte("To: a@example.org, root\nBcc: b@example.org\nSubject: x\n\nbody\n"), true)
	f.Add([]byte("From x\nSubject: y\r\n  folded\r\n\r\n.\r\n"), false)
	f.Add([]byte("Resent-To: a\nResent-Bcc: (c) b@x.org\n"), true)
	f.Add([]byte("no header at all"), true)
	f.Fuzz(func(t *testing.T, msg []byte, extract bool) {
		p, err := Prepare(msg, Options{ExtractRcpts: extract, From: "u@h.example", Hostname: "h.example"})
		if err != nil {
			return
		}
		// The result parses again, with nothing left to add, and no Bcc
		// field survives in the header.
		fields, _, _ := splitHeader(p.Message)
		for _, fl := range fields {
			if n := strings.ToLower(fl.name); n == "bcc" || n == "resent-bcc" {
				t.Fatalf("Bcc kept: %q", p.Message)
			}
		}
		q, err := Prepare(p.Message, Options{From: "u@h.example", Hostname: "h.example"})
		if err != nil {
			t.Fatalf("second pass: %v", err)
		}
		if len(q.Added) != 0 {
			t.Fatalf("second pass added %q to %q", q.Added, p.Message)
		}
		for _, r := range p.Rcpts {
			if _, err := CheckAddress(r); err != nil {
				t.Fatalf("recipient %q: %v", r, err)
			}
		}
	})
}

func FuzzParseAddressList(f *testing.F) {
	for _, s := range []string{"a@b.example", "root", "A <a@b.example>, \"x,y\" <c@d.example>", "g: a, b;", "(c) x@y.example", "<a@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		list, err := ParseAddressList(s, "h.example")
		if err != nil {
			return
		}
		for _, a := range list {
			if _, err := CheckAddress(a); err != nil {
				t.Fatalf("%q gave %q: %v", s, a, err)
			}
		}
	})
}

func FuzzReadInput(f *testing.F) {
	f.Add([]byte("a\n.\nb"), true)
	f.Add([]byte(".\r\n"), true)
	f.Add([]byte("x.\n..\n"), false)
	f.Fuzz(func(t *testing.T, in []byte, dotEnds bool) {
		out, err := ReadInput(bytes.NewReader(in), dotEnds, 1<<16)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(in, out) {
			t.Fatalf("output %q is not a prefix of the input %q", out, in)
		}
		if !dotEnds && !bytes.Equal(in, out) {
			t.Fatalf("-i changed the input")
		}
	})
}
