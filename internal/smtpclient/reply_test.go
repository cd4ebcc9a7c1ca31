package smtpclient

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

func TestReadReply(t *testing.T) {
	tests := []struct {
		in       string
		code     int
		enhanced string
		text     string
		bad      bool
	}{
		{in: "250 OK\r\n", code: 250, text: "OK"},
		{in: "250\r\n", code: 250, text: ""},
		{in: "250 2.1.0 Sender ok\r\n", code: 250, enhanced: "2.1.0", text: "Sender ok"},
		{in: "550-5.1.1 no such\r\n550-5.1.1 user\r\n550 5.1.1 here\r\n", code: 550, enhanced: "5.1.1", text: "no such\nuser\nhere"},
		{in: "451 5.1.1 class mismatch\r\n", code: 451, text: "5.1.1 class mismatch"},
		{in: "250-mx.example.org\r\n250-PIPELINING\r\n250 SIZE 1000\r\n", code: 250, text: "mx.example.org\nPIPELINING\nSIZE 1000"},
		{in: "250 bare LF\n", code: 250, text: "bare LF"},
		{in: "220 a\x00b\r\n", code: 220, text: "a b"},
		{in: "25\r\n", bad: true},
		{in: "abc hello\r\n", bad: true},
		{in: "2500 hello\r\n", bad: true},
		{in: "199 too low\r\n", bad: true},
		{in: "600 too high\r\n", bad: true},
		{in: "250-first\r\n251 second\r\n", bad: true},
		{in: "250-first\r\n", bad: true}, // EOF within the reply
		{in: "", bad: true},
		{in: "250 " + strings.Repeat("x", 5000) + "\r\n", bad: true},
		{in: strings.Repeat("250-x\r\n", 101) + "250 y\r\n", bad: true},
	}
	for _, tt := range tests {
		rep, err := ReadReply(bufio.NewReader(strings.NewReader(tt.in)))
		if tt.bad {
			if err == nil {
				t.Errorf("ReadReply(%q) = %v, want an error", tt.in, rep)
			}
			continue
		}
		if err != nil {
			t.Errorf("ReadReply(%q): %v", tt.in, err)
			continue
		}
		if rep.Code != tt.code || rep.Enhanced != tt.enhanced || rep.Text != tt.text {
			t.Errorf("ReadReply(%q) = %d %q %q, want %d %q %q", tt.in, rep.Code, rep.Enhanced, rep.Text, tt.code, tt.enhanced, tt.text)
		}
	}
	_, err := ReadReply(bufio.NewReader(strings.NewReader("xyz\r\n")))
	if !errors.Is(err, ErrProtocol) {
		t.Errorf("garbage: %v, want ErrProtocol", err)
	}
}

func TestParseEHLO(t *testing.T) {
	e := ParseEHLO("mx.example.org greets you\nPIPELINING\nSIZE 10240000\nauth=LOGIN\nAUTH PLAIN LOGIN\n8bitmime\nDSN\nSTARTTLS\n  \nENHANCEDSTATUSCODES")
	for _, k := range []string{"PIPELINING", "SIZE", "AUTH", "8BITMIME", "DSN", "STARTTLS", "ENHANCEDSTATUSCODES"} {
		if !e.Has(k) {
			t.Errorf("missing %s in %v", k, e)
		}
	}
	if e.Size() != 10240000 {
		t.Errorf("Size = %d", e.Size())
	}
	if got := strings.Join(e.AuthMechanisms(), " "); got != "LOGIN PLAIN LOGIN" {
		t.Errorf("AUTH = %q", got)
	}
	if e.Has("SMTPUTF8") {
		t.Error("SMTPUTF8 not announced")
	}
	sizes := map[string]int64{"": -1, "SIZE": 0, "SIZE 0": 0, "SIZE abc": 0, "SIZE -5": 0, "SIZE 99999999999999999999": 0, "SIZE 1000": 1000}
	for line, want := range sizes {
		if got := ParseEHLO("x\n" + line).Size(); got != want {
			t.Errorf("%q: Size = %d, want %d", line, got, want)
		}
	}
	if g := Greeting("MX.Example.ORG. ESMTP ready\nmore"); g != "mx.example.org" {
		t.Errorf("Greeting = %q", g)
	}
}

func FuzzReadReply(f *testing.F) {
	f.Add("250 OK\r\n")
	f.Add("250-a\r\n250-b\r\n250 2.0.0 c\r\n")
	f.Add("550-5.1.1 x\r\n550 y\r\n")
	f.Add("220\n")
	f.Fuzz(func(t *testing.T, s string) {
		rep, err := ReadReply(bufio.NewReader(strings.NewReader(s)))
		if err != nil {
			return
		}
		if rep.Code < 200 || rep.Code > 599 {
			t.Fatalf("code %d", rep.Code)
		}
		if strings.ContainsAny(rep.Text, "\r\x00") {
			t.Fatalf("control characters in %q", rep.Text)
		}
		if rep.Enhanced != "" && !isEnhanced(rep.Enhanced, rep.Code) {
			t.Fatalf("bad enhanced code %q", rep.Enhanced)
		}
	})
}

func FuzzParseEHLO(f *testing.F) {
	f.Add("mx\nPIPELINING\nSIZE 100\nAUTH PLAIN")
	f.Add("x\nAUTH=LOGIN PLAIN\nSIZE")
	f.Fuzz(func(t *testing.T, s string) {
		e := ParseEHLO(s)
		if len(e) > 64 {
			t.Fatalf("%d extensions", len(e))
		}
		if e.Size() < -1 {
			t.Fatal("negative size")
		}
		_ = e.AuthMechanisms()
		_ = Greeting(s)
	})
}
