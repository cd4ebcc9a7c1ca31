package srs

import (
	"errors"
	"testing"
)

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in   string
		want Address
		err  error
	}{
		{"SRS0=HHHH=TT=origin.example=alice@fwd.example",
			Address{Sep: '=', Hash: "HHHH", Stamp: "TT", Host: "origin.example", User: "alice", Domain: "fwd.example"}, nil},
		{"srs0+hh=tt=d=user=with=equals",
			Address{Sep: '+', Hash: "hh", Stamp: "tt", Host: "d", User: "user=with=equals"}, nil},
		{"SRS1=HHHH=first.example==GGGG=TT=origin.example=alice@fwd.example",
			Address{Guarded: true, Sep: '=', Hash: "HHHH", Host: "first.example", User: "=GGGG=TT=origin.example=alice", Domain: "fwd.example"}, nil},
		{"SRS1-HHHH=first.example=+GGGG=TT=o=a",
			Address{Guarded: true, Sep: '-', Hash: "HHHH", Host: "first.example", User: "+GGGG=TT=o=a"}, nil},
		{"alice@fwd.example", Address{}, ErrNotSRS},
		{"SRS0", Address{}, ErrNotSRS},
		{"SRS0x=a=b=c=d", Address{}, ErrNotSRS},
		{"SRS2=a=b=c=d", Address{}, ErrNotSRS},
		{"SRS0=", Address{}, ErrSyntax},
		{"SRS0==TT=d=u", Address{}, ErrSyntax},
		{"SRS0=HHHH", Address{}, ErrSyntax},
		{"SRS0=HHHH==d=u", Address{}, ErrSyntax},
		{"SRS0=HHHH=TT=d", Address{}, ErrSyntax},
		{"SRS0=HHHH=TT==u", Address{}, ErrSyntax},
		{"SRS0=HHHH=TT=d=", Address{}, ErrSyntax},
		{"SRS1=HHHH=first.example@fwd.example", Address{}, ErrSyntax},
		{"SRS1=HHHH==x", Address{}, ErrSyntax},
	}
	for _, tt := range tests {
		got, err := ParseAddress(tt.in)
		if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("ParseAddress(%q) = %+v, %v; want %+v, %v", tt.in, got, err, tt.want, tt.err)
			continue
		}
		if err == nil {
			if again, _ := ParseAddress(got.String()); again != got {
				t.Errorf("%q: String %q parses as %+v", tt.in, got.String(), again)
			}
		}
	}
}
