package dane

import (
	"bytes"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   []byte
		want Record
		bad  bool
	}{
		{in: nil, bad: true},
		{in: []byte{3, 1}, bad: true},
		{in: []byte{3, 1, 1}, want: Record{Usage: 3, Selector: 1, MatchingType: 1, Data: []byte{}}},
		{in: []byte{2, 0, 2, 0xaa, 0xbb}, want: Record{Usage: 2, Selector: 0, MatchingType: 2, Data: []byte{0xaa, 0xbb}}},
		{in: []byte{255, 255, 255, 1}, want: Record{Usage: 255, Selector: 255, MatchingType: 255, Data: []byte{1}}},
	} {
		got, err := Parse(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("%x: accepted as %v", c.in, got)
			}
			continue
		}
		if err != nil || got.Usage != c.want.Usage || got.Selector != c.want.Selector ||
			got.MatchingType != c.want.MatchingType || !bytes.Equal(got.Data, c.want.Data) {
			t.Errorf("%x: %+v %v, want %+v", c.in, got, err, c.want)
		}
	}
	// The record does not share the caller's bytes.
	in := []byte{3, 1, 1, 7}
	r, _ := Parse(in)
	in[3] = 8
	if r.Data[0] != 7 {
		t.Error("Parse kept the caller's slice")
	}
}

func TestCheck(t *testing.T) {
	p := newPKI(t)
	spki := p.leaf.cert.RawSubjectPublicKeyInfo
	d32, d64 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 64)
	for _, c := range []struct {
		r    Record
		want string // "" for usable, else part of the reason
	}{
		{Record{DANEEE, SelectorSPKI, MatchSHA256, d32}, ""},
		{Record{DANEEE, SelectorCert, MatchSHA256, d32}, ""},
		{Record{DANETA, SelectorCert, MatchSHA512, d64}, ""},
		{Record{DANETA, SelectorSPKI, MatchSHA512, d64}, ""},
		{Record{DANEEE, SelectorCert, MatchFull, p.leaf.cert.Raw}, ""},
		{Record{DANEEE, SelectorSPKI, MatchFull, spki}, ""},
		{Record{DANETA, SelectorCert, MatchFull, p.root.cert.Raw}, ""},
		{Record{PKIXTA, SelectorCert, MatchSHA256, d32}, "PKIX-TA(0) is not for SMTP"},
		{Record{PKIXEE, SelectorSPKI, MatchSHA256, d32}, "PKIX-EE(1) is not for SMTP"},
		{Record{4, SelectorSPKI, MatchSHA256, d32}, "unknown usage 4"},
		{Record{DANEEE, 2, MatchSHA256, d32}, "unknown selector 2"},
		{Record{DANEEE, SelectorSPKI, 3, d32}, "unknown matching type 3"},
		{Record{DANEEE, SelectorSPKI, 255, d32}, "unknown matching type 255"},
		{Record{DANEEE, SelectorSPKI, MatchSHA256, d32[:31]}, "SHA2-256(1) digest of 31 octets, want 32"},
		{Record{DANEEE, SelectorSPKI, MatchSHA256, d64}, "digest of 64 octets, want 32"},
		{Record{DANEEE, SelectorSPKI, MatchSHA512, d32}, "SHA2-512(2) digest of 32 octets, want 64"},
		{Record{DANEEE, SelectorSPKI, MatchSHA256, nil}, "digest of 0 octets"},
		{Record{DANEEE, SelectorCert, MatchFull, spki}, "not a certificate"},
		{Record{DANEEE, SelectorCert, MatchFull, nil}, "not a certificate"},
		{Record{DANEEE, SelectorSPKI, MatchFull, p.leaf.cert.Raw}, "not a SubjectPublicKeyInfo"},
		{Record{DANEEE, SelectorSPKI, MatchFull, append(append([]byte(nil), spki...), 0)}, "not a SubjectPublicKeyInfo"},
		{Record{DANEEE, SelectorSPKI, MatchFull, d32}, "not a SubjectPublicKeyInfo"},
	} {
		err := c.r.Check()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v: %v, want usable", c.r, err)
		case c.want != "" && (!errors.Is(err, ErrUnusable) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%v: %v, want unusable: %s", c.r, err, c.want)
		}
	}
}

func TestRecordString(t *testing.T) {
	r := Record{DANEEE, SelectorSPKI, MatchSHA256, []byte{0xde, 0xad}}
	if s := r.String(); s != "3 1 1 dead" {
		t.Errorf("String %q", s)
	}
	long := Record{DANETA, SelectorCert, MatchFull, bytes.Repeat([]byte{0xab}, 40)}
	if s := long.String(); !strings.HasPrefix(s, "2 0 0 abab") || !strings.HasSuffix(s, "... (40 octets)") {
		t.Errorf("String %q", s)
	}
	for v, want := range map[string]string{
		DANEEE.String():          "DANE-EE(3)",
		Usage(9).String():        "(9)",
		SelectorSPKI.String():    "SPKI(1)",
		MatchSHA512.String():     "SHA2-512(2)",
		MatchingType(7).String(): "(7)",
		ModeVerify.String():      "verify",
		Mode(9).String():         "Mode(9)",
	} {
		if v != want {
			t.Errorf("%q, want %q", v, want)
		}
	}
}

func TestParseSet(t *testing.T) {
	p := newPKI(t)
	good := record(DANEEE, SelectorSPKI, MatchSHA256, p.leaf.cert)
	pkix := record(PKIXEE, SelectorSPKI, MatchSHA256, p.leaf.cert)
	usable, unusable := ParseSet([][]byte{rdata(good), {3, 1}, rdata(pkix), {3, 1, 1, 0}})
	if len(usable) != 1 || !bytes.Equal(usable[0].Data, good.Data) {
		t.Errorf("usable %v", usable)
	}
	if len(unusable) != 3 || !strings.Contains(unusable[0], "2 octets") || !strings.Contains(unusable[1], "PKIX-EE") {
		t.Errorf("unusable %q", unusable)
	}
	if u, n := ParseSet(nil); u != nil || n != nil {
		t.Errorf("empty set: %v %v", u, n)
	}
}

func TestMatches(t *testing.T) {
	p := newPKI(t)
	for _, s := range []Selector{SelectorCert, SelectorSPKI} {
		for _, m := range []MatchingType{MatchFull, MatchSHA256, MatchSHA512} {
			r := record(DANEEE, s, m, p.leaf.cert)
			if !r.Matches(p.leaf.cert) {
				t.Errorf("%v does not match its certificate", r)
			}
			if r.Matches(p.inter.cert) || r.Matches(nil) {
				t.Errorf("%v matches another certificate", r)
			}
		}
	}
	// Unusable records match nothing, even their own certificate.
	if r := record(PKIXEE, SelectorSPKI, MatchSHA256, p.leaf.cert); r.Matches(p.leaf.cert) {
		t.Error("a PKIX-EE record matches")
	}
}

// FuzzParse: whatever the RDATA, Parse, Check, String and Matches do
// not panic, a parsed record keeps the fields and data, and Check
// accepts only the combinations SMTP can use.
func FuzzParse(f *testing.F) {
	p := newPKI(f)
	f.Add(rdata(record(DANEEE, SelectorSPKI, MatchSHA256, p.leaf.cert)))
	f.Add(rdata(record(DANETA, SelectorCert, MatchFull, p.root.cert)))
	f.Add([]byte{3, 1, 0, 0x30, 0x03, 0x30, 0x01, 0x00})
	f.Add([]byte{1, 1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if (err != nil) != (len(b) < 3) {
			t.Fatalf("%x: err %v", b, err)
		}
		if err != nil {
			return
		}
		if byte(r.Usage) != b[0] || byte(r.Selector) != b[1] || byte(r.MatchingType) != b[2] || !bytes.Equal(r.Data, b[3:]) {
			t.Fatalf("%x read as %+v", b, r)
		}
		_ = r.String()
		if r.Check() == nil {
			if r.Usage < DANETA || r.Usage > DANEEE || r.Selector > SelectorSPKI || r.MatchingType > MatchSHA512 {
				t.Fatalf("%v usable", r)
			}
			if r.MatchingType != MatchFull && len(r.Data) != digestLen(r.MatchingType) {
				t.Fatalf("%v usable with a digest of %d octets", r, len(r.Data))
			}
		}
		r.Matches(p.leaf.cert)
		_ = Verify([]*x509.Certificate{p.leaf.cert, p.inter.cert}, []Record{r}, []string{"mx.example.test"}, testNow)
	})
}
