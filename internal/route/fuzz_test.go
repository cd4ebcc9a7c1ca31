package route

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"postern/internal/inbound"
)

// FuzzRewriteHeaders: any content either stays as it is or keeps
// everything after the header section byte for byte.
func FuzzRewriteHeaders(f *testing.F) {
	f.Add("From: carol@host.example.com\r\n\r\nbody\r\n")
	f.Add("From: \"A, B\" <alice@host.example.com>, root@host.example.com\r\n\tx@y\r\nSender: <bob@host.example.com>\r\n\r\n")
	f.Add("Sender:\r\n\r\n")
	f.Add("From: =?utf-8?q?x?= <a@host.example.com>\r\nFrom: b@mx.example.com\r\n\r\nx")
	f.Add("Delivered-To: a@b\r\n\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		rw := testRewriter(t)
		m := &inbound.Message{}
		m.Write([]byte(s))
		r, _, err := rewriteHeaders(m, rw)
		if err != nil || r == nil {
			return
		}
		out, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		end := strings.Index(s, "\r\n\r\n")
		if end < 0 || !bytes.HasSuffix(out, []byte(s[end+2:])) {
			t.Fatalf("body changed: %q -> %q", s, out)
		}
		deliveredTo(bytes.NewReader(out), int64(len(out)))
	})
}
