package mtasts

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRecord(t *testing.T) {
	cases := []struct {
		rec  string
		id   string // "" means an error
		err  string // substring of the error
		noID bool   // the error wraps ErrNoID
	}{
		{rec: "v=STSv1; id=20240101T000000", id: "20240101T000000"},
		{rec: "v=STSv1;id=abc123;", id: "abc123"},
		{rec: "v=STSv1 ; id=abc ;\t", id: "abc"},
		{rec: "v=STSv1; id=" + strings.Repeat("a", 32), id: strings.Repeat("a", 32)},
		{rec: "v=STSv1; ext=a-b_c:d; id=1", id: "1"},
		{rec: "v=STSv1; id=1; id=two-ids", id: "1"}, // the first id counts; the second is an extension
		{rec: "v=STSv1; id=", err: "id=\"\"", noID: true},
		{rec: "v=STSv1;", err: "no valid id=", noID: true},
		{rec: "v=STSv1", err: "no valid id=", noID: true},
		{rec: "v=STSv1; id=2024-01-01", err: "id=\"2024-01-01\"", noID: true},
		{rec: "v=STSv1; id=" + strings.Repeat("a", 33), err: "no valid id=", noID: true},
		{rec: "v=STSv1; id=ab\u00e9", err: "no valid id=", noID: true},
		{rec: "v=STSv1; xid=1", err: "no valid id=", noID: true},
		{rec: "v=STSv1; ID=1", err: "no valid id=", noID: true}, // %s"id="
		{rec: "v=STSv1; id = 1", err: "bad field name \"id \""},
		{rec: "v=STSv2; id=1", err: "starts with \"v=STSv2\""},
		{rec: "v=STSv10; id=1", err: "not \"v=STSv1;\""},
		{rec: " v=STSv1; id=1", err: "not \"v=STSv1;\""},
		{rec: "v=stsv1; id=1", err: "not \"v=STSv1;\""},
		{rec: "v=STSv1 id=1", err: "not \"v=STSv1;\""},
		{rec: "v=STSv1;; id=1", err: "empty field"},
		{rec: "v=STSv1; id=1; foo", err: "\"foo\" is not name=value"},
		{rec: "v=STSv1; id=1; _x=1", err: "bad field name"},
		{rec: "v=STSv1; id=1; x=", err: "x has no value"},
		{rec: "v=STSv1; id=1; x=a b", err: "not allowed in a value"},
		{rec: "v=STSv1; id=1; x=a=b", err: "not allowed in a value"},
		{rec: "", err: "not \"v=STSv1;\""},
	}
	for _, c := range cases {
		rec, err := ParseRecord(c.rec)
		if c.id != "" {
			if err != nil || rec.ID != c.id {
				t.Errorf("%q: %+v, %v; want id %q", c.rec, rec, err, c.id)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) || errors.Is(err, ErrNoID) != c.noID || rec != nil {
			t.Errorf("%q: %+v, %v; want an error with %q (ErrNoID %v)", c.rec, rec, err, c.err, c.noID)
		}
	}
}

func TestNames(t *testing.T) {
	if got := RecordName("example.org"); got != "_mta-sts.example.org" {
		t.Error(got)
	}
	if got := PolicyURL("example.org"); got != "https://mta-sts.example.org/.well-known/mta-sts.txt" {
		t.Error(got)
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add("v=STSv1; id=20240101T000000")
	f.Add("v=STSv1;id=1;ext=x;")
	f.Fuzz(func(t *testing.T, txt string) {
		rec, err := ParseRecord(txt)
		if err != nil {
			if rec != nil {
				t.Fatal("record with an error")
			}
			return
		}
		if !strings.HasPrefix(txt, "v=STSv1") {
			t.Fatalf("%q parsed without v=STSv1", txt)
		}
		if rec.ID == "" || len(rec.ID) > 32 || !allAlnum(rec.ID) || !strings.Contains(txt, "id="+rec.ID) {
			t.Fatalf("%q: bad id %q", txt, rec.ID)
		}
		// Whatever parses, parses again the same once rebuilt from its
		// id alone.
		if again, err := ParseRecord("v=STSv1; id=" + rec.ID); err != nil || again.ID != rec.ID {
			t.Fatalf("id %q does not round-trip: %v", rec.ID, err)
		}
	})
}
