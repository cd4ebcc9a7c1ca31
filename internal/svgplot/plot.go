// Package svgplot draws the web console's charts as SVG text on the
// server: bars (stacked) and lines over a row of time buckets, with
// labels. No script and no style sheet are needed to show them; every
// text in them is escaped, and made visible with Visible.
package svgplot

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Kind is how a series is drawn.
type Kind int

// The kinds of series.
const (
	Bar    Kind = iota // stacked with the other bars of the chart
	Line               // a line over the bars
	Dashed             // a dashed line: a threshold
)

// Series is one named row of values, one per bucket.
type Series struct {
	Name   string
	Kind   Kind
	Values []float64
}

// Chart is one plot: buckets along x, labelled by Labels (one per bucket;
// "" draws none), values up the y axis from 0.
type Chart struct {
	Title  string
	Labels []string
	Series []Series
	// Width and Height are the size in pixels; 0 means 720 by 200.
	Width, Height int
}

// palette are the series' colours, in order (readable on white, and
// told apart by people with the common colour blindnesses).
var palette = []string{"#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#f0e442", "#000000", "#999999"}

// Colour is the colour of the i-th series, for a legend outside the SVG.
func Colour(i int) string { return palette[i%len(palette)] }

const (
	left, right, padTop, bottom = 48, 8, 36, 20
)

// SVG renders the chart. A chart whose series are all empty or zero says
// "no history yet".
func (c Chart) SVG() string {
	w, h := c.Width, c.Height
	if w == 0 {
		w, h = 720, 200
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img">`, w, h, w, h)
	fmt.Fprintf(&b, `<title>%s</title>`, text(c.Title))
	fmt.Fprintf(&b, `<text x="%d" y="14" font-size="13" font-family="sans-serif">%s</text>`, left, text(c.Title))
	n := c.buckets()
	top := c.top()
	if n == 0 || top == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="13" font-family="sans-serif" fill="#666">no history yet</text></svg>`, w/2-50, h/2)
		return b.String()
	}
	pw, ph := float64(w-left-right), float64(h-padTop-bottom)
	c.axes(&b, w, h, n, top)
	c.bars(&b, h, n, top, pw/float64(n), ph)
	c.lines(&b, h, n, top, pw/float64(n), ph)
	c.legend(&b, w)
	b.WriteString(`</svg>`)
	return b.String()
}

// buckets is the longest series' length.
func (c Chart) buckets() int {
	n := 0
	for _, s := range c.Series {
		n = max(n, len(s.Values))
	}
	return n
}

// top is the y axis' end: the largest stack or line value, rounded up to
// a round number.
func (c Chart) top() float64 {
	m := 0.0
	for i := 0; i < c.buckets(); i++ {
		stack := 0.0
		for _, s := range c.Series {
			if i >= len(s.Values) || !finite(s.Values[i]) {
				continue
			}
			if s.Kind == Bar {
				stack += max(s.Values[i], 0)
			} else {
				m = max(m, s.Values[i])
			}
		}
		m = max(m, stack)
	}
	if m <= 0 {
		return 0
	}
	p := math.Pow(10, math.Floor(math.Log10(m)))
	for _, f := range []float64{1, 2, 5, 10} {
		if m <= f*p {
			return f * p
		}
	}
	return 10 * p
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func (c Chart) axes(b *strings.Builder, w, h, n int, top float64) {
	y0 := h - bottom
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/>`, left, y0, w-right, y0)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#ddd"/>`, left, padTop, w-right, padTop)
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="11" font-family="sans-serif" text-anchor="end">%s</text>`, left-4, padTop+4, number(top))
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="11" font-family="sans-serif" text-anchor="end">0</text>`, left-4, y0+4)
	step := float64(w-left-right) / float64(n)
	for i, l := range c.Labels {
		if l == "" || i >= n {
			continue
		}
		x := float64(left) + (float64(i)+0.5)*step
		fmt.Fprintf(b, `<text x="%.1f" y="%d" font-size="10" font-family="sans-serif" text-anchor="middle">%s</text>`, x, h-6, text(l))
	}
}

func (c Chart) bars(b *strings.Builder, h, n int, top, step, ph float64) {
	for i := 0; i < n; i++ {
		y := float64(h - bottom)
		for si, s := range c.Series {
			if s.Kind != Bar || i >= len(s.Values) || !finite(s.Values[i]) || s.Values[i] <= 0 {
				continue
			}
			bh := s.Values[i] / top * ph
			y -= bh
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>`,
				float64(left)+float64(i)*step+step*0.1, y, step*0.8, bh, Colour(si), text(s.Name), number(s.Values[i]))
		}
	}
}

func (c Chart) lines(b *strings.Builder, h, n int, top, step, ph float64) {
	for si, s := range c.Series {
		if s.Kind == Bar || len(s.Values) == 0 {
			continue
		}
		var pts []string
		for i, v := range s.Values {
			if !finite(v) {
				v = 0
			}
			x := float64(left) + (float64(i)+0.5)*step
			y := float64(h-bottom) - max(v, 0)/top*ph
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		dash := ""
		if s.Kind == Dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s><title>%s</title></polyline>`,
			strings.Join(pts, " "), Colour(si), dash, text(s.Name))
	}
}

// legend is the second line, under the title, right-aligned: a long
// title and many series do not overlap.
func (c Chart) legend(b *strings.Builder, w int) {
	x := w - right
	for si := len(c.Series) - 1; si >= 0; si-- {
		name := text(c.Series[si].Name)
		x -= 14 + 7*len([]rune(c.Series[si].Name))
		fmt.Fprintf(b, `<rect x="%d" y="19" width="10" height="10" fill="%s"/>`, x, Colour(si))
		fmt.Fprintf(b, `<text x="%d" y="28" font-size="11" font-family="sans-serif">%s</text>`, x+12, name)
	}
}

// text is a label made visible and escaped for SVG inside HTML.
func text(s string) string { return html.EscapeString(Visible(s)) }

// number shows a value without needless decimals.
func number(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.2f", v)
}
