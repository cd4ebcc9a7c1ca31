package spec

import (
	"strings"
	"testing"
	"time"
)

func TestParseSocket(t *testing.T) {
	for _, tc := range []struct {
		in      string
		network string
		address string
		err     string
	}{
		{"unix:/run/opendkim/opendkim.sock", "unix", "/run/opendkim/opendkim.sock", ""},
		{"local:/var/run/milter.sock", "unix", "/var/run/milter.sock", ""},
		{"UNIX:/x", "unix", "/x", ""},
		{"inet:8891@127.0.0.1", "tcp", "127.0.0.1:8891", ""},
		{"inet:8891@localhost", "tcp", "localhost:8891", ""},
		{"inet:127.0.0.1:11332", "tcp", "127.0.0.1:11332", ""},
		{"inet6:8891@[::1]", "tcp", "[::1]:8891", ""},
		{"inet6:[::1]:8891", "tcp", "[::1]:8891", ""},
		{"inet:8891@::ffff:127.0.0.1", "tcp", "127.0.0.1:8891", ""},
		{"inet:8891@Milter.Example.ORG", "tcp", "milter.example.org:8891", ""},
		{"/run/x.sock", "", "", "write unix:/run/x.sock"},
		{"unix:relative.sock", "", "", "must be absolute"},
		{"unix:", "", "", "must be absolute"},
		{"unix:/" + strings.Repeat("x", 120), "", "", "longer than"},
		{"unix:/a\x00b", "", "", "NUL"},
		{"inet:0@127.0.0.1", "", "", "not a number"},
		{"inet:65536@127.0.0.1", "", "", "not a number"},
		{"inet:08891@127.0.0.1", "", "", "not a number"},
		{"inet:+25@127.0.0.1", "", "", "not a number"},
		{"inet:x@127.0.0.1", "", "", "not a number"},
		{"inet:8891@", "", "", "host is missing"},
		{"inet:8891", "", "", "port@host or host:port"},
		{"inet:8891@bad_host!", "", "", "neither an IP address nor a host name"},
		{"inet:8891@fe80::1%eth0", "", "", "zoned"},
		{"tcp:8891@127.0.0.1", "", "", "unknown kind"},
		{"", "", "", "expected unix:/path"},
	} {
		s, err := ParseSocket(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSocket(%q) = %+v, %v; want error with %q", tc.in, s, err, tc.err)
			}
			continue
		}
		if err != nil || s.Network != tc.network || s.Address != tc.address {
			t.Errorf("ParseSocket(%q) = %+v, %v; want %s %s", tc.in, s, err, tc.network, tc.address)
		}
	}
}

func TestParseFlags(t *testing.T) {
	for in, want := range map[string]OnFailure{"": Continue, "T": TempFail, "R": Reject, "F=T": TempFail, " f=R ": Reject} {
		if got, err := ParseFlags(in); err != nil || got != want {
			t.Errorf("ParseFlags(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"X", "RT", "t", "T,R", "F=4"} {
		if _, err := ParseFlags(in); err == nil {
			t.Errorf("ParseFlags(%q) accepted", in)
		}
	}
}

func TestParseTimeouts(t *testing.T) {
	d := DefaultTimeouts
	for _, tc := range []struct {
		in   string
		want Timeouts
	}{
		{"", d},
		{"C:2m;S:10s;R:10s;E:5m", Timeouts{2 * time.Minute, 10 * time.Second, 10 * time.Second, 5 * time.Minute}},
		{"T=C:30;E:1m30s", Timeouts{30 * time.Second, d.Send, d.Read, 90 * time.Second}},
		{"r:1h;", Timeouts{d.Connect, d.Send, time.Hour, d.End}},
		{" S : 4s ; ", Timeouts{d.Connect, 4 * time.Second, d.Read, d.End}},
	} {
		got, err := ParseTimeouts(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseTimeouts(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"C", "C:", "X:10s", "C:10x", "C:0", "C:2h", "C:10s;C:20s", "CC:1s", "C:-1s", "C:9999999s", "C:s"} {
		if got, err := ParseTimeouts(in); err == nil {
			t.Errorf("ParseTimeouts(%q) = %+v, accepted", in, got)
		}
	}
}
