package milter

import (
	"strings"
	"testing"

	gomilter "github.com/emersion/go-milter"
)

// FuzzSplitHeader checks that splitting never loses or invents bytes and
// that every field can be changed and rebuilt.
func FuzzSplitHeader(f *testing.F) {
	for _, s := range []string{
		"A: 1\r\nB: 2\r\n\r\nbody\r\n",
		"Subject: x\r\n  folded\r\n\r\n",
		"A: 1",
		"\r\n",
		"From x\r\nA: 1\r\n",
	} {
		f.Add(s, "X-New", "v\nw")
	}
	f.Fuzz(func(t *testing.T, msg, name, value string) {
		fields, off, err := splitHeader(strings.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		if off < 0 || off > int64(len(msg)) {
			t.Fatalf("body offset %d of %d", off, len(msg))
		}
		for _, fl := range fields {
			if !strings.HasSuffix(fl.raw, "\r\n") && !strings.HasSuffix(fl.raw, "\n") {
				t.Fatalf("field %q does not end a line", fl.raw)
			}
			fl.value(false)
			fl.value(true)
		}
		nf, err := newField(name, value)
		if err != nil {
			return
		}
		// A new field is one field, whatever the value holds.
		again, _, _ := splitHeader(strings.NewReader(nf.raw + "\r\n"))
		if len(again) != 1 || again[0].raw != nf.raw {
			t.Fatalf("newField(%q, %q) = %q reads back as %q", name, value, nf.raw, again)
		}
		insertField(fields, 1, name, value)
		changeField(fields, 1, name, value)
	})
}

func FuzzCustomReply(f *testing.F) {
	f.Add(554, "5.7.1 Gtube pattern")
	f.Add(550, "5.7.1 a\r\n550-5.7.1 b")
	f.Add(451, "")
	f.Fuzz(func(t *testing.T, code int, text string) {
		r, err := customReply(&gomilter.Action{Code: gomilter.ActReplyCode, SMTPCode: code, SMTPText: text})
		if err != nil {
			return
		}
		if r.Code < 400 || r.Code > 599 || r.Text == "" || r.Enhanced[0] != byte('0'+r.Code/100) {
			t.Fatalf("%d %q -> %+v", code, text, r)
		}
	})
}
