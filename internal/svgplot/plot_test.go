package svgplot

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestVisible(t *testing.T) {
	for in, want := range map[string]string{
		"plain text":          "plain text",
		"a\r\nb":              `a\r\nb`,
		"tab\there":           "tab here",
		"nul\x00":             `nul\x00`,
		"bad \xff\xfe utf8":   `bad \xff\xfe utf8`,
		"evil\u202egpj.exe":   "evil[U+202E]gpj.exe",
		"iso\u2066late\u2069": "iso[U+2066]late[U+2069]",
		"zero\u200bwidth":     "zero[U+200B]width",
		"line\u2028sep":       "line[U+2028]sep",
		"c1 \u0085":           `c1 \x85`,
		"ünïcödé ok":          "ünïcödé ok",
		"<script>&\"'":        "<script>&\"'",
	} {
		if got := Visible(in); got != want {
			t.Errorf("Visible(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzVisible(f *testing.F) {
	f.Add("a\r\n\u202e\xff<b>")
	f.Fuzz(func(t *testing.T, s string) {
		v := Visible(s)
		if !utf8.ValidString(v) {
			t.Fatalf("%q: not UTF-8: %q", s, v)
		}
		for _, r := range v {
			if r < 0x20 || r == 0x7f || unicode.Is(unicode.Cf, r) || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("%q: %U left in %q", s, r, v)
			}
		}
	})
}

// The SVG is well-formed XML whatever the names, and shows no markup of
// theirs.
func TestChartEscapes(t *testing.T) {
	hostile := `<script>alert(1)</script>"'><img src=x onerror=1>` + "\u202e\xff\r\n"
	charts := []Chart{
		{Title: hostile, Labels: []string{hostile, ""}, Series: []Series{
			{Name: hostile, Values: []float64{1, 2}},
			{Name: "b", Kind: Line, Values: []float64{3, 0.5}},
			{Name: hostile, Kind: Dashed, Values: []float64{4, 4}},
		}},
		{Title: hostile},
		{Title: "zeros", Series: []Series{{Name: "a", Values: []float64{0, 0}}}},
	}
	for i, c := range charts {
		svg := c.SVG()
		d := xml.NewDecoder(strings.NewReader(svg))
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("chart %d: %v\n%s", i, err, svg)
			}
			if se, ok := tok.(xml.StartElement); ok {
				switch se.Name.Local {
				case "svg", "title", "text", "line", "rect", "polyline":
				default:
					t.Errorf("chart %d: element %q", i, se.Name.Local)
				}
				for _, a := range se.Attr {
					if strings.HasPrefix(a.Name.Local, "on") {
						t.Errorf("chart %d: attribute %q", i, a.Name.Local)
					}
				}
			}
		}
		if strings.Contains(svg, "\u202e") || strings.Contains(svg, "<script") {
			t.Errorf("chart %d: hostile text left: %s", i, svg)
		}
		if i > 0 && !strings.Contains(svg, "no history yet") {
			t.Errorf("chart %d: empty chart does not say so", i)
		}
	}
}

func TestTop(t *testing.T) {
	for _, tt := range []struct {
		s    []Series
		want float64
	}{
		{[]Series{{Values: []float64{3, 4}}, {Values: []float64{3, 0}}}, 10},
		{[]Series{{Values: []float64{120}}}, 200},
		{[]Series{{Kind: Line, Values: []float64{0.3}}}, 0.5},
		{[]Series{{Values: []float64{0}}}, 0},
	} {
		if got := (Chart{Series: tt.s}).top(); got != tt.want {
			t.Errorf("%+v: %v, want %v", tt.s, got, tt.want)
		}
	}
}
