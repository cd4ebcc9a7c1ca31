package mailauth

import (
	"reflect"
	"testing"
)

func TestFromDomains(t *testing.T) {
	tests := []struct {
		values []string
		want   []string
	}{
		{[]string{"Alice <alice@Example.ORG>"}, []string{"example.org"}},
		{[]string{"alice@example.org."}, []string{"example.org"}},
		{[]string{"a@example.org, b@example.net"}, []string{"example.org", "example.net"}},
		{[]string{"a@example.org, B@EXAMPLE.org"}, []string{"example.org"}},
		{[]string{"a@example.org", "b@evil.example"}, []string{"example.org", "evil.example"}},
		// Not an address list: every @name counts.
		{[]string{`"PayPal" <service@paypal.example> <x@evil.example>`}, []string{"paypal.example", "evil.example"}},
		{[]string{"=?utf-8?q?Bank?= <a@bank.example"}, []string{"bank.example"}},
		{[]string{"undisclosed"}, nil},
		{nil, nil},
		{[]string{""}, nil},
	}
	for _, tc := range tests {
		if got := fromDomains(tc.values); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("fromDomains(%q) = %q, want %q", tc.values, got, tc.want)
		}
	}
}

func TestFromDomainsBounded(t *testing.T) {
	var v string
	for i := 0; i < 50; i++ {
		if i > 0 {
			v += ", "
		}
		v += "a@d" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ".example"
	}
	if got := fromDomains([]string{v}); len(got) != maxFromDomains {
		t.Errorf("%d domains, want the cap %d", len(got), maxFromDomains)
	}
}

func FuzzFromDomains(f *testing.F) {
	f.Add("Alice <alice@example.org>")
	f.Add("a@example.org, b@example.net")
	f.Add(`"x" <a@b.example> <c@d.example>`)
	f.Add("@\xff\x80.example")
	f.Fuzz(func(t *testing.T, v string) {
		for _, d := range fromDomains([]string{v}) {
			if d == "" {
				t.Fatalf("empty domain from %q", v)
			}
		}
	})
}
