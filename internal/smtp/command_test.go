package smtp

import "testing"

func TestParseCommand(t *testing.T) {
	cases := []struct {
		line      string
		verb, arg string
		ok        bool
	}{
		{"QUIT", "QUIT", "", true},
		{"quit", "QUIT", "", true},
		{"MAIL FROM:<a@b.example> SIZE=1", "MAIL", "FROM:<a@b.example> SIZE=1", true},
		{"mail FROM:<>", "MAIL", "FROM:<>", true},
		{"EHLO client.example", "EHLO", "client.example", true},
		{"MAIL  FROM:<>", "MAIL", " FROM:<>", true},
		{"NOOP ", "NOOP", "", true},
		{"STARTTLS", "STARTTLS", "", true},
		{"X-CUSTOM arg", "X-CUSTOM", "arg", true},
		{"RCPT TO:<jörg@example.com>", "RCPT", "TO:<jörg@example.com>", true},
		{"", "", "", false},
		{" QUIT", "", "", false},
		{"QU\x00IT", "", "", false},
		{"QUIT\r", "", "", false},
		{"QUIT\n", "", "", false},
		{"DATA\rQUIT", "", "", false},
		{"MAIL FROM:<a\x00@b>", "", "", false},
		{"HELO\tx", "", "", false},
		{"HELO x\x7f", "", "", false},
		{"HELO x\x1b[0m", "", "", false},
		{"HELO \xff\xfe", "", "", false},
		{"HEL/O x", "", "", false},
		{"VERYVERYLONGVERBNAME x", "", "", false},
	}
	for _, c := range cases {
		v, a, r := ParseCommand([]byte(c.line))
		if c.ok != (r == nil) {
			t.Errorf("ParseCommand(%q): reply %v, want ok=%v", c.line, r, c.ok)
			continue
		}
		if r != nil {
			if r.Code != 500 || r.Enhanced != "5.5.2" {
				t.Errorf("ParseCommand(%q): %v, want 500 5.5.2", c.line, r)
			}
			continue
		}
		if v != c.verb || a != c.arg {
			t.Errorf("ParseCommand(%q) = %q %q, want %q %q", c.line, v, a, c.verb, c.arg)
		}
	}
}

func TestParseBDAT(t *testing.T) {
	cases := []struct {
		arg  string
		size int64
		last bool
		ok   bool
	}{
		{"0", 0, false, true},
		{"1000", 1000, false, true},
		{"1000 LAST", 1000, true, true},
		{"0 last", 0, true, true},
		{"007 Last", 7, true, true},
		{"9223372036854775807", 9223372036854775807, false, true},
		{"9223372036854775808", 0, false, false},
		{"99999999999999999999999", 0, false, false},
		{"", 0, false, false},
		{"LAST", 0, false, false},
		{" 100", 0, false, false},
		{"100 ", 0, false, false},
		{"100  LAST", 0, false, false},
		{"100 LAST ", 0, false, false},
		{"100 LAST x", 0, false, false},
		{"100 FIRST", 0, false, false},
		{"+100", 0, false, false},
		{"-1", 0, false, false},
		{"0x10", 0, false, false},
		{"1e3", 0, false, false},
		{"１０", 0, false, false},
	}
	for _, c := range cases {
		size, last, r := ParseBDAT(c.arg)
		if c.ok != (r == nil) {
			t.Errorf("ParseBDAT(%q): reply %v, want ok=%v", c.arg, r, c.ok)
			continue
		}
		if r != nil {
			if r.Code != 501 {
				t.Errorf("ParseBDAT(%q): %v", c.arg, r)
			}
			continue
		}
		if size != c.size || last != c.last {
			t.Errorf("ParseBDAT(%q) = %d %v, want %d %v", c.arg, size, last, c.size, c.last)
		}
	}
}
