package tlsrpt

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseRecord(t *testing.T) {
	good := []struct {
		txt  string
		want []URI
	}{
		{"v=TLSRPTv1; rua=mailto:tls@example.org", []URI{{Raw: "mailto:tls@example.org", Mailbox: "tls@example.org"}}},
		{"v=TLSRPTv1;rua=https://reports.example.org/v1/tlsrpt;", []URI{{Raw: "https://reports.example.org/v1/tlsrpt", URL: "https://reports.example.org/v1/tlsrpt"}}},
		// RFC 8460 3: WSP around ";" and ","; extensions ignored.
		{"v=TLSRPTv1 ;  rua=mailto:a@example.org , https://r.example.net:8443/x?y=1 ; ext_1.a=b-c ;", []URI{
			{Raw: "mailto:a@example.org", Mailbox: "a@example.org"},
			{Raw: "https://r.example.net:8443/x?y=1", URL: "https://r.example.net:8443/x?y=1"}}},
		{"v=TLSRPTv1; x=1; rua=MAILTO:tls%2Breports@example.org?subject=tls", []URI{
			{Raw: "MAILTO:tls%2Breports@example.org?subject=tls", Mailbox: "tls+reports@example.org"}}},
	}
	for _, g := range good {
		rec, err := ParseRecord(g.txt)
		if err != nil {
			t.Errorf("%q: %v", g.txt, err)
			continue
		}
		if !reflect.DeepEqual(rec.RUA, g.want) {
			t.Errorf("%q: rua %+v, want %+v", g.txt, rec.RUA, g.want)
		}
	}
	bad := []struct{ txt, want string }{
		{"", "not a TLSRPT record"},
		{"v=TLSRPTv2; rua=mailto:a@example.org", "not a TLSRPT record"},
		{"v=tlsrptv1; rua=mailto:a@example.org", "not a TLSRPT record"},
		{" v=TLSRPTv1; rua=mailto:a@example.org", "not a TLSRPT record"},
		{"rua=mailto:a@example.org; v=TLSRPTv1", "not a TLSRPT record"},
		{"v=TLSRPTv1", "no rua="},
		{"v=TLSRPTv1;", "no rua="},
		{"v=TLSRPTv1; ext=1", "no rua="},
		{"v=TLSRPTv1;; rua=mailto:a@example.org", "empty field"},
		{"v=TLSRPTv1; rua=", "not name=value"},
		{"v=TLSRPTv1; rua=mailto:a@example.org; rua=mailto:b@example.org", "rua given twice"},
		{"v=TLSRPTv1; rua=http://example.org/", "only mailto: and https:"},
		{"v=TLSRPTv1; rua=ftp://example.org/", "only mailto: and https:"},
		{"v=TLSRPTv1; rua=mailto:a@example.org,", "empty rua URI"},
		{"v=TLSRPTv1; rua=mailto:", "without an address"},
		{"v=TLSRPTv1; rua=mailto:nobody", "not one address"},
		{"v=TLSRPTv1; rua=mailto:a@b@example.org", "not one address"},
		{"v=TLSRPTv1; rua=mailto:a@example.org%2Cb@example.org", "not one address"},
		{"v=TLSRPTv1; rua=mailto:a@example.org!10m", "must be %-encoded"},
		{"v=TLSRPTv1; rua=https://user@example.org/", "want https://host/path"},
		{"v=TLSRPTv1; rua=https:///path", "want https://host/path"},
		{"v=TLSRPTv1; rua=mailto:a@example.org; -bad=1", "bad field name"},
		{"v=TLSRPTv1; rua=mailto:a@example.org; ext=a b", "not allowed"},
		{"v=TLSRPTv1; rua=mailto:a@example.org; ext=a=b", "not allowed"},
		{"v=TLSRPTv1; rua=mailto:a@example.org; " + strings.Repeat("x", 33) + "=1", "bad field name"},
	}
	for _, b := range bad {
		rec, err := ParseRecord(b.txt)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%q: %+v, %v; want an error with %q", b.txt, rec, err, b.want)
		}
		if rec != nil && err != nil {
			t.Errorf("%q: a record with the error", b.txt)
		}
		if errors.Is(err, ErrNotTLSRPT) != (b.want == "not a TLSRPT record") {
			t.Errorf("%q: ErrNotTLSRPT is %v", b.txt, errors.Is(err, ErrNotTLSRPT))
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add("v=TLSRPTv1; rua=mailto:tls@example.org")
	f.Add("v=TLSRPTv1;rua=https://r.example.net/x,mailto:a@b.example;ext=1;")
	f.Fuzz(func(t *testing.T, txt string) {
		rec, err := ParseRecord(txt)
		if err != nil {
			if rec != nil {
				t.Fatal("record with an error")
			}
			return
		}
		if !strings.HasPrefix(txt, version) || len(rec.RUA) == 0 {
			t.Fatalf("%q parsed: %+v", txt, rec)
		}
		for _, u := range rec.RUA {
			if (u.Mailbox == "") == (u.URL == "") || !strings.Contains(txt, u.Raw) {
				t.Fatalf("%q: bad destination %+v", txt, u)
			}
			if u.Mailbox != "" && strings.Count(u.Mailbox, "@") != 1 {
				t.Fatalf("%q: mailbox %q", txt, u.Mailbox)
			}
			// Each destination parses again alone.
			again, err := ParseRecord("v=TLSRPTv1; rua=" + u.Raw)
			if err != nil || len(again.RUA) != 1 || again.RUA[0] != u {
				t.Fatalf("%q: %q does not parse again the same: %+v %v", txt, u.Raw, again, err)
			}
		}
	})
}
