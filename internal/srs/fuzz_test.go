package srs

import (
	"strings"
	"testing"
)

// FuzzParseAddress: any address parses or is refused without a panic;
// what parses writes back to the same parts; Reverse takes what
// ParseAddress refuses never, and what it gives back is an address.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{
		"SRS0=3vMX=BO=origin.example=Alice@fwd.example",
		"SRS1=Cgk+=fwd1.example==ABCD=XY=origin.example=alice@fwd.example",
		"srs0+hh=tt=d=user=with=equals", "SRS0==", "SRS1=a=b", "alice@fwd.example", "SRS0=a=b=c=d@e@f", "SRS0+0=0=0=@@",
	} {
		f.Add(s)
	}
	r := vectorRewriter(vectorKeys, vectorTime)
	f.Fuzz(func(t *testing.T, addr string) {
		a, perr := ParseAddress(addr)
		if perr == nil {
			again, err := ParseAddress(a.String())
			if err != nil || again != a {
				t.Fatalf("%q parsed as %+v, written %q, parsed again as %+v (%v)", addr, a, a.String(), again, err)
			}
		}
		orig, err := r.Reverse(addr)
		if err == nil {
			if perr != nil {
				t.Fatalf("Reverse took %q, which does not parse (%v)", addr, perr)
			}
			if !strings.Contains(orig, "@") {
				t.Fatalf("Reverse(%q) = %q, not an address", addr, orig)
			}
		}
	})
}

// FuzzForwardReverse: every sender that Forward rewrites comes back from
// Reverse as it was (SRS0), or as the SRS0 address it named (SRS1).
func FuzzForwardReverse(f *testing.F) {
	for _, s := range []string{"alice@origin.example", "First.Last+tag@Sub.Origin.example",
		"SRS0=ABCD=XY=origin.example=alice@fwd1.example", "SRS1=zz=fwd1.example==AB=XY=o=a@fwd2.example", "a=b@c"} {
		f.Add(s)
	}
	r := vectorRewriter(vectorKeys, vectorTime)
	f.Fuzz(func(t *testing.T, sender string) {
		out, err := r.Forward(sender)
		if err != nil || out == sender {
			return
		}
		if !r.Owns(out) {
			t.Fatalf("Forward(%q) = %q, not ours", sender, out)
		}
		back, err := r.Reverse(out)
		if err != nil {
			t.Fatalf("Reverse(Forward(%q) = %q): %v", sender, out, err)
		}
		local := localPart(sender)
		if isSRS, guarded := tagOf(local); isSRS {
			if !strings.HasPrefix(back, "SRS0") {
				t.Fatalf("%q -> %q -> %q: not an SRS0 address", sender, out, back)
			}
			// The tag comes back as "SRS0", whatever its case was.
			if !guarded && back[4:] != sender[4:] {
				t.Fatalf("%q -> %q -> %q", sender, out, back)
			}
			return
		}
		if back != sender {
			t.Fatalf("%q -> %q -> %q", sender, out, back)
		}
	})
}
