package dmarc

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseRecord(t *testing.T) {
	for _, c := range []struct {
		in      string
		wantErr error
		check   func(t *testing.T, r *Record)
	}{
		{in: "v=DMARC1; p=reject", check: func(t *testing.T, r *Record) {
			if r.Policy != PolicyReject || r.SubdomainPolicy != "" || r.Percent != 100 ||
				r.DKIMAlignment != AlignRelaxed || r.SPFAlignment != AlignRelaxed || r.ReportInterval != 86400 {
				t.Errorf("defaults wrong: %+v", r)
			}
		}},
		{in: "v=DMARC1;p=quarantine;sp=none;adkim=s;aspf=s;pct=20;fo=1:d;ri=3600", check: func(t *testing.T, r *Record) {
			if r.Policy != PolicyQuarantine || r.SubdomainPolicy != PolicyNone || r.Percent != 20 ||
				r.DKIMAlignment != AlignStrict || r.SPFAlignment != AlignStrict || r.FailureOptions != "1:d" || r.ReportInterval != 3600 {
				t.Errorf("got %+v", r)
			}
		}},
		{in: "v=DMARC1; p=none; rua=mailto:a@example.org!10m, mailto:b@example.net", check: func(t *testing.T, r *Record) {
			want := []ReportURI{{"mailto:a@example.org", 10 << 20}, {"mailto:b@example.net", 0}}
			if !reflect.DeepEqual(r.RUA, want) {
				t.Errorf("rua = %+v, want %+v", r.RUA, want)
			}
			if r.RUA[0].Address() != "a@example.org" {
				t.Errorf("address = %q", r.RUA[0].Address())
			}
		}},
		{in: "v=DMARC1; p=none; rua=mailto:a@example.org!5k,notauri", check: func(t *testing.T, r *Record) {
			if len(r.RUA) != 1 || r.RUA[0].MaxSize != 5<<10 || len(r.Warnings) != 1 {
				t.Errorf("rua = %+v warnings %q", r.RUA, r.Warnings)
			}
		}},
		{in: "v=DMARC1; p=REJECT; PCT=50", check: func(t *testing.T, r *Record) {
			if r.Policy != PolicyReject || r.Percent != 50 {
				t.Errorf("case folding: %+v", r)
			}
		}},
		{in: "v=DMARC1; p=reject; pct=150; adkim=x; unknown=1", check: func(t *testing.T, r *Record) {
			if r.Percent != 100 || r.DKIMAlignment != AlignRelaxed || len(r.Warnings) != 2 {
				t.Errorf("bad tags not ignored: %+v", r)
			}
		}},
		{in: "v=DMARC1; p=none; p=reject", check: func(t *testing.T, r *Record) {
			if r.Policy != PolicyNone || len(r.Warnings) != 1 {
				t.Errorf("repeat: %+v", r)
			}
		}},
		{in: "p=reject; v=DMARC1", wantErr: ErrNotDMARC},
		{in: "v=DMARC2; p=reject", wantErr: ErrNotDMARC},
		{in: "v=dmarc1; p=reject", wantErr: ErrNotDMARC},
		{in: "v=spf1 -all", wantErr: ErrNotDMARC},
		{in: "", wantErr: ErrNotDMARC},
		{in: "v=DMARC1; p", wantErr: ErrNotDMARC},
		{in: "v=DMARC1", wantErr: ErrInvalidPolicy},
		{in: "v=DMARC1; p=bogus; rua=mailto:r@example.org", wantErr: ErrInvalidPolicy, check: func(t *testing.T, r *Record) {
			if len(r.RUA) != 1 {
				t.Errorf("record with bad p should keep rua: %+v", r)
			}
		}},
		{in: "v=DMARC1; p=reject; sp=bogus", wantErr: ErrInvalidPolicy},
	} {
		t.Run(c.in, func(t *testing.T) {
			r, err := ParseRecord(c.in)
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if c.check != nil {
				if r == nil {
					t.Fatal("nil record")
				}
				c.check(t, r)
			}
		})
	}
}

func TestRecordString(t *testing.T) {
	in := "v=DMARC1; p=quarantine; sp=reject; adkim=s; pct=50; rua=mailto:a@example.org!10m"
	r, err := ParseRecord(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.String(); got != in {
		t.Errorf("String() = %q, want %q", got, in)
	}
}

func TestParseReportURI(t *testing.T) {
	for _, c := range []struct {
		in   string
		size int64
		ok   bool
	}{
		{"mailto:r@example.org", 0, true},
		{"mailto:r@example.org!1", 1, true},
		{"mailto:r@example.org!2g", 2 << 30, true},
		{"mailto:r@example.org!", 0, false},
		{"mailto:r@example.org!x", 0, false},
		{"mailto:r@example.org!99999999999999999999t", 0, false},
		{"mailto:not an address", 0, false},
		{"https://example.org/r", 0, true},
		{"plain", 0, false},
	} {
		u, err := ParseReportURI(c.in)
		if (err == nil) != c.ok || (c.ok && u.MaxSize != c.size) {
			t.Errorf("ParseReportURI(%q) = %+v, %v", c.in, u, err)
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{
		"v=DMARC1; p=reject", "v=DMARC1;p=none;rua=mailto:a@b.c!10m,mailto:x@y.z", "v=DMARC1; p=quarantine; pct=0; sp=none",
		"v=DMARC1; p=bogus; rua=mailto:r@example.org", "v=DMARC1; fo=1:d:s; ri=1", "=;;=", "v=DMARC1;p=none;rua=mailto:%ff!9t",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecord(s)
		if err == nil && (r == nil || r.Policy == "") {
			t.Fatalf("nil error but record %+v", r)
		}
		if r != nil && (r.Percent < 0 || r.Percent > 100) {
			t.Fatalf("pct out of range: %d", r.Percent)
		}
		if err == nil {
			// What we print must parse back to the same policy.
			r2, err := ParseRecord(r.String())
			if err != nil || r2.Policy != r.Policy || r2.Percent != r.Percent || len(r2.RUA) != len(r.RUA) {
				t.Fatalf("round trip of %q via %q: %+v, %v", s, r.String(), r2, err)
			}
		}
	})
}

// TestParseRecordMalformed: a v=DMARC1 record that is not a tag-list is
// not a DMARC record, and says why.
func TestParseRecordMalformed(t *testing.T) {
	for in, want := range map[string]bool{
		"v=DMARC1; p=none; junk": true,
		"v=DMARC1;=x":            true,
		"junk; v=DMARC1":         false,
		"not dmarc":              false,
	} {
		_, err := ParseRecord(in)
		var me *MalformedError
		if !errors.Is(err, ErrNotDMARC) || errors.As(err, &me) != want {
			t.Errorf("%q: %v, want malformed=%v", in, err, want)
		}
	}
	_, err := ParseRecord("v=DMARC1; p=none; junk")
	var me *MalformedError
	if errors.As(err, &me) && (me.Detail != `"junk" is not tag=value` || err.Error() != `not a DMARC record: "junk" is not tag=value`) {
		t.Errorf("detail %q, error %q", me.Detail, err)
	}
}
