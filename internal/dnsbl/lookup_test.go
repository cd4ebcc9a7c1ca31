package dnsbl

import (
	"context"
	"net/netip"
	"testing"

	"postern/internal/dnstest"
)

func TestLookup(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{
		"2.2.0.192.bl.example. A":        {"127.0.0.2"},
		"3.2.0.192.bl.example. A":        {"127.0.0.12", "127.0.0.4"},
		"4.2.0.192.bl.example. A":        {"127.255.255.254"},
		"5.2.0.192.bl.example. SERVFAIL": {""},
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example. A": {"127.0.0.3"},
	})
	r := srv.Resolver()
	codes, err := ParseCodes([]string{"127.0.0.[2-11]"})
	if err != nil {
		t.Fatal(err)
	}
	l := &List{Zone: "bl.example", Codes: codes}
	tests := []struct {
		ip      string
		listed  bool
		answers int
		err     bool
	}{
		{"192.0.2.2", true, 1, false},
		{"192.0.2.3", true, 2, false},  // one of two answers counts
		{"192.0.2.4", false, 1, false}, // a query-error code does not
		{"192.0.2.5", false, 0, true},
		{"192.0.2.6", false, 0, false}, // NXDOMAIN
		{"2001:db8::1", true, 1, false},
		{"2001:db8::2", false, 0, false},
	}
	ctx := context.Background()
	for _, tt := range tests {
		res := l.Lookup(ctx, r, netip.MustParseAddr(tt.ip))
		if res.Listed != tt.listed || len(res.Answers) != tt.answers || (res.Err != nil) != tt.err {
			t.Errorf("%s: listed %v answers %v err %v; want %v %d %v", tt.ip, res.Listed, res.Answers, res.Err, tt.listed, tt.answers, tt.err)
		}
	}
	other := &List{Zone: "other.example"}
	all := LookupAll(ctx, r, []*List{l, other}, netip.MustParseAddr("192.0.2.2"))
	if !all[0].Listed || all[1].Listed || all[1].List != other {
		t.Errorf("LookupAll: %+v", all)
	}
}
