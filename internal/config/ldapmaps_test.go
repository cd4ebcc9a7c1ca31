package config

import (
	"strings"
	"testing"
	"time"
)

func TestLDAPMaps(t *testing.T) {
	const ok = "[ldap_maps]\nurl = \"ldap://127.0.0.1:389\"\nbase = \"dc=example,dc=org\"\nmaps = [\"access\", \"aliases\"]\n"
	tests := []struct {
		name, conf, err string
	}{
		{"none", rateBase, ""},
		{"loopback", rateBase + ok, ""},
		{"starttls", rateBase + "[ldap_maps]\nurl = \"ldap://ldap.example.org\"\nstart_tls = true\nbase = \"o=x\"\nmaps = [\"virtusertable\"]\nstale = \"10m\"\n", ""},
		{"ldaps", rateBase + "[ldap_maps]\nurl = \"ldaps://ldap.example.org:636\"\nbase = \"o=x\"\nmaps = [\"mailertable\"]\n", ""},
		{"clear text off loopback", rateBase + "[ldap_maps]\nurl = \"ldap://ldap.example.org\"\nbase = \"o=x\"\nmaps = [\"access\"]\n", "in clear"},
		{"starttls on ldaps", rateBase + "[ldap_maps]\nurl = \"ldaps://ldap.example.org\"\nstart_tls = true\nbase = \"o=x\"\nmaps = [\"access\"]\n", "ldaps:// is TLS already"},
		{"bad scheme", rateBase + "[ldap_maps]\nurl = \"http://x\"\nbase = \"o=x\"\nmaps = [\"access\"]\n", "want ldap://"},
		{"base in url", rateBase + "[ldap_maps]\nurl = \"ldap://127.0.0.1/dc=x\"\nbase = \"o=x\"\nmaps = [\"access\"]\n", "the base goes in"},
		{"no base", rateBase + "[ldap_maps]\nurl = \"ldap://127.0.0.1\"\nmaps = [\"access\"]\n", "base is required"},
		{"no maps", rateBase + "[ldap_maps]\nurl = \"ldap://127.0.0.1\"\nbase = \"o=x\"\n", "maps is empty"},
		{"unknown map", rateBase + "[ldap_maps]\nurl = \"ldap://127.0.0.1\"\nbase = \"o=x\"\nmaps = [\"sender-login\"]\n", "not in sendmail's LDAP schema"},
		{"maps without url", rateBase + "[ldap_maps]\nmaps = [\"access\"]\n", "url is not"},
		{"bind without password", rateBase + ok + "bind_dn = \"cn=x\"\n", "needs ldap_maps.password_file"},
		{"stale below refresh", rateBase + ok + "refresh = \"10m\"\nstale = \"1m\"\n", "must be at least ldap_maps.refresh"},
	}
	for _, tt := range tests {
		c, _, err := Load(writeConfig(t, tt.conf))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err %v, want %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if c.LDAPMaps.Refresh != 5*time.Minute || c.LDAPMaps.Timeout != 10*time.Second {
			t.Errorf("%s: defaults %+v", tt.name, c.LDAPMaps)
		}
	}
}

// TestPostgresMaps checks [postgres_maps] and [postgres_users].
func TestPostgresMaps(t *testing.T) {
	tests := []struct{ name, conf, err string }{
		{"loopback", "[postgres_maps]\nurl = \"postgres://postern@127.0.0.1:5432/mail\"\nmaps = [\"access\"]\n", ""},
		{"verified", "[postgres_maps]\nurl = \"postgres://postern@db.example.org/mail?sslmode=verify-full\"\nmaps = [\"aliases\"]\n", ""},
		{"unverified off loopback", "[postgres_maps]\nurl = \"postgres://postern@db.example.org/mail?sslmode=require\"\nmaps = [\"aliases\"]\n", "sslmode=verify-full"},
		{"two passwords", "[postgres_maps]\nurl = \"postgres://postern:pw@127.0.0.1/mail\"\npassword_file = \"/x\"\nmaps = [\"access\"]\n", "not both"},
		{"two sources", "[ldap_maps]\nurl = \"ldap://127.0.0.1\"\nbase = \"o=x\"\nmaps = [\"access\"]\n[postgres_maps]\nurl = \"postgres://postern@127.0.0.1/mail\"\nmaps = [\"access\"]\n", "one source"},
		{"bad scheme", "[postgres_maps]\nurl = \"mysql://x/y\"\nmaps = [\"access\"]\n", "want postgres://"},
		{"users on loopback", "[postgres_users]\nurl = \"postgres://postern@127.0.0.1:5432/mail\"\n", ""},
		{"users verified", "[postgres_users]\nurl = \"postgres://postern@db.example.org/mail?sslmode=verify-full\"\n", ""},
		{"users unverified off loopback", "[postgres_users]\nurl = \"postgres://postern@db.example.org/mail\"\n", "postgres_users.url is not on loopback"},
		{"users two passwords", "[postgres_users]\nurl = \"postgres://postern:pw@127.0.0.1/mail\"\npassword_file = \"/x\"\n", "not both"},
		{"users bad scheme", "[postgres_users]\nurl = \"mysql://x/y\"\n", "postgres_users.url: want postgres://"},
		{"users stale below refresh", "[postgres_users]\nurl = \"postgres://postern@127.0.0.1/mail\"\nrefresh = \"10m\"\nstale = \"5m\"\n", "at least postgres_users.refresh"},
	}
	for _, tt := range tests {
		_, _, err := Load(writeConfig(t, rateBase+tt.conf))
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%s: err %v, want %q", tt.name, err, tt.err)
		}
	}
}
