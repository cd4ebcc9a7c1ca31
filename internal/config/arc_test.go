package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestARC(t *testing.T) {
	tests := []struct {
		name, conf string
		want       ARC
		err        string
	}{
		{"defaults", rateBase, ARC{Verify: true, SealDomain: "mx.example.test"}, ""},
		{"set", rateBase + "[arc]\ntrusted_sealers = [\"Lists.Example.NET.\", \"google.com\"]\nseal = true\nseal_domain = \"Example.Test\"\n",
			ARC{Verify: true, TrustedSealers: []string{"lists.example.net", "google.com"}, Seal: true, SealDomain: "example.test"}, ""},
		{"local domain", rateBase + "local_domains = [\"a.test\", \"b.test\"]\n", ARC{Verify: true, SealDomain: "a.test"}, ""},
		{"off", rateBase + "[arc]\nverify = false\n", ARC{SealDomain: "mx.example.test"}, ""},
		{"trusted without verify", rateBase + "[arc]\nverify = false\ntrusted_sealers = [\"lists.example.net\"]\n", ARC{}, "needs arc.verify"},
		{"bad sealer", rateBase + "[arc]\ntrusted_sealers = [\"192.0.2.1/24\"]\n", ARC{}, "not a domain name"},
		{"bad seal domain", rateBase + "[arc]\nseal_domain = \"a b\"\n", ARC{}, "arc.seal_domain"},
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
		if !reflect.DeepEqual(c.ARC, tt.want) {
			t.Errorf("%s: [arc] %+v, want %+v", tt.name, c.ARC, tt.want)
		}
	}
}
