package submit

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestReadInput(t *testing.T) {
	tests := []struct {
		name, in string
		dotEnds  bool
		want     string
	}{
		{"eof", "a\nb\n", true, "a\nb\n"},
		{"dot ends", "a\n.\nafter\n", true, "a\n"},
		{"dot crlf ends", "a\r\n.\r\nafter\r\n", true, "a\r\n"},
		{"dot at eof", "a\n.", true, "a\n"},
		{"dot first", ".\nrest\n", true, ""},
		{"-i keeps dot", "a\n.\nafter\n", false, "a\n.\nafter\n"},
		{"dots in a line", "a\n..\n. x\n.x\n", true, "a\n..\n. x\n.x\n"},
		{"dot not at line start", "a.\n", true, "a.\n"},
		{"no final newline", "a\nb", true, "a\nb"},
		{"space after dot is text", "a\n. \nb\n", true, "a\n. \nb\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadInput(strings.NewReader(tc.in), tc.dotEnds, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	long := strings.Repeat("x", 70000) + "\n.\n"
	got, err := ReadInput(strings.NewReader(long), true, 1<<20)
	if err != nil || len(got) != 70001 {
		t.Errorf("long line: %d bytes, %v", len(got), err)
	}
	for _, dot := range []bool{true, false} {
		if _, err := ReadInput(strings.NewReader(strings.Repeat("x\n", 100)), dot, 50); !errors.Is(err, ErrTooBig) {
			t.Errorf("dotEnds=%v: over the limit gave %v", dot, err)
		}
	}
}

func TestParseAddressList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{"a@example.org", []string{"a@example.org"}, false},
		{"A <a@example.org>, \"B, C\" <b@example.org>", []string{"a@example.org", "b@example.org"}, false},
		{"root", []string{"root@mx.example.test"}, false},
		{"root, alice@example.org", []string{"root@mx.example.test", "alice@example.org"}, false},
		{"Admin <root>", []string{"root@mx.example.test"}, false},
		{"undisclosed-recipients:;", nil, false},
		{"team: a@example.org, bob;", []string{"a@example.org", "bob@mx.example.test"}, false},
		{"a@example.org (the boss), root (cron)", []string{"a@example.org", "root@mx.example.test"}, false},
		{"", nil, false},
		{"a b c", nil, true},
		{"<a@example.org", nil, true},
		{"a@", nil, true},
		{"x@[300.1.1.1]", nil, true},
		{"José <jose@example.org>", []string{"jose@example.org"}, false},
	}
	for _, tc := range tests {
		got, err := ParseAddressList(tc.in, "mx.example.test")
		if (err != nil) != tc.err {
			t.Errorf("%q: error %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if !tc.err && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

var testNow = time.Date(2026, 11, 21, 1, 2, 3, 0, time.UTC)

func TestPrepare(t *testing.T) {
	opt := Options{From: "cron@mx.example.test", FullName: "Cron Daemon", Hostname: "mx.example.test", Now: testNow}
	t.Run("adds missing fields", func(t *testing.T) {
		p, err := Prepare([]byte("Subject: hi\n\nbody\n"), opt)
		if err != nil {
			t.Fatal(err)
		}
		s := string(p.Message)
		for _, want := range []string{"Subject: hi\n", `From: "Cron Daemon" <cron@mx.example.test>` + "\n",
			"Date: Sat, 21 Nov 2026 01:02:03 +0000\n", "Message-ID: <20261121010203."} {
			if !strings.Contains(s, want) {
				t.Errorf("no %q in %q", want, s)
			}
		}
		if !strings.HasSuffix(s, "@mx.example.test>\n\nbody\n") {
			t.Errorf("header/body layout: %q", s)
		}
		if !reflect.DeepEqual(p.Added, []string{"From", "Date", "Message-ID"}) {
			t.Errorf("added %q", p.Added)
		}
	})
	t.Run("keeps present fields", func(t *testing.T) {
		in := "From: me@example.org\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nmessage-id: <x@y>\r\n\r\nbody\r\n"
		p, err := Prepare([]byte(in), opt)
		if err != nil {
			t.Fatal(err)
		}
		if string(p.Message) != in || len(p.Added) != 0 {
			t.Errorf("changed: %q (added %q)", p.Message, p.Added)
		}
	})
	t.Run("-t with Bcc removal", func(t *testing.T) {
		in := "To: alice@example.test, root\nCc: Bob <bob@example.org>,\n  carol@example.org\nBcc: secret@example.org\nSubject: s\nBCC: other@example.org\n\nbody\nBcc: not a header\n"
		o := opt
		o.ExtractRcpts = true
		p, err := Prepare([]byte(in), o)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"alice@example.test", "root@mx.example.test", "bob@example.org", "carol@example.org", "secret@example.org", "other@example.org"}
		if !reflect.DeepEqual(p.Rcpts, want) {
			t.Errorf("rcpts %q, want %q", p.Rcpts, want)
		}
		s := string(p.Message)
		if strings.Contains(s, "secret@") || strings.Contains(s, "other@") || strings.Contains(strings.ToLower(s), "\nbcc: secret") {
			t.Errorf("Bcc left in the message: %q", s)
		}
		if !strings.Contains(s, "Cc: Bob <bob@example.org>,\n  carol@example.org\n") || !strings.HasSuffix(s, "\nbody\nBcc: not a header\n") {
			t.Errorf("message changed beyond Bcc: %q", s)
		}
	})
	t.Run("-t resent", func(t *testing.T) {
		in := "To: old@example.org\nResent-To: new@example.org\nResent-Bcc: hidden@example.org\n\nb\n"
		o := opt
		o.ExtractRcpts = true
		p, err := Prepare([]byte(in), o)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p.Rcpts, []string{"new@example.org", "hidden@example.org"}) {
			t.Errorf("rcpts %q", p.Rcpts)
		}
		if strings.Contains(string(p.Message), "hidden") {
			t.Errorf("Resent-Bcc kept: %q", p.Message)
		}
	})
	t.Run("-t duplicates", func(t *testing.T) {
		o := opt
		o.ExtractRcpts = true
		p, err := Prepare([]byte("To: a@example.org\nCc: A@EXAMPLE.ORG\n\n"), o)
		if err != nil || len(p.Rcpts) != 1 {
			t.Errorf("rcpts %q, %v", p.Rcpts, err)
		}
	})
	t.Run("-t bad address", func(t *testing.T) {
		o := opt
		o.ExtractRcpts = true
		if _, err := Prepare([]byte("To: a b c\n\n"), o); err == nil || !strings.Contains(err.Error(), "To:") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("no header", func(t *testing.T) {
		p, err := Prepare([]byte("just text\nmore\n"), opt)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(string(p.Message), ">\n\njust text\nmore\n") || !strings.HasPrefix(string(p.Message), "From: ") {
			t.Errorf("got %q", p.Message)
		}
	})
	t.Run("body line ends the header", func(t *testing.T) {
		p, err := Prepare([]byte("Subject: x\nnot a header\n"), opt)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(p.Message), "Subject: x\nFrom: ") || !strings.HasSuffix(string(p.Message), ">\n\nnot a header\n") {
			t.Errorf("got %q", p.Message)
		}
	})
	t.Run("mbox postmark dropped", func(t *testing.T) {
		p, err := Prepare([]byte("From cron Sat Nov 21 01:02:03 2026\nSubject: x\n\nb\n"), opt)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(p.Message), "From cron") {
			t.Errorf("postmark kept: %q", p.Message)
		}
	})
	t.Run("empty", func(t *testing.T) {
		p, err := Prepare(nil, opt)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Added) != 3 || !strings.HasSuffix(string(p.Message), ">\n\n") {
			t.Errorf("got %q", p.Message)
		}
	})
}
