package spec

import (
	"strings"
	"testing"
)

func FuzzParseSocket(f *testing.F) {
	for _, s := range []string{"unix:/run/opendkim/opendkim.sock", "inet:8891@127.0.0.1", "inet:127.0.0.1:8891",
		"inet6:[::1]:11332", "local:/x", "inet:1@a.b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSocket(in)
		if err != nil {
			return
		}
		switch s.Network {
		case "unix":
			if !strings.HasPrefix(s.Address, "/") || len(s.Address) > maxPath {
				t.Fatalf("%q: bad path %q", in, s.Address)
			}
		case "tcp":
			// The result parses again to itself.
			again, err := ParseSocket(s.String())
			if err != nil || again != s {
				t.Fatalf("%q -> %+v -> %+v, %v", in, s, again, err)
			}
		default:
			t.Fatalf("%q: network %q", in, s.Network)
		}
	})
}

func FuzzParseTimeouts(f *testing.F) {
	for _, s := range []string{"C:2m;S:10s;R:10s;E:5m", "T=E:1m30s", "", "C:10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tm, err := ParseTimeouts(in)
		if err != nil {
			return
		}
		for _, d := range []int64{int64(tm.Connect), int64(tm.Send), int64(tm.Read), int64(tm.End)} {
			if d <= 0 || d > int64(maxTimeout) {
				t.Fatalf("%q: timeout %d out of range", in, d)
			}
		}
	})
}

func FuzzParseFlags(f *testing.F) {
	for _, s := range []string{"T", "R", "", "F=T"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if v, err := ParseFlags(in); err == nil && v != Continue && v != TempFail && v != Reject {
			t.Fatalf("%q: %v", in, v)
		}
	})
}
