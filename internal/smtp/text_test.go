package smtp

import "testing"

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"example.org", "example.org"},
		{"a\r\nX-Injected: 1", "aX-Injected: 1"},
		{"nul\x00byte", "nulbyte"},
		{"del\x7f", "del"},
		{"bad\xff\xfeutf8", "badutf8"},
		{"bücher", "bücher"},
		{"tab\there", "tabhere"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Printable(tt.in); got != tt.want {
			t.Errorf("Printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
