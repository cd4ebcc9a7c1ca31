package smtp

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"QUIT", "MAIL FROM:<a@b.example>", "EHLO x", "", " ", "DATA\r", "A\x00B", "BDAT 10 LAST", "x\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		verb, arg, r := ParseCommand(line)
		if r != nil {
			if r.Code != 500 {
				t.Fatalf("reply %v", r)
			}
			return
		}
		if verb == "" || verb != strings.ToUpper(verb) || len(verb) > maxVerbLen {
			t.Fatalf("verb %q", verb)
		}
		if strings.ContainsAny(verb+arg, "\x00\r\n") || !utf8.ValidString(arg) {
			t.Fatalf("bad bytes accepted: %q %q", verb, arg)
		}
		if !strings.EqualFold(string(line), verb) && !strings.EqualFold(string(line), verb+" "+arg) {
			t.Fatalf("split %q into %q %q", line, verb, arg)
		}
		// ParseBDAT must also cope with any argument.
		if n, _, r := ParseBDAT(arg); r == nil && n < 0 {
			t.Fatalf("negative BDAT size %d", n)
		}
	})
}

// checkParsedPath holds for every accepted path.
func checkParsedPath(t *testing.T, p Path, utf8ok bool) {
	if p.IsNull() || p.IsPostmaster() {
		return
	}
	if p.Local == "" || len(p.Local) > maxLocalLen && !IsSRSLocal(p.Local) || p.Domain == "" {
		t.Fatalf("accepted %#v", p)
	}
	if !utf8ok && !isASCII(p.String()) {
		t.Fatalf("non-ASCII accepted without SMTPUTF8: %#v", p)
	}
	if !isASCII(p.Domain) || strings.ContainsAny(p.Domain, "@ \x00\r\n") {
		t.Fatalf("bad domain %#v", p)
	}
	if p.IsLiteral() {
		if _, ok := p.LiteralAddr(); !ok {
			t.Fatalf("literal %#v does not parse back", p)
		}
	} else if d, err := NormalizeDomain(p.Domain); err != nil || d != p.Domain {
		t.Fatalf("domain %q not normalised: %q %v", p.Domain, d, err)
	}
	if !strings.HasPrefix(p.Local, "\"") && strings.ContainsAny(p.Local, "@\" ") {
		t.Fatalf("unquoted local part %q", p.Local)
	}
	// The path parses again to the same result.
	q, _, r := ParseRcpt("TO:<"+p.String()+">", ParseOptions{SMTPUTF8: true})
	if r != nil || q != p {
		t.Fatalf("%#v does not re-parse: %#v %v", p, q, r)
	}
}

func FuzzParseMail(f *testing.F) {
	for _, s := range []string{
		"FROM:<a@b.example>", "FROM:<>", "FROM: <a@b.example> SIZE=10 BODY=8BITMIME", "FROM:<\"a@b\"@c.example>",
		"FROM:<@x.example,@y.example:a@b.example>", "FROM:<a@[IPv6:::1]> SMTPUTF8", "FROM:<jörg@bücher.example> SMTPUTF8",
		"FROM:<a@b.example> RET=FULL ENVID=x+2By AUTH=<>", "from:<a%b@c.example>", "FROM:<a@[127.0.0.1]>",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, arg string, dsn bool) {
		p, params, r := ParseMail(arg, ParseOptions{DSN: dsn})
		if r != nil {
			if r.Code < 500 || r.Code > 599 {
				t.Fatalf("reply %v", r)
			}
			return
		}
		if p.IsPostmaster() {
			t.Fatalf("bare postmaster accepted as sender")
		}
		if params.Size < 0 || (!dsn && (params.Ret != "" || params.EnvID != "")) {
			t.Fatalf("params %+v", params)
		}
		checkParsedPath(t, p, params.SMTPUTF8)
	})
}

func FuzzParseRcpt(f *testing.F) {
	for _, s := range []string{
		"TO:<a@b.example>", "TO:<postmaster>", "TO:<user%other@host.example>", "TO:<\"user@other\"@host.example>",
		"TO:<user@other@host.example>", "TO:<@a.example:user@b.example>", "TO:<other!user@host.example>",
		"TO:<user@[127.0.0.1]>", "TO:<user@host.>", "TO:<USER@HOST.EXAMPLE>", "TO:<user@bücher.example>",
		"TO:<a@b.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+40b.example", "TO:<\"a\\\"b\"@c.example>",
	} {
		f.Add(s, false, false)
		f.Add(s, true, true)
	}
	f.Fuzz(func(t *testing.T, arg string, utf8ok, dsn bool) {
		p, params, r := ParseRcpt(arg, ParseOptions{SMTPUTF8: utf8ok, DSN: dsn})
		if r != nil {
			if r.Code < 500 || r.Code > 599 {
				t.Fatalf("reply %v", r)
			}
			return
		}
		if p.IsNull() {
			t.Fatalf("null recipient accepted")
		}
		if !dsn && (params.Notify != "" || params.ORCPT != "") {
			t.Fatalf("params %+v", params)
		}
		checkParsedPath(t, p, utf8ok)
	})
}

func FuzzNormalizeDomain(f *testing.F) {
	for _, s := range []string{"example.com", "EXAMPLE.COM.", "bücher.example", "xn--bcher-kva.example", "a..b", "-a.b", "127.0.0.1", "ＥＸＡＭＰＬＥ.com", "a\u3002b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := NormalizeDomain(s)
		if err != nil {
			return
		}
		if d == "" || len(d) > maxDomainLen || !isASCII(d) || d != strings.ToLower(d) || strings.HasSuffix(d, ".") {
			t.Fatalf("NormalizeDomain(%q) = %q", s, d)
		}
		// Idempotent.
		if d2, err := NormalizeDomain(d); err != nil || d2 != d {
			t.Fatalf("NormalizeDomain(%q) = %q, then %q %v", s, d, d2, err)
		}
		if !InDomain(d, d) || !InDomain("x."+d, d) || InDomain("x"+d, d) {
			t.Fatalf("InDomain broken for %q", d)
		}
	})
}

func FuzzDataReader(f *testing.F) {
	for _, s := range []string{
		"a\r\n.\r\n", ".\r\n", "..\r\n.\r\n", "a\n.\nb\r\n.\r\n", "a\r\n.\nb\r\n.\r\n", "a\r.\rb\r\n.\r\n",
		"a\n.\r\nb\r\n.\r\n", "a\r\n.\rb\r\n.\r\n", "a\r\n\x00.\r\n.\r\n", "a\r\n.\x00\r\n.\r\n",
		"0123456789abcdef\r\n.\r\n", "0123456789abcde\r\n.\r\n",
	} {
		f.Add([]byte(s), uint8(0), int64(0))
		f.Add([]byte(s), uint8(3), int64(5))
	}
	f.Fuzz(func(t *testing.T, in []byte, bufExtra uint8, max int64) {
		const tail = "\r\n.\r\nTAIL"
		input := append(append([]byte{}, in...), tail...)
		br := bufio.NewReaderSize(bytes.NewReader(input), 16+int(bufExtra))
		got, err := io.ReadAll(NewDataReader(br, max))
		checkClean(t, string(got))
		rest, _ := io.ReadAll(br)
		// Where a model of the protocol says the message ends.
		end := modelEnd(input)
		if end < 0 {
			t.Fatalf("model found no end in %q", input)
		}
		if string(rest) != string(input[end:]) {
			t.Fatalf("input %q: stream left %q, want %q (err %v)", input, rest, input[end:], err)
		}
		if err != nil {
			if replyCode(err) < 500 {
				t.Fatalf("input %q: error %v", input, err)
			}
			return
		}
		if max > 0 && int64(len(got)) > max {
			t.Fatalf("returned %d bytes over limit %d", len(got), max)
		}
		// Valid content: dot-stuffing it again must give back the wire bytes.
		var wire bytes.Buffer
		w := NewDotWriter(&wire)
		w.Write(got)
		w.Close()
		if !bytes.Equal(wire.Bytes(), input[:end]) && !bytes.Equal(restuffLoose(input[:end]), wire.Bytes()) {
			t.Fatalf("input %q: content %q re-stuffs to %q", input, got, wire.Bytes())
		}
	})
}

// modelEnd returns the offset just after the first CR LF "." CR LF in s
// (with the start of s counting as after a CR LF).
func modelEnd(s []byte) int {
	if bytes.HasPrefix(s, []byte(".\r\n")) {
		return 3
	}
	if i := bytes.Index(s, []byte("\r\n.\r\n")); i >= 0 {
		return i + 5
	}
	return -1
}

// restuffLoose normalises the one liberty the reader takes: a leading dot
// that was not doubled by the sender (".a" reads as "a", and "a" is written
// back without a dot).
func restuffLoose(wire []byte) []byte {
	lines := bytes.SplitAfter(wire, []byte("\r\n"))
	var out []byte
	for _, l := range lines {
		if len(l) > 1 && l[0] == '.' && !bytes.Equal(l, []byte(".\r\n")) {
			if l[1] != '.' {
				l = l[1:]
			}
		}
		out = append(out, l...)
	}
	return out
}

func FuzzDotWriter(f *testing.F) {
	for _, s := range []string{"", "a", ".", "\r\n.\r\n", "a\n.\nb", "\r.\r", "..\r\n", "x\r\r\n\n"} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		if bytes.IndexByte(in, 0) >= 0 {
			in = bytes.ReplaceAll(in, []byte{0}, []byte{' '})
		}
		var wire bytes.Buffer
		w := NewDotWriter(&wire)
		step := int(chunk) + 1
		for i := 0; i < len(in); i += step {
			j := min(i+step, len(in))
			if n, err := w.Write(in[i:j]); n != j-i || err != nil {
				t.Fatalf("Write: %d %v", n, err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		wire.WriteString("NEXT")
		br := bufio.NewReaderSize(&wire, 16)
		got, err := io.ReadAll(NewDataReader(br, 0))
		if err != nil {
			t.Fatalf("input %q: %v", in, err)
		}
		if string(got) != canonical(string(in)) {
			t.Fatalf("input %q: got %q, want %q", in, got, canonical(string(in)))
		}
		if rest, _ := io.ReadAll(br); string(rest) != "NEXT" {
			t.Fatalf("input %q: rest %q", in, rest)
		}
	})
}
