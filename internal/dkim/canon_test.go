package dkim

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"
)

// RFC 6376 3.4.5: the example message and its canonical forms.
const (
	rfcHeader = "A: X\r\nB : Y\t\r\n\tZ  \r\n"
	rfcBody   = " C \r\nD \t E\r\n\r\n\r\n"
)

func TestRelaxedHeaderRFC6376(t *testing.T) {
	head := []byte(rfcHeader + "\r\n")
	fields := splitFields(head, nil)
	if len(fields) != 2 || string(fields[0].name) != "A" || string(fields[1].name) != "B" {
		t.Fatalf("fields: %+v", fields)
	}
	var relaxed, simple []byte
	for _, f := range fields {
		relaxed = appendCanonHeader(relaxed, head[f.start:f.end], canonRelaxed)
		simple = appendCanonHeader(simple, head[f.start:f.end], canonSimple)
	}
	if want := "a:X\r\nb:Y Z\r\n"; string(relaxed) != want {
		t.Errorf("relaxed: %q, want %q", relaxed, want)
	}
	if string(simple) != rfcHeader {
		t.Errorf("simple: %q, want %q", simple, rfcHeader)
	}
}

func TestHeaderCanon(t *testing.T) {
	for _, c := range []struct{ in, relaxed string }{
		{"Subject: Hello\r\n", "subject:Hello\r\n"},
		{"SUBJect: AbC\r\n", "subject:AbC\r\n"},
		{"Subject \t:  a \t b  \r\n", "subject:a b\r\n"},
		{"Subject:\r\n folded\r\n\tline \r\n", "subject:folded line\r\n"},
		{"Subject:\r\n", "subject:\r\n"},
		{"X:a:b\r\n", "x:a:b\r\n"},
		{"No colon here\r\n", "no colon here:\r\n"},
		{"X: bare\rcr\r\n", "x:bare cr\r\n"},
	} {
		if got := appendRelaxedHeader(nil, []byte(c.in)); string(got) != c.relaxed {
			t.Errorf("%q: %q, want %q", c.in, got, c.relaxed)
		}
	}
}

func TestSigFieldWithoutB(t *testing.T) {
	for _, c := range []struct {
		field string
		c     canon
		want  string
	}{
		{"DKIM-Signature: v=1; bh=abc; b=xyz\r\n", canonSimple, "DKIM-Signature: v=1; bh=abc; b="},
		{"DKIM-Signature: v=1; b=xy\r\n z; bh=abc\r\n", canonSimple, "DKIM-Signature: v=1; b=; bh=abc"},
		{"DKIM-Signature: v=1; b = xyz ; d=x;\r\n", canonSimple, "DKIM-Signature: v=1; b =; d=x;"},
		{"DKIM-Signature: v=1;\r\n b=xy\r\n  z==\r\n", canonRelaxed, "dkim-signature:v=1; b="},
		{"DKIM-Signature: b=xyz; v=1\r\n", canonRelaxed, "dkim-signature:b=; v=1"},
	} {
		f := []byte(c.field)
		s := &sigCheck{}
		colon := bytes.IndexByte(f, ':')
		tags, _ := parseTagList(f[colon+1:], nil)
		bt, ok := lookupTag(tags, "b")
		if !ok {
			t.Fatalf("%q: no b=", c.field)
		}
		s.bStart, s.bEnd = bt.start+colon+1, bt.end+colon+1
		if got := appendSigField(nil, f, s.bStart, s.bEnd, c.c); string(got) != c.want {
			t.Errorf("%q: %q, want %q", c.field, got, c.want)
		}
	}
}

// refBody is the body canonicalization written plainly, for comparing
// with the streaming one: bare LF made CRLF, then RFC 6376 3.4.3/3.4.4.
func refBody(body []byte, c canon) []byte {
	var fixed []byte
	for i, ch := range body {
		if ch == '\n' && (i == 0 || body[i-1] != '\r') {
			fixed = append(fixed, '\r')
		}
		fixed = append(fixed, ch)
	}
	if c == canonSimple {
		if !bytes.HasSuffix(fixed, []byte("\r")) {
			for bytes.HasSuffix(fixed, []byte("\r\n")) {
				fixed = fixed[:len(fixed)-2]
			}
		}
		return append(fixed, '\r', '\n')
	}
	var out, brk []byte
	wsp := false
	for _, ch := range fixed {
		switch ch {
		case ' ', '\t':
			wsp = true
		case '\r', '\n':
			wsp = false
			brk = append(brk, ch)
		default:
			out = append(out, brk...)
			brk = brk[:0]
			if wsp {
				out = append(out, ' ')
				wsp = false
			}
			out = append(out, ch)
		}
	}
	if len(out) > 0 {
		out = append(out, '\r', '\n')
	}
	return out
}

func streamBody(body []byte, c canon, cuts ...int) [32]byte {
	var b bodyHasher
	b.reset(c, sha256.New())
	prev := 0
	for _, cut := range cuts {
		if cut < prev || cut > len(body) {
			continue
		}
		b.write(body[prev:cut])
		prev = cut
	}
	b.write(body[prev:])
	var sum [32]byte
	b.sum(sum[:0])
	return sum
}

func TestBodyCanon(t *testing.T) {
	for _, c := range []struct{ in, simple, relaxed string }{
		{rfcBody, " C \r\nD \t E\r\n", " C\r\nD E\r\n"}, // RFC 6376 3.4.5
		{"", "\r\n", ""}, // RFC 6376 3.4.3, 3.4.4: empty body
		{"\r\n", "\r\n", ""},
		{"\r\n\r\n", "\r\n", ""},
		{"  \r\n\t\r\n", "  \r\n\t\r\n", ""},
		{"no end", "no end\r\n", "no end\r\n"},
		{"a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n"},
		{"a  b\t\tc \r\n", "a  b\t\tc \r\n", "a b c\r\n"},
		{"a\nb\n\n", "a\r\nb\r\n", "a\r\nb\r\n"}, // bare LF
		{"a\rb\r\n", "a\rb\r\n", "a\rb\r\n"},     // bare CR kept
		{"a\r", "a\r\r\n", "a\r\n"},
		{"a\r\n\r", "a\r\n\r\r\n", "a\r\n"},
		{"a\r\r\n", "a\r\r\n", "a\r\n"},
		{" lead\r\n", " lead\r\n", " lead\r\n"},
	} {
		for _, cc := range []struct {
			c    canon
			want string
		}{{canonSimple, c.simple}, {canonRelaxed, c.relaxed}} {
			if ref := refBody([]byte(c.in), cc.c); string(ref) != cc.want {
				t.Errorf("reference %d %q: %q, want %q", cc.c, c.in, ref, cc.want)
			}
			want := sha256.Sum256([]byte(cc.want))
			for cut := 0; cut <= len(c.in); cut++ {
				if got := streamBody([]byte(c.in), cc.c, cut); got != want {
					t.Errorf("canon %d %q cut at %d: hash differs", cc.c, c.in, cut)
				}
			}
		}
	}
}

// TestBodyCanonManyEmptyLines crosses maxHeldBreaks: the held line ends
// are hashed and the hash state restored when the body ends there.
func TestBodyCanonManyEmptyLines(t *testing.T) {
	for _, body := range []string{
		"text\r\n" + strings.Repeat("\r\n", 3*maxHeldBreaks),
		"text\r\n" + strings.Repeat("\r\n", 3*maxHeldBreaks) + "more\r\n",
		"text" + strings.Repeat(" \r\n\t", maxHeldBreaks) + "x",
		strings.Repeat("\n", 5*maxHeldBreaks),
	} {
		for _, c := range []canon{canonSimple, canonRelaxed} {
			want := sha256.Sum256(refBody([]byte(body), c))
			if got := streamBody([]byte(body), c, 7, 1000, 5000); got != want {
				t.Errorf("canon %d, body of %d bytes: hash differs", c, len(body))
			}
		}
	}
}

func FuzzBodyCanon(f *testing.F) {
	f.Add([]byte(rfcBody), uint16(3), uint16(9))
	f.Add([]byte("a\r\n\r"), uint16(1), uint16(3))
	f.Add([]byte("x \t \n\r\n\r \r"), uint16(2), uint16(5))
	f.Fuzz(func(t *testing.T, body []byte, cut1, cut2 uint16) {
		for _, c := range []canon{canonSimple, canonRelaxed} {
			want := sha256.Sum256(refBody(body, c))
			if got := streamBody(body, c, int(cut1), int(cut2)); got != want {
				t.Fatalf("canon %d %q cut %d %d: %q", c, body, cut1, cut2, refBody(body, c))
			}
		}
	})
}

func TestParseTagList(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // name=value|...
		err  bool
	}{
		{"v=1; a=rsa-sha256", "v=1|a=rsa-sha256", false},
		{" v = 1 ;\r\n\ta=x ; ", "v=1|a=x", false},
		{"b=abc\r\n def ==;", "b=abc\r\n def ==", false},
		{"a=;b=", "a=|b=", false},
		{";;a=1;;", "a=1", false},
		{"", "", false},
		{"a=1; junk; b=2", "a=1|b=2", true},
		{"a=1; a=2", "a=2", true},
		{"p=MIIB=x", "p=MIIB=x", false},
	} {
		tags, err := parseTagList([]byte(c.in), nil)
		var got []string
		for _, tg := range tags {
			got = append(got, string(tg.name)+"="+string(tg.value))
			if raw := c.in[tg.start:tg.end]; string(trimFWS([]byte(raw))) != string(tg.value) {
				t.Errorf("%q: raw value %q does not match %q", c.in, raw, tg.value)
			}
		}
		if strings.Join(got, "|") != c.want || (err != nil) != c.err {
			t.Errorf("%q: %q %v, want %q error %v", c.in, strings.Join(got, "|"), err, c.want, c.err)
		}
	}
	// Many tags: duplicates are found through a map.
	var b strings.Builder
	for i := 0; i < 100; i++ {
		b.WriteString("t" + strings.Repeat("x", i) + "=1;")
	}
	if _, err := parseTagList([]byte(b.String()), nil); err != nil {
		t.Errorf("100 distinct tags: %v", err)
	}
	if _, err := parseTagList([]byte(b.String()+"txxx=2"), nil); err == nil {
		t.Error("duplicate among 100 tags not found")
	}
}

func FuzzTagList(f *testing.F) {
	f.Add([]byte("v=1; a=rsa-sha256; b=abc\r\n def; bh=; h=from:to"))
	f.Add([]byte("=;=;;a"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tags, err := parseTagList(b, nil)
		seen := map[string]bool{}
		for _, tg := range tags {
			if tg.start < 0 || tg.end > len(b) || tg.start > tg.end {
				t.Fatalf("bad span %d-%d", tg.start, tg.end)
			}
			if bytes.IndexByte(b[tg.start:tg.end], ';') >= 0 {
				t.Fatalf("value holds a ;")
			}
			if seen[string(tg.name)] && err == nil {
				t.Fatalf("duplicate %q without error", tg.name)
			}
			seen[string(tg.name)] = true
		}
		parseKeyRecord(string(b))
	})
}
