package audit

import (
	"bufio"
	"strings"
	"testing"
)

func replyFrom(s string) (*client, []string) {
	var log []string
	return &client{r: bufio.NewReader(strings.NewReader(s)), log: &log}, log
}

func TestReadReply(t *testing.T) {
	cases := []struct {
		in       string
		code     int
		enhanced string
		text     string
		err      string
	}{
		{"220 mx.example.test ESMTP\r\n", 220, "", "mx.example.test ESMTP", ""},
		{"250-mx.example.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n", 250, "", "mx.example.test\nPIPELINING\nSTARTTLS", ""},
		{"550 5.7.1 relay access denied\r\n", 550, "5.7.1", "5.7.1 relay access denied", ""},
		{"454 4.7.1 <a@b>: Relay access denied\n", 454, "4.7.1", "4.7.1 <a@b>: Relay access denied", ""},
		{"250 2.0.0\r\n", 250, "2.0.0", "2.0.0", ""},
		{"250\r\n", 250, "", "", ""},
		{"550 4.7.1 mismatched class\r\n", 550, "", "4.7.1 mismatched class", ""},
		{"25\r\n", 0, "", "", "malformed"},
		{"abc hello\r\n", 0, "", "", "malformed"},
		{"099 too low\r\n", 0, "", "", "malformed"},
		{"250-first\r\n251 second\r\n", 0, "", "", "code changed"},
		{"250-unterminated\r\n", 0, "", "", "EOF"},
		{"250 " + strings.Repeat("x", 5000) + "\r\n", 0, "", "", "too long"},
		{strings.Repeat("250-x\r\n", 300), 0, "", "", "too many lines"},
	}
	for _, c := range cases {
		cl, _ := replyFrom(c.in)
		rep, err := cl.readReply()
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%.40q: err %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if rep.Code != c.code || rep.Enhanced != c.enhanced || rep.Text != c.text {
			t.Errorf("%q: got %d %q %q", c.in, rep.Code, rep.Enhanced, rep.Text)
		}
	}
}

func FuzzReadReply(f *testing.F) {
	f.Add("250-a\r\n250 b\r\n")
	f.Add("550 5.7.1 no\r\n")
	f.Add("220\n")
	f.Fuzz(func(t *testing.T, s string) {
		cl, _ := replyFrom(s)
		for i := 0; i < 5; i++ {
			rep, err := cl.readReply()
			if err != nil {
				return
			}
			if rep.Code < 100 || rep.Code > 599 {
				t.Fatalf("code %d accepted", rep.Code)
			}
		}
	})
}
