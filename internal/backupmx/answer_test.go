package backupmx

import (
	"bufio"
	"strings"
	"testing"

	"postern/internal/smtp"
	"postern/internal/smtpclient"
)

// The primary's reply to RCPT, as it comes on the wire, and what the
// backup makes of it.
func TestAnswer(t *testing.T) {
	tests := []struct {
		wire  string
		ok    bool   // an answer (2xx or 5xx)
		want  string // the refusal passed on, "" for accepted
		noAns bool
	}{
		{"250 2.1.5 Ok\r\n", true, "", false},
		{"251 User not local; will forward\r\n", true, "", false},
		{"550 5.1.1 <x@example.org>: Recipient address rejected: User unknown in relay recipient table\r\n", true,
			"550 5.1.1 <x@example.org>: Recipient address rejected: User unknown in relay recipient table", false},
		{"553 sorry, that domain isn't in my list\r\n", true, "553 5.1.1 sorry, that domain isn't in my list", false},
		{"550-5.1.1 first line\r\n550 5.1.1 second line\r\n", true, "550 5.1.1 first line; second line", false},
		{"554 4.7.1 odd enhanced code\r\n", true, "554 5.1.1 4.7.1 odd enhanced code", false},
		{"550 \x1b[31mred\x7f text\r\n", true, "550 5.1.1 [31mred  text", false},
		{"550\r\n", true, "550 5.1.1 recipient refused by the primary mail server", false},
		{"450 4.2.0 greylisted, try again\r\n", false, "", true},
		{"421 4.3.2 shutting down\r\n", false, "", true},
		{"354 go ahead\r\n", false, "", true},
	}
	for _, tt := range tests {
		rep, err := smtpclient.ReadReply(bufio.NewReader(strings.NewReader(tt.wire)))
		if err != nil {
			t.Fatalf("%q: %v", tt.wire, err)
		}
		got, ok := Answer(rep)
		if ok != tt.ok {
			t.Errorf("%q: ok %v, want %v", tt.wire, ok, tt.ok)
			continue
		}
		s := ""
		if got != nil {
			s = got.Error()
		}
		if s != tt.want {
			t.Errorf("%q:\n got %q\nwant %q", tt.wire, s, tt.want)
		}
	}
	if _, ok := Answer(nil); ok {
		t.Error("no reply is an answer")
	}
	long := &smtp.Reply{Code: 550, Text: strings.Repeat("x", 2000)}
	if got, _ := Answer(long); len(got.Text) > maxText {
		t.Errorf("text of %d octets passed on", len(got.Text))
	}
}

// Whatever the primary sends, the refusal passed on is a 5xx with a 5.x.x
// code and one line of printable text.
func FuzzAnswer(f *testing.F) {
	f.Add([]byte("550 5.1.1 User unknown\r\n"))
	f.Add([]byte("250 Ok\r\n"))
	f.Fuzz(func(t *testing.T, wire []byte) {
		rep, err := smtpclient.ReadReply(bufio.NewReader(strings.NewReader(string(wire))))
		if err != nil {
			return
		}
		got, ok := Answer(rep)
		if !ok || got == nil {
			if ok && (rep.Code < 200 || rep.Code >= 300) {
				t.Fatalf("%q accepted", wire)
			}
			return
		}
		if !got.Permanent() || got.Enhanced[0] != '5' || len(got.Text) > maxText || got.Text == "" {
			t.Fatalf("%q gave %+v", wire, got)
		}
		for _, r := range got.Text {
			if r < 0x20 || r >= 0x7f {
				t.Fatalf("%q gave text %q", wire, got.Text)
			}
		}
	})
}
