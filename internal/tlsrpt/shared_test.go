package tlsrpt

import "testing"

var rowCases = []struct {
	name string
	in   string
	ok   bool
}{
	{"success", `{"p":{"policy-type":"sts","policy-domain":"a.example"}}`, true},
	{"failure", `{"p":{"policy-type":"tlsa","policy-domain":"a.example"},"f":{"result-type":"certificate-expired","failed-session-count":0}}`, true},
	{"no domain", `{"p":{"policy-type":"sts"}}`, false},
	{"unknown result", `{"p":{"policy-domain":"a.example"},"f":{"result-type":"made-up"}}`, false},
	{"not JSON", `a.example`, false},
	{"empty", ``, false},
}

// A Tally's rows are read back as they were written, and what is not a
// row is refused.
func TestDecodeRow(t *testing.T) {
	for _, c := range rowCases {
		t.Run(c.name, func(t *testing.T) {
			r, ok := decodeRow(c.in)
			if ok != c.ok {
				t.Fatalf("ok = %v, want %v (%+v)", ok, c.ok, r)
			}
		})
	}
}

// Whatever a shared backend holds, reading it neither panics nor counts
// a row that is not one.
func FuzzDecodeRow(f *testing.F) {
	for _, c := range rowCases {
		f.Add(c.in, int64(3))
	}
	f.Fuzz(func(t *testing.T, in string, n int64) {
		r, ok := decodeRow(in)
		if !ok {
			return
		}
		if r.Policy.Domain == "" {
			t.Fatal("a row without a policy domain accepted")
		}
		d := newDay()
		d.addRow(r.Policy, r.Fail, n, Limits{}.withDefaults())
	})
}
