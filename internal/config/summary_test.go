package config

import (
	"strings"
	"testing"
	"time"
)

func TestSummary(t *testing.T) {
	good := map[string]Summary{
		rateBase: {Schedule: "off"},
		rateBase + "[summary]\nschedule = \"weekly\"\n": {Schedule: "weekly"},
		rateBase + "[summary]\nperiod = \"5m\"\n":       {Schedule: "off", Period: 5 * time.Minute},
	}
	for conf, want := range good {
		if c, _, err := Load(writeConfig(t, conf)); err != nil || c.Summary != want {
			t.Errorf("%q: [summary] %+v, %v; want %+v", conf, c.Summary, err, want)
		}
	}
	bad := map[string]string{
		"schedule = \"hourly\"": "summary.schedule must be",
		"period = \"10ms\"":     "summary.period must be at least 1s",
	}
	for conf, want := range bad {
		if _, _, err := Load(writeConfig(t, rateBase+"[summary]\n"+conf+"\n")); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", conf, err, want)
		}
	}
}
