package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestMTASTSGood(t *testing.T) {
	c, warnings, err := Load(writeConfig(t, rateBase+`
[mta_sts]
outbound = "off"
policy_mode = "enforce"
mx = ["MX1.Example.Test.", "*.backup.example.test"]
max_age = "2400h"
listen = "127.0.0.1:8443"
`))
	if err != nil {
		t.Fatal(err)
	}
	want := MTASTS{Outbound: MTASTSOff, PolicyMode: "enforce",
		MX: []string{"mx1.example.test", "*.backup.example.test"}, MaxAge: 2400 * time.Hour, Listen: "127.0.0.1:8443"}
	if !reflect.DeepEqual(c.MTASTS, want) || !c.MTASTS.Serves() {
		t.Errorf("[mta_sts] %+v, want %+v", c.MTASTS, want)
	}
	for _, w := range warnings {
		if strings.Contains(w.Msg, "mta_sts") {
			t.Errorf("unexpected warning %v", w)
		}
	}
}

func TestMTASTSBad(t *testing.T) {
	tests := []struct {
		conf, want string
		line       int
	}{
		{"[mta_sts]\noutbound = \"testing\"\n", `mta_sts.outbound must be "enforce" or "off"`, 4},
		{"[mta_sts]\npolicy_mode = \"strict\"\n", "mta_sts.policy_mode must be enforce, testing or none", 4},
		{"[mta_sts]\nmax_age = \"9000h\"\n", "mta_sts.max_age must be from 1s to 8766h", 4},
		{"[mta_sts]\nmx = [\"bad..name\"]\n", `mta_sts.mx: "bad..name"`, 4},
		{"[mta_sts]\npolicy_mode = \"testing\"\nlisten = \"443\"\n", `mta_sts.listen "443"`, 5},
	}
	for _, tt := range tests {
		_, _, err := Load(writeConfig(t, rateBase+tt.conf))
		if err == nil {
			t.Errorf("%q: no error", tt.conf)
			continue
		}
		e, ok := err.(*Error)
		if !ok || len(e.Problems) != 1 || !strings.Contains(e.Problems[0].Msg, tt.want) || e.Problems[0].Line != tt.line {
			t.Errorf("%q: %v (want %q on line %d)", tt.conf, err, tt.want, tt.line)
		}
	}
}

func TestMTASTSShortMaxAgeWarns(t *testing.T) {
	_, warnings, err := Load(writeConfig(t, rateBase+"[mta_sts]\npolicy_mode = \"enforce\"\nmax_age = \"1h\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warnings {
		if strings.Contains(w.Msg, "under a day") {
			return
		}
	}
	t.Errorf("no warning for a one-hour max_age: %v", warnings)
}
