package mtasts

import (
	"strings"
	"testing"
)

func TestParsePolicy(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		err    string // substring; "" means valid
		mode   Mode
		mx     []string
		maxAge int64
		notes  int
	}{
		{"rfc example", "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\n",
			"", Enforce, []string{"mail.example.com", "*.example.net", "backupmx.example.com"}, 604800, 0},
		{"crlf, no final newline", "version: STSv1\r\nmode: testing\r\nmx: MX.Example.ORG.\r\nmax_age: 86400",
			"", Testing, []string{"mx.example.org"}, 86400, 0},
		{"no space after colon, trailing blanks", "version:STSv1\nmode:enforce \t\nmx:\tmx.example.org\nmax_age:0\n",
			"", Enforce, []string{"mx.example.org"}, 0, 0},
		{"mode none needs no mx", "version: STSv1\nmode: none\nmax_age: 31557600\n", "", None, nil, 31557600, 0},
		{"fields in any order", "max_age: 5\nmx: a.example\nmode: enforce\nversion: STSv1\n", "", Enforce, []string{"a.example"}, 5, 0},
		{"unknown keys ignored", "version: STSv1\nmode: enforce\nfoo_bar-1.x: anything at all\nmx: a.example\nmax_age: 10\n",
			"", Enforce, []string{"a.example"}, 10, 0},
		{"repeated key: first wins", "version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\nmax_age: 10\n",
			"", Testing, []string{"a.example"}, 10, 1},
		{"repeated key is not checked", "version: STSv1\nmode: testing\nmode: bogus\nmx: a.example\nmax_age: 10\n",
			"", Testing, []string{"a.example"}, 10, 1},
		{"blank line skipped", "version: STSv1\n\nmode: enforce\nmx: a.example\nmax_age: 10\n\n",
			"", Enforce, []string{"a.example"}, 10, 2},
		{"no version", "mode: enforce\nmx: a.example\nmax_age: 10\n", "no \"version", "", nil, 0, 0},
		{"wrong version", "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 10\n", "line 1: version \"STSv2\", want STSv1", "", nil, 0, 0},
		{"version is case-sensitive", "version: stsv1\nmode: enforce\nmx: a.example\nmax_age: 10\n", "want STSv1", "", nil, 0, 0},
		{"key is case-sensitive", "Version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 10\n", "no \"version", "", nil, 0, 0},
		{"bad mode", "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 10\n", "line 2: mode \"Enforce\"", "", nil, 0, 0},
		{"no mode", "version: STSv1\nmx: a.example\nmax_age: 10\n", "no mode", "", nil, 0, 0},
		{"no max_age", "version: STSv1\nmode: enforce\nmx: a.example\n", "no max_age", "", nil, 0, 0},
		{"max_age too big", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n", "over the maximum", "", nil, 0, 0},
		{"max_age not a number", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -5\n", "not a number", "", nil, 0, 0},
		{"max_age 11 digits", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 00000000001\n", "not a number", "", nil, 0, 0},
		{"no mx in enforce", "version: STSv1\nmode: enforce\nmax_age: 10\n", "no mx", "", nil, 0, 0},
		{"no mx in testing", "version: STSv1\nmode: testing\nmax_age: 10\n", "no mx", "", nil, 0, 0},
		{"bad mx", "version: STSv1\nmode: enforce\nmx: mx_1.example\nmax_age: 10\n", "line 3: mx \"mx_1.example\": character", "", nil, 0, 0},
		{"wildcard in the middle", "version: STSv1\nmode: enforce\nmx: a.*.example\nmax_age: 10\n", "not allowed", "", nil, 0, 0},
		{"hyphen at a label's end", "version: STSv1\nmode: enforce\nmx: a-.example\nmax_age: 10\n", "hyphen", "", nil, 0, 0},
		{"empty label", "version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 10\n", "not a domain", "", nil, 0, 0},
		{"label too long", "version: STSv1\nmode: enforce\nmx: " + strings.Repeat("a", 64) + ".example\nmax_age: 10\n", "not a domain", "", nil, 0, 0},
		{"no colon", "version: STSv1\nmode enforce\n", "line 2: no \"key: value\"", "", nil, 0, 0},
		{"bad key", "version: STSv1\n mode: enforce\n", "bad key", "", nil, 0, 0},
		{"key too long", "version: STSv1\n" + strings.Repeat("k", 33) + ": v\n", "bad key", "", nil, 0, 0},
		{"empty value", "version: STSv1\nmode:\n", "mode has no value", "", nil, 0, 0},
		{"html page", "<html><body>Not here</body></html>\n", "no \"key: value\"", "", nil, 0, 0},
		{"control character", "version: STSv1\nmode: enforce\x00\n", "control character", "", nil, 0, 0},
		{"empty", "", "no \"version", "", nil, 0, 0},
		{"too big", "version: STSv1\n" + strings.Repeat("x: y\n", 14000), "over", "", nil, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePolicy(c.body)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				if p != nil {
					t.Fatal("a policy with the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Mode != c.mode || p.MaxAge != c.maxAge || strings.Join(p.MX, ",") != strings.Join(c.mx, ",") || len(p.Notes) != c.notes {
				t.Errorf("got %+v, want mode %s mx %v max_age %d, %d notes", p, c.mode, c.mx, c.maxAge, c.notes)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	p := &Policy{MX: []string{"mail.example.com", "*.example.net"}}
	for host, want := range map[string]bool{
		"mail.example.com":       true,
		"MAIL.Example.COM.":      true,
		"mx1.example.net":        true,
		"MX1.example.net.":       true,
		"example.net":            false, // RFC 8461 4.1: the wildcard needs a label
		"a.b.example.net":        false, // one label only
		"mail.example.com.evil":  false,
		"xmail.example.com":      false,
		".example.net":           false,
		"other.example.com":      false,
		"mail.example.com.":      true,
		"mx1.example.net.evil.x": false,
		"":                       false,
	} {
		if got := p.Matches(host); got != want {
			t.Errorf("%q: %v, want %v", host, got, want)
		}
	}
}

func FuzzParsePolicy(f *testing.F) {
	f.Add("version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmax_age: 604800\n")
	f.Add("version: STSv1\r\nmode: none\r\nmax_age: 0")
	f.Add("version:STSv1\nmode:testing\nmx:a\nmax_age:31557600\nx: y\n\n")
	f.Fuzz(func(t *testing.T, body string) {
		p, err := ParsePolicy(body)
		if err != nil {
			if p != nil {
				t.Fatal("policy with an error")
			}
			return
		}
		if p.MaxAge < 0 || p.MaxAge > MaxAgeLimit {
			t.Fatalf("max_age %d out of range", p.MaxAge)
		}
		if p.Mode != Enforce && p.Mode != Testing && p.Mode != None {
			t.Fatalf("mode %q", p.Mode)
		}
		if len(p.MX) == 0 && p.Mode != None {
			t.Fatal("no mx")
		}
		for _, pat := range p.MX {
			if pat != strings.ToLower(pat) || checkPattern(pat) != nil {
				t.Fatalf("bad pattern %q", pat)
			}
			// A pattern matches the name it spells, with the
			// wildcard standing for one label.
			if !p.Matches(strings.Replace(pat, "*", "x", 1)) {
				t.Fatalf("pattern %q does not match its own name", pat)
			}
		}
	})
}
