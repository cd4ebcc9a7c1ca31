package config

import (
	"strings"
	"testing"
)

// A non-loopback admin listener needs TLS: the console's passwords and
// cookies must not cross the network in clear.
func TestAdminAddress(t *testing.T) {
	for _, tt := range []struct {
		conf string
		ok   bool
	}{
		{"", true},
		{"[admin]\naddress = \"\"\n", true},
		{"[admin]\naddress = \"127.0.0.1:9025\"\n", true},
		{"[admin]\naddress = \"127.0.0.2:9025\"\n", true},
		{"[admin]\naddress = \"[::1]:9025\"\n", true},
		{"[admin]\naddress = \"localhost:9025\"\n", true},
		{"[admin]\naddress = \"0.0.0.0:9025\"\n", false},
		{"[admin]\naddress = \":9025\"\n", false},
		{"[admin]\naddress = \"192.0.2.1:9025\"\n", false},
		{"[admin]\naddress = \"[::ffff:192.0.2.1]:9025\"\n", false},
		{"[admin]\naddress = \"admin.example.test:9025\"\n", false},
		{"[admin]\naddress = \"192.0.2.1:9025\"\ntls = true\n", true},
		{"[admin]\naddress = \":9025\"\ntls = true\n", true},
	} {
		_, _, err := Load(writeConfig(t, rateBase+tt.conf))
		if tt.ok && err != nil {
			t.Errorf("%q: %v", tt.conf, err)
		}
		if !tt.ok && (err == nil || !strings.Contains(err.Error(), "admin.tls = true") || !strings.Contains(err.Error(), "ssh -L")) {
			t.Errorf("%q: %v, want the fix named", tt.conf, err)
		}
	}
}
