package milter

import (
	"strings"
	"testing"

	gomilter "github.com/emersion/go-milter"
)

func TestSplitHeader(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     string
		fields []string // raw fields
		body   string
	}{
		{"plain", "A: 1\r\nB: 2\r\n\r\nbody\r\n", []string{"A: 1\r\n", "B: 2\r\n"}, "body\r\n"},
		{"folded", "A: 1\r\n 2\r\n\t3\r\nB:x\r\n\r\n", []string{"A: 1\r\n 2\r\n\t3\r\n", "B:x\r\n"}, ""},
		{"no body", "A: 1\r\n", []string{"A: 1\r\n"}, ""},
		{"no final CRLF", "A: 1", []string{"A: 1\r\n"}, ""},
		{"empty", "", nil, ""},
		{"only body", "\r\nbody\r\n", nil, "body\r\n"},
		{"not a field ends the header", "A: 1\r\nthis is body\r\nB: 2\r\n", []string{"A: 1\r\n"}, "this is body\r\nB: 2\r\n"},
		{"space before colon is not a name", "A : 1\r\n\r\n", nil, "A : 1\r\n\r\n"},
		{"leading continuation is body", " x\r\nA: 1\r\n", nil, " x\r\nA: 1\r\n"},
		{"mbox From line is body", "From alice Sat\r\nA: 1\r\n", nil, "From alice Sat\r\nA: 1\r\n"},
	} {
		fields, off, err := splitHeader(strings.NewReader(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var raws []string
		for _, f := range fields {
			raws = append(raws, f.raw)
		}
		if strings.Join(raws, "|") != strings.Join(tc.fields, "|") || tc.in[min(off, int64(len(tc.in))):] != tc.body {
			t.Errorf("%s: fields %q body %q, want %q %q", tc.name, raws, tc.in[min(off, int64(len(tc.in))):], tc.fields, tc.body)
		}
	}
}

func TestFieldValue(t *testing.T) {
	f := field{name: "Subject", raw: "Subject:  two spaces\r\n\tand a fold\r\n"}
	if v := f.value(false); v != " two spaces\n\tand a fold" {
		t.Errorf("value %q", v)
	}
	if v := f.value(true); v != "  two spaces\n\tand a fold" {
		t.Errorf("value with leading space %q", v)
	}
}

func TestNewField(t *testing.T) {
	for _, tc := range []struct{ name, value, want, err string }{
		{"X-A", "1", "X-A: 1\r\n", ""},
		{"X-A", " 1", "X-A: 1\r\n", ""},
		{"X-A", "1\n\t2", "X-A: 1\r\n\t2\r\n", ""},
		{"X-A", "1\r\n 2\r\n", "X-A: 1\r\n 2\r\n", ""},
		// A line that would start a field of its own is indented.
		{"X-A", "1\nBcc: victim@example.org", "X-A: 1\r\n\tBcc: victim@example.org\r\n", ""},
		{"X-A", "1\n\n\n2", "X-A: 1\r\n\t2\r\n", ""},
		{"X-A", "a\rb", "X-A: ab\r\n", ""},
		{"Bad Name", "x", "", "bad header name"},
		{"", "x", "", "bad header name"},
		{"X:Y", "x", "", "bad header name"},
		{"X-A", "a\x00b", "", "NUL"},
	} {
		f, err := newField(tc.name, tc.value)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("newField(%q, %q) = %q, %v; want error %q", tc.name, tc.value, f.raw, err, tc.err)
			}
			continue
		}
		if err != nil || f.raw != tc.want {
			t.Errorf("newField(%q, %q) = %q, %v; want %q", tc.name, tc.value, f.raw, err, tc.want)
		}
	}
}

func raws(fs []field) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.raw)
	}
	return b.String()
}

func TestChangeAndInsert(t *testing.T) {
	base := func() []field {
		fs, _, _ := splitHeader(strings.NewReader("A: 1\r\nB: 2\r\nA: 3\r\n\r\n"))
		return fs
	}
	for _, tc := range []struct {
		name string
		do   func([]field) ([]field, error)
		want string
	}{
		{"change second A", func(f []field) ([]field, error) { return changeField(f, 2, "a", "x") }, "A: 1\r\nB: 2\r\na: x\r\n"},
		{"delete first A", func(f []field) ([]field, error) { return changeField(f, 1, "A", "") }, "B: 2\r\nA: 3\r\n"},
		{"delete missing", func(f []field) ([]field, error) { return changeField(f, 3, "A", "") }, "A: 1\r\nB: 2\r\nA: 3\r\n"},
		{"change missing adds", func(f []field) ([]field, error) { return changeField(f, 1, "C", "4") }, "A: 1\r\nB: 2\r\nA: 3\r\nC: 4\r\n"},
		{"index 0 matches nothing", func(f []field) ([]field, error) { return changeField(f, 0, "A", "") }, "A: 1\r\nB: 2\r\nA: 3\r\n"},
		{"insert first", func(f []field) ([]field, error) { return insertField(f, 0, "C", "4") }, "C: 4\r\nA: 1\r\nB: 2\r\nA: 3\r\n"},
		{"insert middle", func(f []field) ([]field, error) { return insertField(f, 2, "C", "4") }, "A: 1\r\nB: 2\r\nC: 4\r\nA: 3\r\n"},
		{"insert past the end", func(f []field) ([]field, error) { return insertField(f, 1<<31, "C", "4") }, "A: 1\r\nB: 2\r\nA: 3\r\nC: 4\r\n"},
	} {
		got, err := tc.do(base())
		if err != nil || raws(got) != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, raws(got), err, tc.want)
		}
	}
}

func TestCrlfBody(t *testing.T) {
	for in, want := range map[string]string{
		"a\nb\n":     "a\r\nb\r\n",
		"a\r\nb\r\n": "a\r\nb\r\n",
		"a\rb":       "a\r\nb",
		"":           "",
	} {
		if got := string(crlfBody([]byte(in))); got != want {
			t.Errorf("crlfBody(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCustomReply(t *testing.T) {
	for _, tc := range []struct {
		code     int
		text     string
		enhanced string
		want     string
		err      bool
	}{
		{554, "5.7.1 Gtube pattern", "5.7.1", "Gtube pattern", false},
		{451, "4.7.1 greylisted, try later", "4.7.1", "greylisted, try later", false},
		{550, "no enhanced code here", "5.7.1", "no enhanced code here", false},
		{550, "4.7.1 wrong class stays text", "5.7.1", "4.7.1 wrong class stays text", false},
		{550, "5.7.1 first\r\n550-5.7.1 second\r\n550 5.7.1 third", "5.7.1", "first\nsecond\nthird", false},
		{421, "", "4.7.1", "please try again later", false},
		{550, "5.1.1", "5.1.1", "command rejected", false},
		{250, "2.0.0 ok", "", "", true},
		{600, "x", "", "", true},
	} {
		r, err := customReply(&gomilter.Action{Code: gomilter.ActReplyCode, SMTPCode: tc.code, SMTPText: tc.text})
		if tc.err {
			if err == nil {
				t.Errorf("%d %q accepted: %+v", tc.code, tc.text, r)
			}
			continue
		}
		if err != nil || r.Code != tc.code || r.Enhanced != tc.enhanced || r.Text != tc.want {
			t.Errorf("%d %q = %+v, %v; want %s %q", tc.code, tc.text, r, err, tc.enhanced, tc.want)
		}
	}
	long, _ := customReply(&gomilter.Action{SMTPCode: 550, SMTPText: strings.Repeat("x", 2000) + strings.Repeat("\r\n550-y", 50)})
	if lines := strings.Split(long.Text, "\n"); len(lines) != maxReplyLines || len(lines[0]) != maxReplyLine {
		t.Errorf("long reply not bounded: %d lines, first %d bytes", len(lines), len(lines[0]))
	}
}
