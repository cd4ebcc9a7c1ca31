package maps

import "testing"

// TestParseNetKeyIPv4 pins the IPv4 forms of parseNetKey: addresses,
// sendmail's octet prefixes, and keys that are not networks at all.
func TestParseNetKeyIPv4(t *testing.T) {
	tests := []struct {
		in, want string // want: the prefix, "name" when not a network, "error" when a bad one
	}{
		{"10", "10.0.0.0/8"},
		{"10.1", "10.1.0.0/16"},
		{"192.0.2", "192.0.2.0/24"},
		{"192.0.2.1", "192.0.2.1/32"},
		{"0", "0.0.0.0/8"},
		{"192.0.2.1.5", "name"},
		{"10..1", "name"},
		{"10.1.", "name"},
		{".10", "name"},
		{"", "name"},
		{"1000.1", "name"},
		{"10.a", "name"},
		{"163.com", "name"},
		{"256.1", "error"},
		{"10.01", "error"},
		{"00", "error"},
		{"+1", "1.0.0.0/8"},
		{"-1", "255.0.0.0/8"}, // strconv.Atoi takes a sign: kept as it always was
	}
	for _, tt := range tests {
		p, ok, err := parseNetKey(tt.in)
		got := p.String()
		switch {
		case err != nil:
			got = "error"
		case !ok:
			got = "name"
		}
		if got != tt.want {
			t.Errorf("parseNetKey(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
