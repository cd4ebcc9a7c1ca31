package srs_test

import (
	"strings"
	"testing"
	"time"

	"postern/internal/srs"
	"postern/internal/testpeer"
)

// Postern and a real postsrsd with the same secrets file make the same
// addresses, and each takes back what the other made: a site moving
// from Postfix and postsrsd keeps its bounces.
func TestPostsrsdInterop(t *testing.T) {
	secrets := []string{"new signing secret", "older secret"}
	ps := testpeer.StartPostsrsd(t, "fwd.example", secrets...)
	ours := &srs.Rewriter{Domain: "fwd.example", Keys: srs.Keys{[]byte(secrets[0]), []byte(secrets[1])}}
	senders := []string{
		"alice@origin.example", "First.Last+tag@Sub.Origin.Example", "o'brien@origin.example",
		"SRS0=ABCD=XY=origin.example=alice@fwd1.example",                    // another forwarder's: SRS1
		"SRS1=zzzz=fwd1.example==ABCD=XY=origin.example=alice@fwd2.example", // a third forwarder's
	}
	for _, sender := range senders {
		theirs, ok := ps.Lookup(t, ps.Forward, sender)
		if !ok {
			t.Fatalf("postsrsd did not rewrite %q: %s", sender, theirs)
		}
		mine, err := ours.Forward(sender)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s -> postsrsd %s", sender, theirs)
		if mine != theirs && !crossedMidnight(mine, theirs) {
			t.Errorf("%q: postern makes %q, postsrsd %q", sender, mine, theirs)
		}
		// Each side takes back the other's address (and its case-smashed form).
		for _, addr := range []string{theirs, strings.ToUpper(theirs)} {
			back, err := ours.Reverse(addr)
			if err != nil || !strings.EqualFold(back, want(sender)) {
				t.Errorf("postern Reverse(%q) = %q, %v; want %q", addr, back, err, want(sender))
			}
		}
		for _, addr := range []string{mine, strings.ToLower(mine)} {
			back, ok := ps.Lookup(t, ps.Reverse, addr)
			if !ok || !strings.EqualFold(back, want(sender)) {
				t.Errorf("postsrsd reverse of %q = %q (%v); want %q", addr, back, ok, want(sender))
			}
		}
	}
	// Addresses signed with the older key are still accepted by both.
	older := &srs.Rewriter{Domain: "fwd.example", Keys: srs.Keys{[]byte(secrets[1])}}
	addr, _ := older.Forward("carol@origin.example")
	if back, ok := ps.Lookup(t, ps.Reverse, addr); !ok || back != "carol@origin.example" {
		t.Errorf("postsrsd, older key: %q (%v)", back, ok)
	}
	if back, err := ours.Reverse(addr); err != nil || back != "carol@origin.example" {
		t.Errorf("postern, older key: %q, %v", back, err)
	}
	// A forged hash is refused by both.
	forged := "SRS0=AAAA" + addr[len("SRS0=xxxx"):]
	if back, ok := ps.Lookup(t, ps.Reverse, forged); ok {
		t.Errorf("postsrsd took a forged address %q: %q", forged, back)
	}
	if _, err := ours.Reverse(forged); err == nil {
		t.Errorf("postern took a forged address %q", forged)
	}
}

// want is what reversing the address made for sender gives: the sender
// for SRS0, the first forwarder's SRS0 address for SRS1.
func want(sender string) string {
	if !strings.HasPrefix(sender, "SRS1=") {
		return sender
	}
	// SRS1=hash=host==rest@domain -> SRS0=rest@host
	a, _ := srs.ParseAddress(sender)
	return "SRS0" + a.User + "@" + a.Host
}

// crossedMidnight allows the two SRS0 addresses to differ when a new
// day (UTC) began between the two lookups.
func crossedMidnight(a, b string) bool {
	return strings.HasPrefix(a, "SRS0=") && a[13:] == b[13:] && time.Now().UTC().Hour() == 0
}
