package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestBackupMXGood(t *testing.T) {
	c, _, err := Load(writeConfig(t, rateBase+`
[[backup_mx]]
domain = "Example.ORG."

[[backup_mx]]
domain = "example.net"
verify = "maps"
callout_cache = "2h"
callout_negative_cache = "0s"
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []BackupMX{
		{Domain: "example.org", Verify: VerifyCallout, CalloutCache: Delay(time.Hour), CalloutNegativeCache: Delay(10 * time.Minute)},
		{Domain: "example.net", Verify: VerifyMaps, CalloutCache: Delay(2 * time.Hour)},
	}
	if !reflect.DeepEqual(c.BackupMX, want) {
		t.Errorf("got %+v\nwant %+v", c.BackupMX, want)
	}
}

func TestBackupMXBad(t *testing.T) {
	tests := []struct {
		conf, want string
		line       int
	}{
		{"[[backup_mx]]\nverify = \"maps\"\n", `backup_mx 1: domain "": want a domain name`, 3},
		{"[[backup_mx]]\ndomain = \"[192.0.2.1]\"\n", `want a domain name`, 4},
		{"[[backup_mx]]\ndomain = \"a.test\"\n[[backup_mx]]\ndomain = \"A.test\"\n", "backup_mx 2: a.test is listed twice", 6},
		{"local_domains = [\"here.test\"]\n[[backup_mx]]\ndomain = \"here.test\"\n", "here.test is a local domain", 5},
		{"[[backup_mx]]\ndomain = \"a.test\"\nverify = \"dns\"\n", `verify must be "callout" or "maps", not "dns"`, 5},
		{"maps_dir = \"\"\n[[backup_mx]]\ndomain = \"a.test\"\nverify = \"maps\"\n", `verify = "maps" needs a virtusertable`, 6},
		{"[[backup_mx]]\ndomain = \"a.test\"\ncallout_cache = \"200h\"\n", "callout_cache must be at most 168h0m0s", 5},
		{"[[backup_mx]]\ndomain = \"a.test\"\ncallout_negative_cache = \"25h\"\n", "callout_negative_cache must be at most 24h0m0s", 5},
	}
	for _, tt := range tests {
		_, _, err := Load(writeConfig(t, rateBase+tt.conf))
		e, ok := err.(*Error)
		if !ok || len(e.Problems) != 1 || !strings.Contains(e.Problems[0].Msg, tt.want) || e.Problems[0].Line != tt.line {
			t.Errorf("%q: %v (want %q on line %d)", tt.conf, err, tt.want, tt.line)
		}
	}
}
