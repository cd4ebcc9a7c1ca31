package srs

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The vectors were computed apart from this code (Python's hmac, hashlib
// and base64 modules), from the scheme as libsrs2 describes it: the day
// number modulo 1024 in base32, and the first four base64 characters of
// HMAC-SHA1 over the lower-cased parts.
var (
	vectorTime = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC) // day 20526, 46 modulo 1024: "BO"
	vectorKeys = Keys{[]byte("tops3cret")}
)

func vectorRewriter(keys Keys, now time.Time) *Rewriter {
	return &Rewriter{Domain: "fwd.example", Keys: keys, Now: func() time.Time { return now }}
}

func TestForwardVectors(t *testing.T) {
	r := vectorRewriter(vectorKeys, vectorTime)
	tests := []struct{ sender, want string }{
		{"Alice@origin.example", "SRS0=3vMX=BO=origin.example=Alice@fwd.example"},
		{"first.last+tag@sub.origin.example", "SRS0=aSAN=BO=sub.origin.example=first.last+tag@fwd.example"},
		// Another forwarder's SRS0: SRS1 naming that forwarder.
		{"SRS0=ABCD=XY=origin.example=alice@fwd1.example", "SRS1=Cgk+=fwd1.example==ABCD=XY=origin.example=alice@fwd.example"},
		// An SRS1 of a second forwarder: our hash, the same first forwarder.
		{"SRS1=zzzz=fwd1.example==ABCD=XY=origin.example=alice@fwd2.example", "SRS1=Cgk+=fwd1.example==ABCD=XY=origin.example=alice@fwd.example"},
		// Already ours, and the null sender: unchanged.
		{"bob@FWD.example", "bob@FWD.example"},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := r.Forward(tt.sender)
		if err != nil || got != tt.want {
			t.Errorf("Forward(%q) = %q, %v; want %q", tt.sender, got, err, tt.want)
		}
	}
}

func TestForwardRefuses(t *testing.T) {
	r := vectorRewriter(vectorKeys, vectorTime)
	for _, sender := range []string{"nodomain", "@origin.example", "alice@", `"a b"@origin.example`,
		"SRS1=x@fwd1.example", "a" + strings.Repeat("b", 230) + "@origin.example"} {
		if got, err := r.Forward(sender); err == nil {
			t.Errorf("Forward(%q) = %q, want an error", sender, got)
		}
	}
	if _, err := vectorRewriter(nil, vectorTime).Forward("alice@origin.example"); !errors.Is(err, ErrNoKeys) {
		t.Errorf("no keys: %v", err)
	}
}

func TestReverse(t *testing.T) {
	old := Keys{[]byte("new-key"), []byte("tops3cret")} // after a rotation
	tests := []struct {
		name string
		keys Keys
		now  time.Time
		addr string
		want string
		err  error
	}{
		{"srs0", vectorKeys, vectorTime, "SRS0=3vMX=BO=origin.example=Alice@fwd.example", "Alice@origin.example", nil},
		{"case smashed", vectorKeys, vectorTime, "srs0=3VMX=bo=ORIGIN.example=alice@FWD.EXAMPLE", "alice@ORIGIN.example", nil},
		{"other separator", vectorKeys, vectorTime, "SRS0+3vMX=BO=origin.example=Alice@fwd.example", "Alice@origin.example", nil},
		{"old key verifies", old, vectorTime, "SRS0=3vMX=BO=origin.example=Alice@fwd.example", "Alice@origin.example", nil},
		{"21 days old", vectorKeys, vectorTime.Add(21 * day), "SRS0=3vMX=BO=origin.example=Alice@fwd.example", "Alice@origin.example", nil},
		{"22 days old", vectorKeys, vectorTime.Add(22 * day), "SRS0=3vMX=BO=origin.example=Alice@fwd.example", "", ErrExpired},
		{"from the future", vectorKeys, vectorTime.Add(-day), "SRS0=3vMX=BO=origin.example=Alice@fwd.example", "", ErrExpired},
		{"1024 days later", vectorKeys, vectorTime.Add(1024 * day), "SRS0=3vMX=BO=origin.example=Alice@fwd.example", "Alice@origin.example", nil},
		{"forged hash", vectorKeys, vectorTime, "SRS0=AAAA=BO=origin.example=Alice@fwd.example", "", ErrHash},
		{"other user", vectorKeys, vectorTime, "SRS0=3vMX=BO=origin.example=mallory@fwd.example", "", ErrHash},
		{"other domain", vectorKeys, vectorTime, "SRS0=3vMX=BO=evil.example=Alice@fwd.example", "", ErrHash},
		{"short hash", vectorKeys, vectorTime, "SRS0=3vM=BO=origin.example=Alice@fwd.example", "", ErrHash},
		{"long hash", vectorKeys, vectorTime, "SRS0=3vMXa=BO=origin.example=Alice@fwd.example", "", ErrHash},
		{"unknown key", Keys{[]byte("new-key")}, vectorTime, "SRS0=3vMX=BO=origin.example=Alice@fwd.example", "", ErrHash},
		{"srs1", vectorKeys, vectorTime, "SRS1=Cgk+=fwd1.example==ABCD=XY=origin.example=alice@fwd.example", "SRS0=ABCD=XY=origin.example=alice@fwd1.example", nil},
		{"srs1 forged", vectorKeys, vectorTime, "SRS1=Cgk+=evil.example==ABCD=XY=origin.example=alice@fwd.example", "", ErrHash},
		{"not srs", vectorKeys, vectorTime, "alice@fwd.example", "", ErrNotSRS},
		{"missing part", vectorKeys, vectorTime, "SRS0=3vMX=BO=origin.example@fwd.example", "", ErrSyntax},
		{"no keys", nil, vectorTime, "SRS0=3vMX=BO=origin.example=Alice@fwd.example", "", ErrNoKeys},
	}
	for _, tt := range tests {
		got, err := vectorRewriter(tt.keys, tt.now).Reverse(tt.addr)
		if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("%s: Reverse(%q) = %q, %v; want %q, %v", tt.name, tt.addr, got, err, tt.want, tt.err)
		}
	}
}

// A bad timestamp character is caught after the hash: the hash covers it.
func TestReverseBadStamp(t *testing.T) {
	r := vectorRewriter(vectorKeys, vectorTime)
	key := vectorKeys[0]
	addr := "SRS0=" + makeHash(key, "B1", "origin.example", "alice") + "=B1=origin.example=alice@fwd.example"
	if _, err := r.Reverse(addr); !errors.Is(err, ErrSyntax) {
		t.Errorf("Reverse(%q): %v, want ErrSyntax", addr, err)
	}
}

// What one forwarder makes, the next turns into SRS1, and the way back
// goes through both.
func TestChain(t *testing.T) {
	first := &Rewriter{Domain: "one.example", Keys: Keys{[]byte("k1")}}
	second := &Rewriter{Domain: "two.example", Keys: Keys{[]byte("k2")}}
	third := &Rewriter{Domain: "three.example", Keys: Keys{[]byte("k3")}}
	a, _ := first.Forward("alice@origin.example")
	b, _ := second.Forward(a)
	c, err := third.Forward(b)
	if err != nil || !strings.HasPrefix(c, "SRS1=") || !strings.Contains(c, "=one.example==") {
		t.Fatalf("chain %q -> %q -> %q (%v)", a, b, c, err)
	}
	back, err := third.Reverse(c)
	if err != nil || back != a {
		t.Fatalf("third.Reverse(%q) = %q, %v; want %q", c, back, err, a)
	}
	orig, err := first.Reverse(back)
	if err != nil || orig != "alice@origin.example" {
		t.Errorf("first.Reverse(%q) = %q, %v", back, orig, err)
	}
	if _, err := second.Reverse(c); !errors.Is(err, ErrHash) {
		t.Errorf("another forwarder's key checked our address: %v", err)
	}
}

func TestStamp(t *testing.T) {
	for _, tt := range []struct {
		day  int64
		want string
	}{{0, "AA"}, {33, "BB"}, {1023, "77"}, {1024, "AA"}, {20526, "BO"}} {
		if got := makeStamp(time.Unix(tt.day*86400+3600, 0)); got != tt.want {
			t.Errorf("day %d: %q, want %q", tt.day, got, tt.want)
		}
		if n, ok := readStamp(strings.ToLower(tt.want)); !ok || n != tt.day%1024 {
			t.Errorf("readStamp(%q) = %d, %v", tt.want, n, ok)
		}
	}
	for _, bad := range []string{"", "A", "AAA", "A1", "A8", "A=", "é"} {
		if _, ok := readStamp(bad); ok {
			t.Errorf("readStamp(%q) accepted", bad)
		}
	}
}

func TestOwns(t *testing.T) {
	r := vectorRewriter(vectorKeys, vectorTime)
	for addr, want := range map[string]bool{
		"SRS0=x=y=z=w@fwd.example": true, "srs1-x@FWD.Example": true,
		"SRS0=x=y=z=w@other.example": false, "alice@fwd.example": false, "SRS2=x@fwd.example": false,
		"SRS0@fwd.example": false, "SRS0=@fwd.example": true,
	} {
		if r.Owns(addr) != want {
			t.Errorf("Owns(%q) = %v", addr, !want)
		}
	}
}
