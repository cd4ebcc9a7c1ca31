package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSRSDefaults(t *testing.T) {
	tests := []struct {
		name, conf string
		want       SRS
	}{
		// A configuration file has maps_dir (its own directory): it can forward.
		{"file", rateBase, SRS{Enabled: true, Domain: "mx.example.test", MaxAge: DefaultSRSMaxAge}},
		{"no maps, no forwarding", rateBase + "maps_dir = \"\"\n", SRS{Domain: "mx.example.test", MaxAge: DefaultSRSMaxAge}},
		{"luser_relay elsewhere", rateBase + "maps_dir = \"\"\n[delivery]\nluser_relay = \"catch@other.test\"\n",
			SRS{Enabled: true, Domain: "mx.example.test", MaxAge: DefaultSRSMaxAge}},
		{"forward_path", rateBase + "maps_dir = \"\"\n[delivery]\nforward_path = [\"$home/.forward\"]\n",
			SRS{Enabled: true, Domain: "mx.example.test", MaxAge: DefaultSRSMaxAge}},
		{"off", rateBase + "[srs]\nenabled = false\n", SRS{Domain: "mx.example.test", MaxAge: DefaultSRSMaxAge}},
		{"set", rateBase + "[srs]\ndomain = \"SRS.Example.Test.\"\nmax_age = \"240h\"\nexclude_domains = [\"Partner.Test\", \".lists.test\"]\n",
			SRS{Enabled: true, Domain: "srs.example.test", MaxAge: 240 * time.Hour, ExcludeDomains: []string{"partner.test", ".lists.test"}}},
	}
	for _, tt := range tests {
		c, _, err := Load(writeConfig(t, tt.conf))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(c.SRS, tt.want) {
			t.Errorf("%s: [srs] %+v, want %+v", tt.name, c.SRS, tt.want)
		}
	}
	c, _, err := Load("")
	if err != nil || c.SRS.Enabled || c.SRS.Domain != "localhost" {
		t.Errorf("embedded default (no maps): %+v, %v", c.SRS, err)
	}
}

func TestSRSBad(t *testing.T) {
	tests := []struct {
		conf, want string
		line       int
	}{
		{"[srs]\ndomain = \"bad..name\"\n", `srs.domain "bad..name": want a domain name`, 4},
		{"[srs]\ndomain = \"[192.0.2.1]\"\n", `srs.domain "[192.0.2.1]"`, 4},
		{"[srs]\nmax_age = \"36h\"\n", "srs.max_age must be whole days", 4},
		{"[srs]\nmax_age = \"2h\"\n", "srs.max_age must be whole days", 4},
		{"[srs]\nmax_age = \"24576h\"\n", "srs.max_age must be whole days", 4},
		{"[srs]\nexclude_domains = [\"ok.test\", \"bad..test\"]\n", `srs.exclude_domains: "bad..test"`, 4},
		{"[srs]\nenabled = \"yes\"\n", "srs.enabled must be true or false", 4},
		{"relay_domains = [\"relay.test\"]\n[srs]\ndomain = \"relay.test\"\n", "relay_domains: relay.test is the srs.domain", 3},
	}
	for _, tt := range tests {
		_, _, err := Load(writeConfig(t, rateBase+tt.conf))
		e, ok := err.(*Error)
		if !ok || len(e.Problems) != 1 || !strings.Contains(e.Problems[0].Msg, tt.want) || e.Problems[0].Line != tt.line {
			t.Errorf("%q: %v (want %q on line %d)", tt.conf, err, tt.want, tt.line)
		}
	}
}
