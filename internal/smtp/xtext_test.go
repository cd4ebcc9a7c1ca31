package smtp

import "testing"

func TestXtext(t *testing.T) {
	cases := []struct {
		enc, dec string
		ok       bool
	}{
		{"", "", true},
		{"abc", "abc", true},
		{"a+2Bb", "a+b", true},
		{"a+3Db", "a=b", true},
		{"a+20b", "a b", true},
		{"+2B+2B", "++", true},
		{"a+2bb", "", false},
		{"a+2", "", false},
		{"a+", "", false},
		{"a=b", "", false},
		{"a b", "", false},
		{"a+0D+0Ab", "", false},
		{"a+00", "", false},
		{"a+7F", "", false},
		{"a+C3+A9", "", false},
		{"é", "", false},
	}
	for _, c := range cases {
		got, err := DecodeXtext(c.enc)
		if c.ok != (err == nil) || got != c.dec {
			t.Errorf("DecodeXtext(%q) = %q, %v; want %q ok=%v", c.enc, got, err, c.dec, c.ok)
		}
		if c.ok {
			if e := EncodeXtext(c.dec); e != c.enc {
				t.Errorf("EncodeXtext(%q) = %q, want %q", c.dec, e, c.enc)
			}
		}
	}
	if got := EncodeXtext("a\r\nb=+é"); got != "a+0D+0Ab+3D+2B+C3+A9" {
		t.Errorf("EncodeXtext: %q", got)
	}
}
